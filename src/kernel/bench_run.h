/* Running the benchmark registry and reporting results. */
#ifndef FLUID_BENCH_RUN_H
#define FLUID_BENCH_RUN_H

/* Runs every bench_registry entry with its dispatched variant and prints,
 * per entry, a summary line on screen and one FLUID-BENCH line on serial:
 *
 *   FLUID-BENCH {"name":"matrix_mul","variant":"matrix_mul_AVX2",
 *     "size":256,"iterations":10,"cycles":...,"ns":...,"work":...,
 *     "unit":"flop","throughput_milli":...,"throughput_unit":"flop/s",
 *     "checksum":"0x..."}
 *
 * cycles, ns and work cover all `iterations` timed run() calls together
 * (the warm-up run is not counted); throughput_milli is work per second
 * times 1000, in integers. `variant` is <name>_<cpu_tag> for the tuned
 * build, <name>_generic otherwise. */
void bench_run_all(const char *cpu_tag);

#endif
