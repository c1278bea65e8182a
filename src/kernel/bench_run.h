/* Running the benchmark registry and reporting results. */
#ifndef FLUID_BENCH_RUN_H
#define FLUID_BENCH_RUN_H

/* Runs every bench_registry entry with the variant measured fastest on
 * this CPU (dispatch_select) and prints, per entry, a summary line on
 * screen and one FLUID-BENCH line on serial:
 *
 *   FLUID-BENCH {"name":"matrix_mul","variant":"avx2",
 *     "size":256,"iterations":10,"cycles":...,"ns":...,"work":...,
 *     "unit":"flop","throughput_milli":...,"throughput_unit":"flop/s",
 *     "checksum":"0x...","candidates":[{"variant":"generic","cycles":...},
 *     {"variant":"avx2","cycles":...}],"chosen_by":"measured","trial_size":48,
 *     "select_us":...}
 *
 * cycles, ns and work cover all `iterations` timed run() calls together
 * (the warm-up run is not counted); throughput_milli is work per second
 * times 1000, in integers. `variant` is the level name of the variant that
 * ran; `candidates` every eligible variant's fastest run at `trial_size`
 * (with "dropped":"checksum" and its checksum when it disagreed);
 * `select_us` the TSC time the whole selection took. */
void bench_run_all(void);

#endif
