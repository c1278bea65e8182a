/* regex_dfa: grep-style line matching of a generated web-server log with a
 * table-driven DFA.
 *
 * setup() compiles RX_PATTERN: a recursive-descent parser builds a Thompson
 * NFA, the subset construction turns it into a DFA over byte classes (bytes
 * no part of the pattern tells apart share a column), and the table holds
 * premultiplied row offsets so one step is one load: s = table[s + cls[b]].
 * A line matches when the whole line (without its '\n') is in the pattern's
 * language, as Python's re.fullmatch on each line. run() cuts the corpus at
 * line boundaries into RX_STREAMS parts scanned as interleaved streams; the
 * two rare events are special states at the end of the numbering, so a step
 * tests one compare:
 *   DEAD      no match is possible on this line: skip to the next '\n'
 *             (vector compares where the target has them);
 *   NL_MATCH  a '\n' ended a matching line: record the line's start offset.
 * NL_MATCH's row is the start state's, so the scan continues without reset.
 *
 * Pattern syntax: literals, '.', [...] classes with ranges, \d \w \s,
 * \ before punctuation, ( ), |, * + ? {m} {m,} {m,n} (one quantifier per
 * atom). Nothing matches '\n'.
 *
 * Arena: the corpus (size bytes, '\n'-terminated lines), the result (u32
 * match count, then the u32 start offsets of the first size/16 + 1 matching
 * lines), the other streams' offsets, then the compiled DFA and the
 * compiler's workspace. */
#include "bench.h"
#include "bench_util.h"
#include "klib.h"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

/* Error or warning lines of a failed request that took at least 100 ms. */
#define RX_PATTERN                                                                     \
    "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} (ERROR|WARN) \\[[a-z]+-\\d{1,2}\\] " \
    "(GET|POST|PUT|DELETE) /.* status=5\\d\\d latency=\\d{3,}ms( user=\\w+)?"

#define RX_MAX_NFA 512      /* NFA states */
#define RX_MAX_DFA 250      /* DFA states, plus the two special ones */
#define RX_BYTES 256
#define RX_WORD_BITS 32
#define RX_BYTE_WORDS (RX_BYTES / RX_WORD_BITS)
#define RX_NFA_WORDS (RX_MAX_NFA / RX_WORD_BITS)
#define RX_NONE 0xffffu
#define RX_LINE_MAX 192     /* longest generated line */
#define RX_MATCH_SLOTS_DIV 16 /* offsets kept: size / 16 + 1 */
#define RX_NEWLINE '\n'
/* Interleaved scan streams: each DFA step waits on its table load, so
 * independent streams fill the core; each costs about three registers
 * (position, end, state), which 32-bit x86 has few of. */
#if defined(__x86_64__)
#define RX_STREAMS 4
#else
#define RX_STREAMS 2
#endif

/* The largest corpus: 1 GiB. The arena takes up to twice the corpus (the
 * match offsets of every stream add up to size / 16 * 4 * RX_STREAMS bytes,
 * then the DFA and the workspace): 2.0 GiB here, just over 4 GiB, the i386
 * size_t, for a 2 GiB corpus. */
#define BENCH_MAX_SIZE 1073741824

enum { RX_STREAM_CORPUS = 1 };
enum rx_kind { RX_EPS, RX_SPLIT, RX_SET, RX_MATCH };

struct rx_nstate {
    uint16_t kind, out, out2;
    uint32_t set[RX_BYTE_WORDS]; /* RX_SET: the bytes it consumes */
};

struct rx_frag {
    uint16_t start, end; /* end: an RX_EPS state whose out is still open */
};

struct rx_parser {
    const char *pat;
    uint32_t pos;
    int error;
    uint32_t count;
    struct rx_nstate *st;
};

/* The compiled matcher, read by run(). */
struct rx_dfa {
    uint32_t start;    /* row offsets: state index * classes */
    uint32_t special;  /* offsets >= this are DEAD or NL_MATCH */
    uint32_t dead;
    uint32_t nl_match;
    uint32_t nl_class;
    uint8_t cls[RX_BYTES];
    uint16_t table[(RX_MAX_DFA + 2) * RX_BYTES];
};

/* Only needed while setup() compiles. */
struct rx_workspace {
    struct rx_nstate nfa[RX_MAX_NFA];
    uint32_t sets[RX_MAX_DFA][RX_NFA_WORDS];
    uint8_t accepting[RX_MAX_DFA];
    uint16_t trans[RX_MAX_DFA][RX_BYTES]; /* provisional ids */
    uint16_t stack[RX_MAX_NFA];
    uint8_t rep[RX_BYTES];                /* a byte of each class */
};

/* --- layout ----------------------------------------------------------- */

static uint32_t rx_slots(uint32_t size)
{
    return size / RX_MATCH_SLOTS_DIV + 1;
}

static size_t rx_result_offset(uint32_t size)
{
    return bench_align(size);
}

/* Line starts found by streams 1 .. RX_STREAMS-1, before they are
 * appended to stream 0's. */
static size_t rx_spill_offset(uint32_t size)
{
    return rx_result_offset(size) + bench_align(sizeof(uint32_t) * (1 + (size_t)rx_slots(size)));
}

static size_t rx_dfa_offset(uint32_t size)
{
    return rx_spill_offset(size) +
           bench_align(sizeof(uint32_t) * (RX_STREAMS - 1) * (size_t)rx_slots(size));
}

static size_t rx_work_offset(uint32_t size)
{
    return rx_dfa_offset(size) + bench_align(sizeof(struct rx_dfa));
}

static size_t rx_mem_bytes(uint32_t size)
{
    return rx_work_offset(size) + bench_align(sizeof(struct rx_workspace));
}

/* --- byte sets ---------------------------------------------------------- */

static void rx_set_add(uint32_t *set, uint32_t lo, uint32_t hi)
{
    for (uint32_t b = lo; b <= hi; b++)
        set[b / RX_WORD_BITS] |= 1u << (b % RX_WORD_BITS);
}

static int rx_set_has(const uint32_t *set, uint32_t b)
{
    return (set[b / RX_WORD_BITS] >> (b % RX_WORD_BITS)) & 1u;
}

/* Lines never contain '\n', so no set may match it ('.', \s, ranges). */
static void rx_set_drop_newline(uint32_t *set)
{
    set[RX_NEWLINE / RX_WORD_BITS] &= ~(1u << (RX_NEWLINE % RX_WORD_BITS));
}

/* \d \w \s; returns 0 if `c` names no class. */
static int rx_set_named(uint32_t *set, char c)
{
    switch (c) {
    case 'd':
        rx_set_add(set, '0', '9');
        break;
    case 'w':
        rx_set_add(set, '0', '9');
        rx_set_add(set, 'a', 'z');
        rx_set_add(set, 'A', 'Z');
        rx_set_add(set, '_', '_');
        break;
    case 's':
        rx_set_add(set, ' ', ' ');
        rx_set_add(set, '\t', '\r');
        break;
    default:
        return 0;
    }
    return 1;
}

/* --- NFA construction (Thompson) ----------------------------------------- */

static uint16_t rx_state(struct rx_parser *p, uint16_t kind, uint16_t out, uint16_t out2)
{
    if (p->count >= RX_MAX_NFA) {
        p->error = 1;
        return 0;
    }
    struct rx_nstate *s = &p->st[p->count];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->out = out;
    s->out2 = out2;
    return (uint16_t)p->count++;
}

static struct rx_frag rx_empty(struct rx_parser *p)
{
    uint16_t e = rx_state(p, RX_EPS, RX_NONE, RX_NONE);
    struct rx_frag f = {e, e};
    return f;
}

static struct rx_frag rx_cat(struct rx_parser *p, struct rx_frag a, struct rx_frag b)
{
    p->st[a.end].out = b.start;
    struct rx_frag f = {a.start, b.end};
    return f;
}

static struct rx_frag rx_alt(struct rx_parser *p, struct rx_frag a, struct rx_frag b)
{
    uint16_t e = rx_state(p, RX_EPS, RX_NONE, RX_NONE);
    uint16_t s = rx_state(p, RX_SPLIT, a.start, b.start);
    p->st[a.end].out = e;
    p->st[b.end].out = e;
    struct rx_frag f = {s, e};
    return f;
}

/* x* (min 0, loop), x+ (min 1, loop) and x? (min 0, no loop). */
static struct rx_frag rx_loop(struct rx_parser *p, struct rx_frag a, int min_one, int loop)
{
    uint16_t e = rx_state(p, RX_EPS, RX_NONE, RX_NONE);
    uint16_t s = rx_state(p, RX_SPLIT, a.start, e);
    p->st[a.end].out = loop ? s : e;
    struct rx_frag f = {min_one ? a.start : s, e};
    return f;
}

static char rx_peek(const struct rx_parser *p)
{
    return p->pat[p->pos];
}

static struct rx_frag rx_alternation(struct rx_parser *p);

/* [...]: items are bytes, ranges a-b and named classes. */
static void rx_parse_class(struct rx_parser *p, uint32_t *set)
{
    int first = 1;
    while (rx_peek(p) != '\0' && (first || rx_peek(p) != ']')) {
        char lo = p->pat[p->pos++];
        first = 0;
        if (lo == '\\') {
            lo = p->pat[p->pos++];
            if (rx_set_named(set, lo))
                continue;
        }
        char hi = lo;
        if (rx_peek(p) == '-' && p->pat[p->pos + 1] != ']' && p->pat[p->pos + 1] != '\0') {
            hi = p->pat[p->pos + 1];
            p->pos += 2;
        }
        if ((uint8_t)hi < (uint8_t)lo)
            p->error = 1;
        else
            rx_set_add(set, (uint8_t)lo, (uint8_t)hi);
    }
    if (rx_peek(p) != ']')
        p->error = 1;
    else
        p->pos++;
}

static struct rx_frag rx_atom(struct rx_parser *p)
{
    char c = rx_peek(p);
    if (c == '(') {
        p->pos++;
        struct rx_frag f = rx_alternation(p);
        if (rx_peek(p) != ')')
            p->error = 1;
        else
            p->pos++;
        return f;
    }
    if (c == '\0' || c == ')' || c == '|' || c == '*' || c == '+' || c == '?' || c == '{' ||
        c == '^' || c == '$') {
        p->error = 1;
        return rx_empty(p);
    }
    uint16_t end = rx_state(p, RX_EPS, RX_NONE, RX_NONE);
    uint16_t s = rx_state(p, RX_SET, end, RX_NONE);
    if (p->error)
        return rx_empty(p);
    uint32_t *set = p->st[s].set;
    p->pos++;
    if (c == '.') {
        rx_set_add(set, 0, RX_BYTES - 1);
    } else if (c == '[') {
        rx_parse_class(p, set);
    } else if (c == '\\') {
        c = p->pat[p->pos++];
        if (c == '\0')
            p->error = 1;
        else if (!rx_set_named(set, c))
            rx_set_add(set, (uint8_t)c, (uint8_t)c);
    } else {
        rx_set_add(set, (uint8_t)c, (uint8_t)c);
    }
    rx_set_drop_newline(set);
    struct rx_frag f = {s, end};
    return f;
}

static uint32_t rx_number(struct rx_parser *p)
{
    uint32_t v = 0;
    if (rx_peek(p) < '0' || rx_peek(p) > '9')
        p->error = 1;
    while (rx_peek(p) >= '0' && rx_peek(p) <= '9' && v < RX_MAX_NFA)
        v = v * 10 + (uint32_t)(p->pat[p->pos++] - '0');
    return v;
}

/* atom{m,n}: m copies, then n - m optional ones (or a starred one for
 * {m,}). Copies come from parsing the atom's text again. */
static struct rx_frag rx_counted(struct rx_parser *p, struct rx_frag atom, uint32_t atom_pos)
{
    p->pos++; /* '{' */
    uint32_t min = rx_number(p), max = min;
    int unbounded = 0;
    if (rx_peek(p) == ',') {
        p->pos++;
        if (rx_peek(p) == '}')
            unbounded = 1;
        else
            max = rx_number(p);
    }
    if (rx_peek(p) != '}' || max < min)
        p->error = 1;
    uint32_t after = p->pos + 1;
    struct rx_frag f = rx_empty(p);
    uint32_t copies = unbounded ? min + 1 : max;
    for (uint32_t i = 0; i < copies && !p->error; i++) {
        struct rx_frag c = atom;
        if (i > 0) {
            p->pos = atom_pos;
            c = rx_atom(p);
        }
        if (i >= min)
            c = rx_loop(p, c, 0, unbounded);
        f = rx_cat(p, f, c);
    }
    p->pos = after;
    return f;
}

static struct rx_frag rx_repeat(struct rx_parser *p)
{
    uint32_t atom_pos = p->pos;
    struct rx_frag f = rx_atom(p);
    switch (rx_peek(p)) {
    case '*':
        p->pos++;
        return rx_loop(p, f, 0, 1);
    case '+':
        p->pos++;
        return rx_loop(p, f, 1, 1);
    case '?':
        p->pos++;
        return rx_loop(p, f, 0, 0);
    case '{':
        return rx_counted(p, f, atom_pos);
    default:
        return f;
    }
}

static struct rx_frag rx_sequence(struct rx_parser *p)
{
    struct rx_frag f = rx_empty(p);
    while (!p->error && rx_peek(p) != '\0' && rx_peek(p) != '|' && rx_peek(p) != ')')
        f = rx_cat(p, f, rx_repeat(p));
    return f;
}

static struct rx_frag rx_alternation(struct rx_parser *p)
{
    struct rx_frag f = rx_sequence(p);
    while (!p->error && rx_peek(p) == '|') {
        p->pos++;
        f = rx_alt(p, f, rx_sequence(p));
    }
    return f;
}

/* Returns the NFA start state and sets *count to the number of NFA
 * states, or returns RX_NONE if the pattern is malformed. */
static uint16_t rx_compile_nfa(struct rx_nstate *nfa, const char *pattern, uint32_t *count)
{
    struct rx_parser p = {pattern, 0, 0, 0, nfa};
    struct rx_frag f = rx_alternation(&p);
    uint16_t match = rx_state(&p, RX_MATCH, RX_NONE, RX_NONE);
    if (p.error || rx_peek(&p) != '\0')
        return RX_NONE;
    p.st[f.end].out = match;
    *count = p.count;
    return f.start;
}

/* --- DFA construction (subset construction over byte classes) ----------- */

/* Partition the bytes so that every NFA byte set, and '\n', is a union of
 * classes (refining the partition by one set at a time). Returns the number
 * of classes; rep[c] is a byte of class c. */
static uint32_t rx_byte_classes(const struct rx_nstate *nfa, uint32_t count, uint8_t *cls,
                                uint8_t *rep)
{
    /* Between two compactions a refinement can double the class count. */
    uint16_t cl[RX_BYTES], split[2 * RX_BYTES], remap[2 * RX_BYTES];
    uint32_t classes = 1, newline[RX_BYTE_WORDS] = {0};
    rx_set_add(newline, RX_NEWLINE, RX_NEWLINE);
    for (uint32_t b = 0; b < RX_BYTES; b++)
        cl[b] = 0;
    for (uint32_t i = 0; i <= count; i++) {
        if (i < count && nfa[i].kind != RX_SET)
            continue;
        const uint32_t *set = i < count ? nfa[i].set : newline;
        /* Bytes of class c inside the set move to a new class split[c]. */
        for (uint32_t c = 0; c < classes; c++)
            split[c] = RX_NONE;
        for (uint32_t b = 0; b < RX_BYTES; b++) {
            if (!rx_set_has(set, b))
                continue;
            if (split[cl[b]] == RX_NONE)
                split[cl[b]] = (uint16_t)classes++;
            cl[b] = split[cl[b]];
        }
        /* Renumber densely: a class wholly inside the set left a hole. */
        uint32_t used = 0;
        for (uint32_t c = 0; c < classes; c++)
            remap[c] = RX_NONE;
        for (uint32_t b = 0; b < RX_BYTES; b++) {
            if (remap[cl[b]] == RX_NONE)
                remap[cl[b]] = (uint16_t)used++;
            cl[b] = remap[cl[b]];
        }
        classes = used;
    }
    for (uint32_t b = RX_BYTES; b-- > 0;) {
        cls[b] = (uint8_t)cl[b];
        rep[cl[b]] = (uint8_t)b;
    }
    return classes;
}

/* Epsilon closure of `set` (bits of NFA states), in place, keeping only the
 * states that consume a byte or accept. */
static void rx_closure(const struct rx_nstate *nfa, uint32_t *set, uint16_t *stack)
{
    uint32_t seen[RX_NFA_WORDS] = {0};
    uint32_t top = 0;
    for (uint32_t i = 0; i < RX_MAX_NFA; i++)
        if (rx_set_has(set, i)) {
            stack[top++] = (uint16_t)i;
            seen[i / RX_WORD_BITS] |= 1u << (i % RX_WORD_BITS);
        }
    memset(set, 0, RX_NFA_WORDS * sizeof(uint32_t));
    while (top > 0) {
        uint16_t i = stack[--top];
        const struct rx_nstate *s = &nfa[i];
        if (s->kind == RX_SET || s->kind == RX_MATCH) {
            set[i / RX_WORD_BITS] |= 1u << (i % RX_WORD_BITS);
            continue;
        }
        uint16_t outs[2] = {s->out, s->kind == RX_SPLIT ? s->out2 : RX_NONE};
        for (int k = 0; k < 2; k++)
            if (outs[k] != RX_NONE && !rx_set_has(seen, outs[k])) {
                seen[outs[k] / RX_WORD_BITS] |= 1u << (outs[k] % RX_WORD_BITS);
                stack[top++] = outs[k];
            }
    }
}

static int rx_set_empty(const uint32_t *set)
{
    uint32_t any = 0;
    for (int i = 0; i < RX_NFA_WORDS; i++)
        any |= set[i];
    return any == 0;
}

/* Provisional ids of the special states while the DFA grows. */
#define RX_ID_DEAD 0xfffeu
#define RX_ID_NL_MATCH 0xfffdu

/* Index of the DFA state for `set`, adding it if new; RX_NONE when full. */
static uint16_t rx_intern(struct rx_workspace *w, uint32_t *states, const uint32_t *set)
{
    for (uint32_t d = 0; d < *states; d++)
        if (memcmp(w->sets[d], set, sizeof w->sets[d]) == 0)
            return (uint16_t)d;
    if (*states >= RX_MAX_DFA)
        return RX_NONE;
    memcpy(w->sets[*states], set, sizeof w->sets[0]);
    w->accepting[*states] = 0;
    for (uint32_t i = 0; i < RX_MAX_NFA; i++)
        if (rx_set_has(set, i) && w->nfa[i].kind == RX_MATCH)
            w->accepting[*states] = 1;
    return (uint16_t)(*states)++;
}

/* Returns the number of ordinary DFA states, 0 on failure. */
static uint32_t rx_subsets(struct rx_workspace *w, uint16_t nfa_start, uint32_t classes,
                           uint32_t nl_class)
{
    uint32_t states = 0, set[RX_NFA_WORDS] = {0};
    set[nfa_start / RX_WORD_BITS] |= 1u << (nfa_start % RX_WORD_BITS);
    rx_closure(w->nfa, set, w->stack);
    rx_intern(w, &states, set);
    for (uint32_t d = 0; d < states; d++)
        for (uint32_t c = 0; c < classes; c++) {
            if (c == nl_class) {
                w->trans[d][c] = w->accepting[d] ? RX_ID_NL_MATCH : 0;
                continue;
            }
            memset(set, 0, sizeof set);
            for (uint32_t i = 0; i < RX_MAX_NFA; i++)
                if (rx_set_has(w->sets[d], i) && w->nfa[i].kind == RX_SET &&
                    rx_set_has(w->nfa[i].set, w->rep[c]))
                    set[w->nfa[i].out / RX_WORD_BITS] |= 1u << (w->nfa[i].out % RX_WORD_BITS);
            rx_closure(w->nfa, set, w->stack);
            uint16_t next = rx_set_empty(set) ? RX_ID_DEAD : rx_intern(w, &states, set);
            if (next == RX_NONE)
                return 0;
            w->trans[d][c] = next;
        }
    return states;
}

/* Final numbering: ordinary states 0 .. n-1, then DEAD, then NL_MATCH (a
 * copy of the start row), as premultiplied offsets. */
static void rx_emit(struct rx_dfa *dfa, const struct rx_workspace *w, uint32_t states,
                    uint32_t classes)
{
    dfa->start = 0;
    dfa->special = states * classes;
    dfa->dead = states * classes;
    dfa->nl_match = (states + 1) * classes;
    for (uint32_t d = 0; d < states + 2; d++)
        for (uint32_t c = 0; c < classes; c++) {
            uint16_t id = d < states ? w->trans[d][c] : d == states ? RX_ID_DEAD : w->trans[0][c];
            uint32_t off = id == RX_ID_DEAD ? dfa->dead
                           : id == RX_ID_NL_MATCH ? dfa->nl_match
                                                  : id * classes;
            dfa->table[d * classes + c] = (uint16_t)off;
        }
}

/* A DFA that rejects every line, for a pattern that cannot be compiled. */
static void rx_reject_all(struct rx_dfa *dfa)
{
    memset(dfa->cls, 0, sizeof dfa->cls);
    dfa->start = 0;
    dfa->special = 0;
    dfa->dead = 0;
    dfa->nl_match = 1;
    dfa->nl_class = 0;
    dfa->table[0] = 0;
}

static void rx_build(struct rx_dfa *dfa, struct rx_workspace *w, const char *pattern)
{
    uint32_t count = 0;
    uint16_t start = rx_compile_nfa(w->nfa, pattern, &count);
    if (start == RX_NONE) {
        rx_reject_all(dfa);
        return;
    }
    uint32_t classes = rx_byte_classes(w->nfa, count, dfa->cls, w->rep);
    dfa->nl_class = dfa->cls[RX_NEWLINE];
    uint32_t states = rx_subsets(w, start, classes, dfa->nl_class);
    if (states == 0 || (states + 2) * classes > RX_NONE) {
        rx_reject_all(dfa);
        return;
    }
    rx_emit(dfa, w, states, classes);
}

/* --- corpus --------------------------------------------------------------- */

static const char *const rx_levels[] = {"INFO", "DEBUG", "WARN", "ERROR"};
static const uint8_t rx_level_pct[] = {55, 70, 88, 100}; /* cumulative */
static const char *const rx_services[] = {"api", "auth", "billing", "cache",
                                          "db",  "gateway", "queue", "search"};
static const char *const rx_methods[] = {"GET", "POST", "PUT", "DELETE"};
static const char *const rx_segments[] = {"api",   "v1",     "v2",     "users",  "orders",
                                          "items", "cart",   "login",  "search", "static",
                                          "img_01", "health", "reports", "export"};
static const uint16_t rx_statuses[] = {200, 201, 204, 301, 404, 500, 502, 503};
static const uint8_t rx_status_pct[] = {60, 70, 75, 80, 88, 94, 97, 100}; /* cumulative */
static const char *const rx_users[] = {"alice", "bob", "carol", "dave", "erin", "frank"};

#define RX_COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct rx_line {
    char buf[RX_LINE_MAX];
    uint32_t len;
};

static void rx_put(struct rx_line *l, const char *s)
{
    while (*s && l->len < RX_LINE_MAX)
        l->buf[l->len++] = *s++;
}

/* `value` in decimal, zero-padded to `width` digits (0: no padding). */
static void rx_put_num(struct rx_line *l, uint32_t value, int width)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0 && n < 10);
    while (n < width && n < 10)
        digits[n++] = '0';
    while (n > 0 && l->len < RX_LINE_MAX)
        l->buf[l->len++] = digits[--n];
}

static uint32_t rx_pick_pct(struct bench_rng *rng, const uint8_t *cumulative)
{
    uint32_t r = bench_rng_below(rng, 100), i = 0;
    while (r >= cumulative[i])
        i++;
    return i;
}

/* "2024-03-07 14:02:59.123 WARN [db-3] GET /api/v1/users status=503
 * latency=1520ms user=bob" */
static void rx_gen_line(struct bench_rng *rng, struct rx_line *l)
{
    l->len = 0;
    rx_put(l, "2024-");
    rx_put_num(l, 1 + bench_rng_below(rng, 12), 2);
    rx_put(l, "-");
    rx_put_num(l, 1 + bench_rng_below(rng, 28), 2);
    rx_put(l, " ");
    rx_put_num(l, bench_rng_below(rng, 24), 2);
    rx_put(l, ":");
    rx_put_num(l, bench_rng_below(rng, 60), 2);
    rx_put(l, ":");
    rx_put_num(l, bench_rng_below(rng, 60), 2);
    rx_put(l, ".");
    rx_put_num(l, bench_rng_below(rng, 1000), 3);
    rx_put(l, " ");
    rx_put(l, rx_levels[rx_pick_pct(rng, rx_level_pct)]);
    rx_put(l, " [");
    rx_put(l, rx_services[bench_rng_below(rng, RX_COUNT(rx_services))]);
    rx_put(l, "-");
    rx_put_num(l, bench_rng_below(rng, 16), 0);
    rx_put(l, "] ");
    rx_put(l, rx_methods[bench_rng_below(rng, RX_COUNT(rx_methods))]);
    rx_put(l, " ");
    for (uint32_t i = 1 + bench_rng_below(rng, 4); i > 0; i--) {
        rx_put(l, "/");
        rx_put(l, rx_segments[bench_rng_below(rng, RX_COUNT(rx_segments))]);
    }
    if (bench_rng_below(rng, 2)) {
        rx_put(l, "/");
        rx_put_num(l, bench_rng_below(rng, 100000), 0);
    }
    rx_put(l, " status=");
    rx_put_num(l, rx_statuses[rx_pick_pct(rng, rx_status_pct)], 0);
    rx_put(l, " latency=");
    rx_put_num(l, bench_rng_below(rng, 4) ? bench_rng_below(rng, 100) : bench_rng_below(rng, 10000), 0);
    rx_put(l, "ms");
    if (bench_rng_below(rng, 2)) {
        rx_put(l, " user=");
        rx_put(l, rx_users[bench_rng_below(rng, RX_COUNT(rx_users))]);
    }
    rx_put(l, "\n");
}

/* Fill `size` bytes with whole log lines; a last gap too short for a line
 * becomes a '#' filler line. */
static void rx_gen_corpus(uint8_t *text, uint32_t size, uint32_t seed)
{
    struct bench_rng rng;
    struct rx_line line;
    uint32_t pos = 0;
    bench_rng_init(&rng, seed, RX_STREAM_CORPUS);
    while (pos < size) {
        rx_gen_line(&rng, &line);
        if (line.len > size - pos) {
            memset(text + pos, '#', size - pos - 1);
            text[size - 1] = RX_NEWLINE;
            break;
        }
        memcpy(text + pos, line.buf, line.len);
        pos += line.len;
    }
}

/* --- matching ------------------------------------------------------------- */

/* Just past the next '\n' at or after p, or end. A dead line usually ends
 * within a few dozen bytes, so 32-byte compares are the widest that pay off:
 * 64-byte AVX-512 ones measured slower than the generic SSE2 path. */
static const uint8_t *rx_skip_line(const uint8_t *p, const uint8_t *end)
{
#if defined(__AVX2__)
    const __m256i nl = _mm256_set1_epi8(RX_NEWLINE);
    for (; end - p >= 32; p += 32) {
        uint32_t hits = (uint32_t)_mm256_movemask_epi8(
            _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)p), nl));
        if (hits)
            return p + __builtin_ctz(hits) + 1;
    }
#elif defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8(RX_NEWLINE);
    for (; end - p >= 16; p += 16) {
        uint32_t hits = (uint32_t)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), nl));
        if (hits)
            return p + __builtin_ctz(hits) + 1;
    }
#endif
    while (p < end)
        if (*p++ == RX_NEWLINE)
            return p;
    return end;
}

/* Offset of the start of the line whose '\n' is at text[nl]. */
static uint32_t rx_line_start(const uint8_t *text, uint32_t nl)
{
    while (nl > 0 && text[nl - 1] != RX_NEWLINE)
        nl--;
    return nl;
}

struct rx_result {
    uint32_t count;
    uint32_t offsets[];
};

/* One scan position: the text [p, end) still to read, the DFA state, and
 * where the start offsets of matching lines go (the first `slots`). */
struct rx_stream {
    const uint8_t *p, *end;
    uint32_t s;
    uint32_t count;
    uint32_t *offsets;
};

/* The DFA entered a special state: skip a dead line, or record the line
 * that just ended with a match. */
static inline void rx_event(const struct rx_dfa *dfa, const uint8_t *text, struct rx_stream *st,
                            uint32_t slots)
{
    if (st->s == dfa->dead) {
        st->p = rx_skip_line(st->p, st->end);
        st->s = dfa->start;
        return;
    }
    if (st->count < slots)
        st->offsets[st->count] = rx_line_start(text, (uint32_t)(st->p - 1 - text));
    st->count++;
}

static inline void rx_step(const struct rx_dfa *dfa, const uint8_t *text, struct rx_stream *st,
                           uint32_t slots)
{
    st->s = dfa->table[st->s + dfa->cls[*st->p++]];
    if (__builtin_expect(st->s >= dfa->special, 0))
        rx_event(dfa, text, st, slots);
}

/* The streams cover consecutive parts of the text, each ending just after
 * a '\n' (or at the end), and take turns: one DFA step each per round. */
static void rx_scan(const struct rx_dfa *dfa, const uint8_t *text, uint32_t size,
                    struct rx_result *res, uint32_t *spill, uint32_t slots)
{
    struct rx_stream st[RX_STREAMS];
    const uint8_t *from = text, *end = text + size;
    for (int k = 0; k < RX_STREAMS; k++) {
        const uint8_t *to =
            k == RX_STREAMS - 1 ? end : rx_skip_line(text + size / RX_STREAMS * (k + 1), end);
        st[k].p = from;
        st[k].end = to > from ? to : from;
        st[k].s = dfa->start;
        st[k].count = 0;
        st[k].offsets = k == 0 ? res->offsets : spill + (size_t)(k - 1) * slots;
        from = st[k].end;
    }
    for (;;) {
        int live = 1;
        for (int k = 0; k < RX_STREAMS; k++)
            live &= st[k].p < st[k].end;
        if (!live)
            break;
        for (int k = 0; k < RX_STREAMS; k++)
            rx_step(dfa, text, &st[k], slots);
    }
    for (int k = 0; k < RX_STREAMS; k++)
        while (st[k].p < st[k].end)
            rx_step(dfa, text, &st[k], slots);
    /* A last line without '\n' ends at the end of the text. */
    struct rx_stream *last = &st[RX_STREAMS - 1];
    if (size > 0 && text[size - 1] != RX_NEWLINE && last->s != dfa->dead &&
        dfa->table[last->s + dfa->nl_class] == dfa->nl_match) {
        if (last->count < slots)
            last->offsets[last->count] = rx_line_start(text, size);
        last->count++;
    }
    res->count = st[0].count;
    for (int k = 1; k < RX_STREAMS; k++) {
        for (uint32_t i = 0; i < st[k].count && res->count + i < slots; i++)
            res->offsets[res->count + i] = st[k].offsets[i];
        res->count += st[k].count;
    }
}

/* --- the benchmark --------------------------------------------------------- */

static void rx_setup(void *arena, uint32_t size, uint32_t seed)
{
    rx_gen_corpus(arena, size, seed);
    rx_build(bench_at(arena, rx_dfa_offset(size)), bench_at(arena, rx_work_offset(size)),
             RX_PATTERN);
    memset(bench_at(arena, rx_result_offset(size)), 0,
           sizeof(uint32_t) * (1 + (size_t)rx_slots(size)));
}

static void rx_run(void *arena, uint32_t size)
{
    rx_scan(bench_at(arena, rx_dfa_offset(size)), arena, size,
            bench_at(arena, rx_result_offset(size)), bench_at(arena, rx_spill_offset(size)),
            rx_slots(size));
}

static uint64_t rx_checksum(const void *arena, uint32_t size)
{
    const struct rx_result *res = bench_at_const(arena, rx_result_offset(size));
    uint32_t stored = res->count < rx_slots(size) ? res->count : rx_slots(size);
    uint64_t hash = bench_hash_u32(BENCH_HASH_INIT, res->count);
    for (uint32_t i = 0; i < stored; i++)
        hash = bench_hash_u32(hash, res->offsets[i]);
    return hash;
}

static uint64_t rx_work(uint32_t size)
{
    return size;
}

static void rx_regions(uint32_t size, struct bench_region *input, struct bench_region *output)
{
    input->offset = 0;
    input->bytes = size;
    output->offset = rx_result_offset(size);
    output->bytes = sizeof(uint32_t) * (1 + (size_t)rx_slots(size));
}

const struct bench_desc BENCH_SYMBOL(regex_dfa) = {
    .name = "regex_dfa",
    .unit = "byte",
    .default_size = 1048576,
    .mem_bytes = rx_mem_bytes,
    .setup = rx_setup,
    .run = rx_run,
    .checksum = rx_checksum,
    .work = rx_work,
    .regions = rx_regions,
    .max_size = BENCH_MAX_SIZE,
};
