/* The native inference runner (build/infer_<arch>.elf): the inference
 * engine of src/infer/ as a static Linux process without libc.
 *
 *   infer <checkpoint> <tokenizer> [--prompt TEXT] [--steps N]
 *         [--temperature T] [--topp P] [--seed N] [--variant generic|tuned]
 *         [--logits-file PATH] [--stop] [--quiet]
 *   infer --math <exp|log|sqrt|sin|cos|pow> <in> <out>
 *   infer --bandwidth <MiB> [--variant generic|tuned]
 *
 * Generation: the prompt is encoded (BOS first), fed position by position,
 * then `steps` tokens (default 64) are sampled (temperature 0, the default:
 * greedy; otherwise temperature and top-p, default 0.9, with the seeded
 * xorshift generator, seed default 1), each fed back except the last. So
 * prompt + steps - 1 forward passes, which must fit seq_len. --stop ends
 * early after a generated BOS or EOS. The text goes to standard output
 * (not with --quiet), then one line
 *   FLUID-INFER {"model":..,"tokenizer":..,"arch":..,"variant":..,
 *                "prompt_tokens":[..],"tokens":[..],"n":..,"forwards":..,
 *                "ns":..,"tok_per_s":..,"cpu_ns":..,"seed":..,"steps":..,"dim":..,
 *                "n_layers":..,"vocab_size":..,"seq_len":..,"arena_bytes":..}
 * `model` and `tokenizer` are the paths as given (run from the project root
 * with project-relative paths, they are project-relative), `tokens` the
 * generated ids, n their count, ns the time of the forward passes and the
 * sampling (not of reading files nor of writing logits), tok_per_s the
 * forward passes per second (prompt positions included: each is one token
 * through the model), cpu_ns the CPU time of the same work (the thread's
 * clock: on a shared machine, ns also counts the time other processes
 * had the CPU). --logits-file writes the logits of every forward
 * pass, vocab_size float32 each, in order.
 *
 * --math applies one kmath function to the float32 values of <in> (pairs x, y
 * for pow) and writes the float32 results to <out>: the accuracy test's
 * probe. --bandwidth sums a buffer of MiB mebibytes, as the matrix-vector
 * product streams its weights, and prints
 *   FLUID-BANDWIDTH {"bytes":..,"ns":..,"gb_per_s":..,"variant":..,"arch":..}
 * (the fastest of several passes, in 10^9 bytes per second).
 *
 * Exit status: 0 success, 1 bad input (a file that cannot be read, a
 * checkpoint or tokenizer the engine refuses, a prompt too long), 2 usage. */
#include "infer.h"
#include "program.h"
#include "infer_sys.h"
#include "klib.h"
#include "kmath.h"
#include "sys.h"
#include "text.h"

#define EXIT_OK 0
#define EXIT_INPUT 1
#define EXIT_USAGE 2
#define DEFAULT_STEPS 64
#define DEFAULT_TOPP 0.9f
#define DEFAULT_SEED 1
/* The checkpoint goes 36 bytes into its mapping: with the 28-byte header,
 * the weights start on a 64-byte boundary (whole cache lines per vector). */
#define CHECKPOINT_PAD (INFER_ARENA_ALIGN - INFER_HEADER_BYTES)
#define BANDWIDTH_PASSES 5
#define MSG_BYTES 1024

#if defined(__x86_64__)
#define RUNNER_ARCH "x86_64"
#else
#define RUNNER_ARCH "i386"
#endif

struct options {
    const char *checkpoint;
    const char *tokenizer;
    const char *prompt;
    uint32_t steps;
    float temperature;
    float topp;
    uint64_t seed;
    const struct infer_kernels *kernels;
    const char *logits_file;
    int stop;
    int quiet;
};

/* --- output ------------------------------------------------------------- */

static void say(const char *msg)
{
    sys_write(SYS_STDERR, msg, strlen(msg));
}

static void out_text(const struct text *t, int fd)
{
    sys_write_all(fd, t->buf, t->len);
}

/* "infer: <what>: <message> (<name>)<detail>\n" on standard error. */
static int fail_status(const char *what, int status, const char *detail)
{
    char buf[MSG_BYTES];
    struct text t = {buf, sizeof buf, 0};
    text_str(&t, "infer: ");
    text_str(&t, what);
    text_str(&t, ": ");
    text_str(&t, infer_status_message(status));
    text_str(&t, " (");
    text_str(&t, infer_status_name(status));
    text_str(&t, ")");
    text_str(&t, detail);
    text_char(&t, '\n');
    out_text(&t, SYS_STDERR);
    return EXIT_INPUT;
}

static int fail(const char *what, const char *message)
{
    char buf[MSG_BYTES];
    struct text t = {buf, sizeof buf, 0};
    text_str(&t, "infer: ");
    text_str(&t, what);
    text_str(&t, ": ");
    text_str(&t, message);
    text_char(&t, '\n');
    out_text(&t, SYS_STDERR);
    return EXIT_INPUT;
}

static int usage(void)
{
    say("usage: infer <checkpoint> <tokenizer> [--prompt TEXT] [--steps N] [--temperature T] [--topp P]\n"
        "             [--seed N] [--variant generic|tuned] [--logits-file PATH] [--stop] [--quiet]\n"
        "       infer --math <exp|log|sqrt|sin|cos|pow> <in> <out>\n"
        "       infer --bandwidth <MiB> [--variant generic|tuned]\n");
    return EXIT_USAGE;
}

/* A JSON string: quotes, backslashes and control bytes escaped; other
 * bytes as they are (paths are UTF-8). */
static void text_json_string(struct text *t, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    text_char(t, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            text_char(t, '\\');
            text_char(t, (char)c);
        } else if (c < 0x20) {
            text_str(t, "\\u00");
            text_char(t, hex[c >> 4]);
            text_char(t, hex[c & 15]);
        } else {
            text_char(t, (char)c);
        }
    }
    text_char(t, '"');
}

/* value / 1000 with three decimals. */
static void text_milli(struct text *t, uint64_t milli)
{
    text_u64(t, milli / 1000);
    text_char(t, '.');
    uint32_t frac = (uint32_t)(milli % 1000);
    text_char(t, (char)('0' + frac / 100));
    text_char(t, (char)('0' + frac / 10 % 10));
    text_char(t, (char)('0' + frac % 10));
}

static void text_key(struct text *t, const char *key)
{
    text_str(t, ",\"");
    text_str(t, key);
    text_str(t, "\":");
}

static void text_ids(struct text *t, const int32_t *ids, size_t n)
{
    text_char(t, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            text_char(t, ',');
        text_u64(t, (uint64_t)(uint32_t)ids[i]);
    }
    text_char(t, ']');
}

/* --- parsing ------------------------------------------------------------ */

static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        uint64_t digit = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

/* A non-negative decimal "12", "0.8", ".95" (at most 9 digits after the
 * point), rounded to the nearest float through double. */
static int parse_float(const char *s, float *out)
{
    uint32_t whole = 0, frac = 0, scale = 1;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        if (whole > 100000000u)
            return -1;
        whole = whole * 10 + (uint32_t)(*s - '0');
    }
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
            if (scale >= 1000000000u)
                return -1;
            frac = frac * 10 + (uint32_t)(*s - '0');
            scale *= 10;
        }
    }
    if (*s != '\0' || digits == 0)
        return -1;
    *out = (float)((double)whole + (double)frac / (double)scale);
    return 0;
}

static const struct infer_kernels *parse_variant(const char *s)
{
    if (strcmp(s, "generic") == 0)
        return &infer_kernels_generic;
    if (strcmp(s, "tuned") == 0)
        return &infer_kernels_tuned;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    if (argc < 3)
        return -1;
    o->checkpoint = argv[1];
    o->tokenizer = argv[2];
    o->prompt = "";
    o->steps = DEFAULT_STEPS;
    o->temperature = 0.0f;
    o->topp = DEFAULT_TOPP;
    o->seed = DEFAULT_SEED;
    o->kernels = &infer_kernels_tuned;
    o->logits_file = 0;
    o->stop = 0;
    o->quiet = 0;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--stop") == 0) {
            o->stop = 1;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
            continue;
        }
        if (i + 1 >= argc)
            return -1;
        const char *v = argv[++i];
        if (strcmp(a, "--prompt") == 0) {
            o->prompt = v;
        } else if (strcmp(a, "--steps") == 0) {
            if (text_parse_u32(v, &o->steps) || o->steps == 0)
                return -1;
        } else if (strcmp(a, "--temperature") == 0) {
            if (parse_float(v, &o->temperature))
                return -1;
        } else if (strcmp(a, "--topp") == 0) {
            if (parse_float(v, &o->topp))
                return -1;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_u64(v, &o->seed))
                return -1;
        } else if (strcmp(a, "--variant") == 0) {
            if (!(o->kernels = parse_variant(v)))
                return -1;
        } else if (strcmp(a, "--logits-file") == 0) {
            o->logits_file = v;
        } else {
            return -1;
        }
    }
    return 0;
}

/* --- files -------------------------------------------------------------- */

static int read_input(const char *what, const char *path, size_t pad, const uint8_t **data, size_t *bytes)
{
    long err = file_read_all(path, pad, data, bytes);
    if (err == 0)
        return 0;
    char buf[MSG_BYTES];
    struct text t = {buf, sizeof buf, 0};
    text_str(&t, "infer: ");
    text_str(&t, what);
    text_str(&t, " ");
    text_str(&t, path);
    text_str(&t, ": cannot read it (errno ");
    text_u64(&t, (uint64_t)-err);
    text_str(&t, ")\n");
    out_text(&t, SYS_STDERR);
    return -1;
}

/* The checks of infer_init, one by one, with the figures in the message. */
static int check_inputs(const struct options *o, const uint8_t *ck, size_t ck_bytes, const uint8_t *tok,
                        size_t tok_bytes, struct infer_config *config)
{
    char detail[256];
    struct text d = {detail, sizeof detail - 1, 0};
    int status = infer_read_config(ck, ck_bytes, config);
    if (status == INFER_ERR_TRUNCATED || status == INFER_ERR_SIZE_MISMATCH) {
        struct infer_config c;
        infer_read_header(ck, &c);
        text_str(&d, ": the file has ");
        text_u64(&d, ck_bytes);
        text_str(&d, " bytes, its header's sizes need ");
        text_u64(&d, infer_checkpoint_bytes(&c));
    }
    detail[d.len] = '\0';
    if (status != INFER_OK)
        return fail_status(o->checkpoint, status, detail);
    uint32_t count;
    status = infer_tokenizer_tokens(tok, tok_bytes, &count);
    if (status != INFER_OK)
        return fail_status(o->tokenizer, status, "");
    if (count != (uint32_t)config->vocab_size) {
        d.len = 0;
        text_str(&d, ": the tokenizer has ");
        text_u64(&d, count);
        text_str(&d, " tokens, the checkpoint's vocab_size is ");
        text_u64(&d, (uint64_t)config->vocab_size);
        detail[d.len] = '\0';
        return fail_status(o->tokenizer, INFER_ERR_VOCAB_MISMATCH, detail);
    }
    return EXIT_OK;
}

/* --- generation --------------------------------------------------------- */

static void write_piece(const struct infer *m, int32_t prev, int32_t token)
{
    size_t len;
    const uint8_t *p = infer_decode(m, prev, token, &len);
    sys_write_all(SYS_STDOUT, p, len);
}

static int generate(const struct options *o)
{
    const uint8_t *ck, *tok;
    size_t ck_bytes, tok_bytes;
    if (read_input("checkpoint", o->checkpoint, CHECKPOINT_PAD, &ck, &ck_bytes) ||
        read_input("tokenizer", o->tokenizer, 0, &tok, &tok_bytes))
        return EXIT_INPUT;
    struct infer_config config;
    int status = check_inputs(o, ck, ck_bytes, tok, tok_bytes, &config);
    if (status != EXIT_OK)
        return status;
    size_t arena_bytes = infer_mem_bytes(&config);
    void *arena = arena_bytes ? map_huge(arena_bytes) : 0;
    if (!arena)
        return fail(o->checkpoint, "cannot map the engine's arena");
    static struct infer model;
    status = infer_init(&model, ck, ck_bytes, tok, tok_bytes, arena, arena_bytes, o->kernels);
    if (status != INFER_OK)
        return fail_status(o->checkpoint, status, "");

    size_t prompt_len = strlen(o->prompt);
    size_t max_prompt = 2 * (prompt_len + 3); /* infer_encode's scratch included */
    size_t max_out = (size_t)o->steps;
    int32_t *prompt = sys_map_anon((max_prompt + max_out) * sizeof(int32_t));
    if (!prompt)
        return fail("prompt", "cannot map the token buffers");
    int32_t *out = prompt + max_prompt;
    size_t n_prompt;
    status = infer_encode(&model, o->prompt, prompt_len, 1, 0, prompt, max_prompt, &n_prompt);
    if (status != INFER_OK)
        return fail_status("prompt", status, "");
    uint64_t forwards = (uint64_t)n_prompt + o->steps - 1;
    if (forwards > (uint64_t)config.seq_len) {
        char detail[160];
        struct text d = {detail, sizeof detail - 1, 0};
        text_str(&d, "the prompt's ");
        text_u64(&d, n_prompt);
        text_str(&d, " tokens and ");
        text_u64(&d, o->steps);
        text_str(&d, " steps need ");
        text_u64(&d, forwards);
        text_str(&d, " positions, the model has seq_len ");
        text_u64(&d, (uint64_t)config.seq_len);
        detail[d.len] = '\0';
        return fail("prompt", detail);
    }
    struct infer_sampler sampler;
    if (infer_sampler_init(&sampler, o->temperature, o->topp, o->seed) != INFER_OK)
        return fail("sampler", "temperature or top-p out of range");
    float *logits = 0;
    size_t vocab = (size_t)config.vocab_size;
    if (o->logits_file) {
        /* forwards <= seq_len: the product overflows a 32-bit size_t only for a huge model */
        if (forwards > (size_t)-1 / sizeof(float) / vocab ||
            !(logits = sys_map_anon((size_t)forwards * vocab * sizeof(float))))
            return fail(o->logits_file, "cannot map the logits buffer");
    }

    /* The whole generation is one call, timed by two reads of each clock;
     * the output (text, logits) is written after it. */
    struct infer_run run = {.prompt = prompt, .n_prompt = n_prompt, .steps = o->steps, .sampler = &sampler,
                            .tokens = out, .logits = logits, .stop = o->stop};
    uint64_t cpu_start = thread_cpu_ns(), start = sys_monotonic_ns();
    status = infer_generate(&model, &run);
    uint64_t ns = sys_monotonic_ns() - start;
    uint64_t cpu_ns = thread_cpu_ns() - cpu_start;
    if (status != INFER_OK)
        return fail_status("generation", status, "");
    size_t n = run.n, fed = run.forwards;
    if (logits) {
        long fd = sys_open(o->logits_file, SYS_O_WRONLY | SYS_O_CREAT | SYS_O_TRUNC, SYS_FILE_MODE);
        if (fd < 0)
            return fail(o->logits_file, "cannot create the logits file");
        if (sys_write_all((int)fd, logits, fed * vocab * sizeof(float)) != 0 ||
            sys_close((int)fd) != 0)
            return fail(o->logits_file, "cannot write the logits");
    }
    if (!o->quiet) {
        for (size_t i = 1; i < n_prompt; i++)
            write_piece(&model, prompt[i - 1], prompt[i]);
        for (size_t i = 0; i < n; i++)
            write_piece(&model, i ? out[i - 1] : prompt[n_prompt - 1], out[i]);
        sys_write_all(SYS_STDOUT, "\n", 1);
    }

    size_t line_bytes = 4096 + 12 * (n_prompt + n) + 2 * strlen(o->checkpoint) + 2 * strlen(o->tokenizer);
    char *buf = sys_map_anon(line_bytes);
    if (!buf)
        return fail("output", "cannot map the line buffer");
    struct text t = {buf, line_bytes, 0};
    text_str(&t, "FLUID-INFER {\"model\":");
    text_json_string(&t, o->checkpoint);
    text_key(&t, "tokenizer");
    text_json_string(&t, o->tokenizer);
    text_key(&t, "arch");
    text_str(&t, "\"" RUNNER_ARCH "\"");
    text_key(&t, "variant");
    text_json_string(&t, model.kernels->variant);
    text_key(&t, "prompt_tokens");
    text_ids(&t, prompt, n_prompt);
    text_key(&t, "tokens");
    text_ids(&t, out, n);
    text_key(&t, "n");
    text_u64(&t, n);
    text_key(&t, "forwards");
    text_u64(&t, fed);
    text_key(&t, "ns");
    text_u64(&t, ns);
    text_key(&t, "tok_per_s");
    text_milli(&t, ns ? kmuldiv64(fed, 1000000000000ull, ns) : 0); /* forwards/s * 1000 */
    text_key(&t, "cpu_ns");
    text_u64(&t, cpu_ns);
    text_key(&t, "seed");
    text_u64(&t, o->seed);
    text_key(&t, "steps");
    text_u64(&t, o->steps);
    text_key(&t, "dim");
    text_u64(&t, (uint64_t)config.dim);
    text_key(&t, "n_layers");
    text_u64(&t, (uint64_t)config.n_layers);
    text_key(&t, "vocab_size");
    text_u64(&t, (uint64_t)config.vocab_size);
    text_key(&t, "seq_len");
    text_u64(&t, (uint64_t)config.seq_len);
    text_key(&t, "arena_bytes");
    text_u64(&t, arena_bytes);
    text_str(&t, "}\n");
    out_text(&t, SYS_STDOUT);
    return EXIT_OK;
}

/* --- probes ------------------------------------------------------------- */

static int math_probe(int argc, char **argv)
{
    if (argc != 5)
        return usage();
    const char *fn = argv[2];
    int pairs = strcmp(fn, "pow") == 0;
    if (!pairs && strcmp(fn, "exp") && strcmp(fn, "log") && strcmp(fn, "sqrt") && strcmp(fn, "sin") &&
        strcmp(fn, "cos"))
        return usage();
    const uint8_t *in;
    size_t bytes;
    if (read_input("input", argv[3], 0, &in, &bytes))
        return EXIT_INPUT;
    size_t stride = pairs ? 2 : 1;
    if (bytes % (4 * stride))
        return fail(argv[3], "not a whole number of float32 values");
    size_t n = bytes / (4 * stride);
    const float *x = (const float *)in;
    float *y = sys_map_anon(n * sizeof(float) + 1);
    if (!y)
        return fail(argv[3], "cannot map the output");
    for (size_t i = 0; i < n; i++) {
        float v = x[i * stride];
        switch (fn[0] == 's' ? fn[1] : fn[0]) {
        case 'e': y[i] = kexpf(v); break;
        case 'l': y[i] = klogf(v); break;
        case 'q': y[i] = ksqrtf(v); break; /* sqrt */
        case 'i': y[i] = ksinf(v); break;  /* sin */
        case 'c': y[i] = kcosf(v); break;
        default: y[i] = kpowf(v, x[i * stride + 1]); break;
        }
    }
    long fd = sys_open(argv[4], SYS_O_WRONLY | SYS_O_CREAT | SYS_O_TRUNC, SYS_FILE_MODE);
    if (fd < 0 || sys_write_all((int)fd, y, n * sizeof(float)) != 0 || sys_close((int)fd) != 0)
        return fail(argv[4], "cannot write the output");
    return EXIT_OK;
}

static int bandwidth_probe(int argc, char **argv)
{
    uint32_t mib;
    const struct infer_kernels *k = &infer_kernels_tuned;
    if (argc != 3 && argc != 5)
        return usage();
    if (text_parse_u32(argv[2], &mib) || mib == 0 || mib > 2048)
        return usage();
    if (argc == 5 && (strcmp(argv[3], "--variant") != 0 || !(k = parse_variant(argv[4]))))
        return usage();
    size_t n = (size_t)mib << 18; /* floats */
    float *p = map_huge(n * sizeof(float)); /* as the model's weights */
    if (!p)
        return fail("bandwidth", "cannot map the buffer");
    for (size_t i = 0; i < n; i++)
        p[i] = 1.0f;
    uint64_t best = 0;
    float sum = 0.0f;
    for (int pass = 0; pass < BANDWIDTH_PASSES; pass++) {
        uint64_t t0 = sys_monotonic_ns();
        sum += k->stream_sum(p, n);
        uint64_t ns = sys_monotonic_ns() - t0;
        if (pass == 0 || ns < best)
            best = ns;
    }
    if (sum <= 0.0f) /* keeps the sums alive */
        return fail("bandwidth", "the buffer did not sum up");
    uint64_t bytes = (uint64_t)n * sizeof(float);
    char buf[MSG_BYTES];
    struct text t = {buf, sizeof buf, 0};
    text_str(&t, "FLUID-BANDWIDTH {\"bytes\":");
    text_u64(&t, bytes);
    text_key(&t, "ns");
    text_u64(&t, best);
    text_key(&t, "gb_per_s");
    text_milli(&t, best ? kmuldiv64(bytes, 1000, best) : 0); /* bytes/ns = GB/s */
    text_key(&t, "variant");
    text_json_string(&t, k->variant);
    text_key(&t, "arch");
    text_str(&t, "\"" RUNNER_ARCH "\"}\n");
    out_text(&t, SYS_STDOUT);
    return EXIT_OK;
}

int program_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--math") == 0)
        return math_probe(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "--bandwidth") == 0)
        return bandwidth_probe(argc, argv);
    struct options o;
    if (parse_options(argc, argv, &o))
        return usage();
    return generate(&o);
}
