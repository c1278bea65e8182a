/* The native runner's main program (the executable build/native_<arch>/runner):
 *
 * runner <name> <generic|tuned> <size|-> <iterations|-> [--seed N]
 *        [--input-file PATH] [--dump-file PATH]
 *
 * Maps an arena, runs setup() (then replaces the input region with the
 * content of --input-file, if given), one untimed warm-up run(), then
 * `iterations` timed run() calls, writes the --dump-file (regionio.h), and
 * prints one FLUID-BENCH line with the kernel's fields (the schema of
 * src/protocol/protocol.toml) followed by the runner's own optional ones:
 *   FLUID-BENCH {"name":..,"variant":..,"size":..,"iterations":..,"cycles":..,
 *                "ns":..,"work":..,"unit":..,"throughput_milli":..,
 *                "throughput_unit":"<unit>/s","checksum":"0x...",
 *                "arch":..,"min_ns":..,"median_ns":..}
 * As in the kernel's lines, cycles (TSC ticks), ns and work cover all timed
 * iterations together and throughput_milli is work per second times 1000;
 * min_ns is the fastest single run(), median_ns the median one (of the first
 * RUNNER_SAMPLES runs). A size or iteration count of "-" takes the registry's
 * value (for the size: the benchmark's default_size if the registry has 0). */
#include "bench.h"
#include "program.h"
#include "klib.h"
#include "profile.h"
#include "regionio.h"
#include "sys.h"
#include "text.h"
#include "tsc.h"

#define EXIT_OK 0
#define EXIT_USAGE 2
#define EXIT_FAILED 1
#define LINE_BYTES 512
#define MILLI_PER_SECOND_PER_NS 1e12 /* work/ns * 1e9 ns/s * 1000 milli */

#if defined(__x86_64__)
#define RUNNER_ARCH "x86_64"
#else
#define RUNNER_ARCH "i386"
#endif

/* Single run() times (TSC cycles) kept for the median: the first 2^20
 * (8 MiB of BSS, untouched until used). */
#define RUNNER_SAMPLES (1u << 20)
#define RUNNER_CALIBRATION_NS 10000000u /* 10 ms: a 0.01 % rate estimate */
#define RUNNER_PAIR_NS 20000u /* clock reads further apart were interrupted */

/* Size or iteration count "-": the registry's value. */
#define FROM_REGISTRY 0xffffffffu

struct options {
    const char *name;
    const char *variant;
    uint32_t size;
    uint32_t iterations;
    uint32_t seed;
    const char *input_file;
    const char *dump_file;
};

struct timing {
    uint64_t cycles;
    uint64_t ns;
    uint64_t min_ns;
    uint64_t median_ns;
};

static uint64_t samples[RUNNER_SAMPLES];

static void say(const char *msg)
{
    sys_write(SYS_STDERR, msg, strlen(msg));
}

static int usage(void)
{
    say("usage: runner <name> <generic|tuned> <size|-> <iterations|-> [--seed N] "
        "[--input-file PATH] [--dump-file PATH]\n");
    return EXIT_USAGE;
}

static int parse_count(const char *arg, uint32_t *out)
{
    if (strcmp(arg, "-") == 0) {
        *out = FROM_REGISTRY;
        return 0;
    }
    return text_parse_u32(arg, out) || *out == FROM_REGISTRY;
}

static int parse_options(int argc, char **argv, struct options *opt)
{
    if (argc < 5)
        return -1;
    opt->name = argv[1];
    opt->variant = argv[2];
    opt->seed = BENCH_DEFAULT_SEED;
    opt->input_file = 0;
    opt->dump_file = 0;
    if (parse_count(argv[3], &opt->size) || parse_count(argv[4], &opt->iterations))
        return -1;
    for (int i = 5; i < argc; i += 2) {
        if (i + 1 >= argc)
            return -1;
        if (strcmp(argv[i], "--seed") == 0) {
            if (text_parse_u32(argv[i + 1], &opt->seed))
                return -1;
        } else if (strcmp(argv[i], "--input-file") == 0) {
            opt->input_file = argv[i + 1];
        } else if (strcmp(argv[i], "--dump-file") == 0) {
            opt->dump_file = argv[i + 1];
        } else {
            return -1;
        }
    }
    return 0;
}

static const struct bench_entry *find_entry(const char *name)
{
    for (uint32_t i = 0; i < bench_registry_count; i++)
        if (strcmp(bench_registry[i].name, name) == 0)
            return &bench_registry[i];
    return 0;
}

/* The k-th smallest of v[0..n-1] (Hoare's selection; reorders v). */
static uint64_t select_kth(uint64_t *v, uint32_t n, uint32_t k)
{
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint64_t pivot = v[lo + (hi - lo) / 2];
        uint32_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                uint64_t swap = v[i];
                v[i++] = v[j];
                v[j] = swap;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return v[k];
}

/* A TSC reading and the monotonic time at that moment: the midpoint of two
 * clock reads around it, retried until they are close, so a preemption
 * between the reads cannot skew the pair. */
static void tsc_and_ns(uint64_t *cycles, uint64_t *ns)
{
    uint64_t before, after;
    do {
        before = sys_monotonic_ns();
        *cycles = tsc_read();
        after = sys_monotonic_ns();
    } while (after - before > RUNNER_PAIR_NS);
    *ns = before + (after - before) / 2;
}

/* Nanoseconds per TSC cycle, measured against the monotonic clock over
 * RUNNER_CALIBRATION_NS. Single runs are timed in TSC cycles alone: reading
 * the clock costs a system call here (no libc, no vDSO), which would add
 * about a hundred nanoseconds to every run. */
static double tsc_ns_per_cycle(void)
{
    uint64_t c0, ns0, c1, ns1;
    tsc_and_ns(&c0, &ns0);
    do
        tsc_and_ns(&c1, &ns1);
    while (ns1 - ns0 < RUNNER_CALIBRATION_NS);
    return (double)(ns1 - ns0) / (double)(c1 - c0);
}

/* The fastest of v[0..n-1]. */
static uint64_t smallest(const uint64_t *v, uint32_t n)
{
    uint64_t min = ~(uint64_t)0;
    for (uint32_t i = 0; i < n; i++)
        if (v[i] < min)
            min = v[i];
    return min;
}

/* The runs are timed by the profiler runtime's loop, the one the kernel and
 * the JIT time their benchmarks with, RUNNER_SAMPLES runs at a time. */
static struct timing time_runs(const struct bench_desc *desc, void *arena, uint32_t size,
                               uint32_t iterations)
{
    struct timing t = {0, 0, 0, 0};
    double ns_per_cycle = tsc_ns_per_cycle();
    desc->run(arena, size); /* warm caches and page in the arena */
    uint64_t ns0 = sys_monotonic_ns();
    uint32_t kept = iterations < RUNNER_SAMPLES ? iterations : RUNNER_SAMPLES;
    t.cycles = fluid_prof_time_runs(desc->run, arena, size, kept, samples);
    uint64_t min_cycles = smallest(samples, kept);
    uint64_t median_cycles = kept ? select_kth(samples, kept, kept / 2) : 0;
    for (uint32_t done = kept, chunk; done < iterations; done += chunk) {
        chunk = iterations - done < RUNNER_SAMPLES ? iterations - done : RUNNER_SAMPLES;
        t.cycles += fluid_prof_time_runs(desc->run, arena, size, chunk, samples);
        uint64_t chunk_min = smallest(samples, chunk);
        if (chunk_min < min_cycles)
            min_cycles = chunk_min;
    }
    t.ns = sys_monotonic_ns() - ns0;
    if (iterations > 0) {
        t.min_ns = (uint64_t)((double)min_cycles * ns_per_cycle);
        t.median_ns = (uint64_t)((double)median_cycles * ns_per_cycle);
    }
    return t;
}

static void key(struct text *line, const char *name, int first)
{
    text_str(line, first ? "{\"" : ",\"");
    text_str(line, name);
    text_str(line, "\":");
}

static void key_str(struct text *line, const char *name, const char *value)
{
    key(line, name, 0);
    text_char(line, '"');
    text_str(line, value);
    text_char(line, '"');
}

static void key_u64(struct text *line, const char *name, uint64_t value)
{
    key(line, name, 0);
    text_u64(line, value);
}

static void report(const struct options *opt, const struct bench_desc *desc,
                   const struct timing *t, uint64_t checksum)
{
    char buf[LINE_BYTES];
    struct text line = {buf, sizeof buf, 0};
    uint64_t work = desc->work(opt->size) * opt->iterations;
    uint64_t throughput_milli =
        t->ns ? (uint64_t)((double)work * MILLI_PER_SECOND_PER_NS / (double)t->ns) : 0;
    text_str(&line, "FLUID-BENCH ");
    key(&line, "name", 1);
    text_char(&line, '"');
    text_str(&line, desc->name);
    text_char(&line, '"');
    key_str(&line, "variant", opt->variant);
    key_u64(&line, "size", opt->size);
    key_u64(&line, "iterations", opt->iterations);
    key_u64(&line, "cycles", t->cycles);
    key_u64(&line, "ns", t->ns);
    key_u64(&line, "work", work);
    key_str(&line, "unit", desc->unit);
    key_u64(&line, "throughput_milli", throughput_milli);
    key(&line, "throughput_unit", 0);
    text_char(&line, '"');
    text_str(&line, desc->unit);
    text_str(&line, "/s\"");
    key(&line, "checksum", 0);
    text_char(&line, '"');
    text_hex64(&line, checksum);
    text_char(&line, '"');
    key_str(&line, "arch", RUNNER_ARCH);
    key_u64(&line, "min_ns", t->min_ns);
    key_u64(&line, "median_ns", t->median_ns);
    text_str(&line, "}\n");
    sys_write(SYS_STDOUT, line.buf, line.len);
}

/* bench.h: above max_size the arena's size and offsets wrap around the i386
 * size_t and run() would write past the arena, so such a size is refused
 * (with a message) before anything is allocated. */
static int size_refused(const struct bench_desc *desc, uint32_t size)
{
    char buf[LINE_BYTES];
    struct text msg = {buf, sizeof buf, 0};
    if (size <= desc->max_size)
        return 0;
    text_str(&msg, "runner: ");
    text_str(&msg, desc->name);
    text_str(&msg, " size ");
    text_u64(&msg, size);
    text_str(&msg, " is above its limit ");
    text_u64(&msg, desc->max_size);
    text_str(&msg, " (BENCH_MAX_SIZE)\n");
    sys_write(SYS_STDERR, msg.buf, msg.len);
    return 1;
}

int program_main(int argc, char **argv)
{
    struct options opt;
    if (parse_options(argc, argv, &opt))
        return usage();
    const struct bench_entry *entry = find_entry(opt.name);
    if (!entry) {
        say("runner: unknown benchmark\n");
        return EXIT_USAGE;
    }
    const struct bench_desc *desc;
    if (strcmp(opt.variant, "generic") == 0)
        desc = entry->generic;
    else if (strcmp(opt.variant, "tuned") == 0)
        desc = entry->tuned;
    else
        return usage();
    if (opt.size == FROM_REGISTRY)
        opt.size = entry->size ? entry->size : desc->default_size;
    if (opt.iterations == FROM_REGISTRY)
        opt.iterations = entry->iterations;
    if (size_refused(desc, opt.size))
        return EXIT_USAGE;

    size_t bytes = desc->mem_bytes(opt.size);
    void *arena = sys_map_anon(bytes ? bytes : 1);
    if (!arena) {
        say("runner: cannot map the arena\n");
        return EXIT_FAILED;
    }
    struct bench_region input, output;
    desc->regions(opt.size, &input, &output);
    desc->setup(arena, opt.size, opt.seed);
    if (opt.input_file && region_load(opt.input_file, arena, &input)) {
        say("runner: input file missing or not the size of the input region\n");
        return EXIT_FAILED;
    }
    struct timing t = time_runs(desc, arena, opt.size, opt.iterations);
    report(&opt, desc, &t, desc->checksum(arena, opt.size));
    if (opt.dump_file && region_dump(opt.dump_file, arena, &input, &output)) {
        say("runner: cannot write the dump file\n");
        return EXIT_FAILED;
    }
    return EXIT_OK;
}
