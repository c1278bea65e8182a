/* The live re-JIT link, executor side: what LLVM ORC's out-of-process
 * executor (llvm-jitlink-executor) and ez-clang's bare-metal one do, in
 * their smallest form. The JIT runs on the host (fluidjit/linkserver.py):
 * it compiles and links; this side only reports what it is, profiles,
 * receives finished bytes, checks them, copies them into place and decides
 * by measurement whether to keep them. Frames and constants are the spec's
 * (src/protocol/protocol.toml: jit_*, JIT_*); docs/kernel-jit.md has the
 * exchange:
 *
 *   HELLO    -> build id, CPUID leaves, XCR0, CR4, code arena
 *   WELCOME  <- (within JIT_HELLO_TIMEOUT_MS, else no host)
 *   per client (jitlink.h: a benchmark's run(), the inference engine's
 *   matrix-vector product), its function behind a slot (a function
 *   pointer every call goes through), up to JIT_MAX_ROUNDS times:
 *     PROFILE -> calls, cycles and integer argument values of the code the
 *                slot holds (the boot choice, then the code kept), from the
 *                profiler runtime (src/runtime/profile.c)
 *     PATCH   <- code linked at an arena address, with its CRC-32
 *     or DECLINE (within JIT_PATCH_TIMEOUT_MS, else "silent")
 *     checks (build id, slot, bounds, live code, digest), copy, CPUID,
 *     swap the slot between two calls, time old against new, keep or
 *     revert; VERDICT -> after the swap and after the decision; again
 *     with the code the slot holds, unless the PATCH was the host's last
 *   then, if the slot kept a patch, that patch against the boot choice once
 *   more, afresh (confirmed, or unconfirmed and the boot choice back)
 *   BYE      ->
 *
 * Every event is also a `FLUID-JIT {json}` line on COM1. A refused patch
 * changes nothing. Code that may run is never overwritten: a patch over a
 * kept one (live code) is refused; the kernel's own code is outside the
 * arena; only a reverted or refused patch's space may be reused. */
#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include "console.h"
#include "cpu.h"
#include "crc32.h"
#include "dispatch.h"
#include "jitlink.h"
#include "klib.h"
#include "kprintf.h"
#include "mem.h"
#include "profile.h"
#include "protocol.h"
#include "test_hooks.h"
#include "timer.h"
#include "uart.h"
#include "wake.h"

/* Nothing here is time-critical (the benchmarks' code is what gets timed):
 * small code. */
#pragma clang attribute push(__attribute__((minsize)), apply_to = function)

#define ARENA_ALIGN 64 /* bench.h: arenas are 64-byte aligned */
#define ARENA_PAGE 4096
#define MS_PER_S 1000u
#define SIZE_ARG 1 /* run(arena, size): the profiled integer argument */
#define CR4_OSXSAVE (1u << 18)
#define CPUID_1_ECX_OSXSAVE (1u << 27)
#define PERCENT 100u
#define RATIO_ONE 65536u /* new/old call times in 16.16 fixed point */
#define WAKE_TICK_HZ 1000 /* a halted receive rechecks its deadline this often */

/* The code arena: patches are copied here and nowhere else. In the BSS, so
 * it costs the image nothing; executable like all memory (no paging). */
static uint8_t jit_arena[JIT_ARENA_BYTES] __attribute__((aligned(ARENA_PAGE)));
/* One frame's payload; a PATCH is at most its header and JIT_MAX_CODE. */
static uint8_t rx_payload[JIT_MAX_PAYLOAD];

_Static_assert(JIT_MAX_PAYLOAD >= JIT_PATCH_SIZE + JIT_MAX_CODE, "a PATCH fits the receive buffer");

/* The address every call of a benchmark's run() goes through in this phase. */
static volatile fluid_prof_run_fn *slots;
/* Kept patches a run may hold: every slot's rounds. */
#define LIVE_MAX (JIT_MAX_SLOTS * JIT_MAX_ROUNDS)

/* Kept patches: live code a later patch must not overwrite. */
struct live_range {
    uint32_t start, end;
};

static struct {
    int up;          /* a host answered and has not gone silent */
    uint32_t seq;    /* our next sequence number */
    uint32_t silent; /* unanswered requests in a row */
    uint32_t garbage, patches, kept, refused;
    uint64_t frame_start; /* TSC when the last frame's magic was complete */
    uint64_t stall_ticks; /* JIT_FRAME_TIMEOUT_MS in TSC cycles */
    struct live_range live[LIVE_MAX];
    uint32_t live_count;
} link;

extern const struct flud_header __kernel_start;

static uint32_t build_id(void)
{
    return __kernel_start.image_crc32;
}

static uint64_t deadline_ms(uint32_t ms)
{
    return rdtsc() + kmuldiv64(tsc_hz(), ms, MS_PER_S);
}

/* `src` in an `n`-byte field, NUL padded (cut short if longer). */
static void copy_name(char *dst, const char *src, size_t n)
{
    size_t len = strlen(src);

    memset(dst, 0, n);
    memcpy(dst, src, len < n ? len : n);
}

/* After writing code, before running it: CPUID serialises the instruction
 * stream (Intel SDM vol. 3, 8.1.3, cross-modifying code). */
static void serialise(void)
{
    struct cpuid_regs regs;

    cpuid(0, 0, &regs);
}

/* -- frames --------------------------------------------------------------------------------- */

static int send_bytes(const void *data, uint32_t n, uint64_t deadline)
{
    const uint8_t *p = data;
    uint32_t i;

    for (i = 0; i < n; i++) {
        while (!uart_tx_ready(JIT_COM2_PORT))
            if (rdtsc() >= deadline)
                return 0;
        uart_tx(JIT_COM2_PORT, p[i]);
    }
    return 1;
}

/* Sends one frame; a transmitter that never drains takes the link down. */
static uint32_t send_frame(uint16_t opcode, const void *payload, uint32_t size)
{
    struct jit_header h = { JIT_MAGIC, opcode, 0, link.seq++, size };
    uint64_t deadline = deadline_ms(JIT_SEND_TIMEOUT_MS);

    if (!send_bytes(&h, sizeof(h), deadline) || !send_bytes(payload, size, deadline))
        link.up = 0;
    return h.seq;
}

/* `n` bytes from the link into `dst`, or 0 when the first does not come
 * before `deadline` or a later one not within JIT_FRAME_TIMEOUT_MS of the
 * one before. Under QEMU the 16550 gets at most its FIFO's trigger level
 * (14 bytes) per turn of the emulator's I/O thread, and a turn needs the
 * host CPU: the receiver is drained in one go (uart_rx_burst), and while
 * it is empty with a FIFO's worth or more still to come the CPU halts
 * until COM2's "data available" interrupt or the next tick (wake.h)
 * instead of spinning on the status register. */
static int recv_bytes(uint8_t *dst, uint32_t n, uint64_t deadline)
{
    uint32_t got = 0;

    while (got < n) {
        uint32_t k = uart_rx_burst(JIT_COM2_PORT, dst + got, n - got);

        if (k) {
            got += k;
            deadline = rdtsc() + link.stall_ticks;
        } else if (rdtsc() >= deadline) {
            return 0;
        } else if (n - got >= UART_RX_TRIGGER) {
            wake_wait();
        }
    }
    return 1;
}

/* The next well-formed frame (its payload in rx_payload), or 0 when no
 * header starts before `deadline` or the frame stalls for
 * JIT_FRAME_TIMEOUT_MS. Bytes that do not start a header are skipped
 * (counted as garbage), and so is a header announcing an unknown opcode or
 * too large a payload. */
static int recv_frame(struct jit_header *h, uint64_t deadline)
{
    uint8_t *raw = (uint8_t *)h;
    uint32_t i;

    for (;;) {
        uint32_t window = 0;

        for (i = 0; window != JIT_MAGIC; i++) {
            uint8_t b;

            if (!recv_bytes(&b, 1, deadline))
                return 0;
            window = (window >> 8) | ((uint32_t)b << 24);
            if (i >= sizeof(window))
                link.garbage++;
        }
        h->magic = window;
        link.frame_start = rdtsc();
        if (!recv_bytes(raw + sizeof(h->magic), sizeof(*h) - sizeof(h->magic),
                        link.frame_start + link.stall_ticks))
            return 0;
        if (h->opcode < JIT_OP_HELLO || h->opcode > JIT_OP_BYE || h->flags != 0 ||
            h->size > JIT_MAX_PAYLOAD) {
            link.garbage += sizeof(*h);
            continue;
        }
        /* The rest of a frame comes in one piece: only a stall ends it. */
        return recv_bytes(rx_payload, h->size, rdtsc() + link.stall_ticks);
    }
}

/* The answer to request `seq` of one of the opcodes `a`, `b` within `ms`, or
 * 0 (counted as silence). Stale answers to earlier requests are dropped. */
static int await(uint32_t seq, uint16_t a, uint16_t b, uint32_t ms, struct jit_header *h)
{
    uint64_t deadline = deadline_ms(ms);

    while (link.up && recv_frame(h, deadline)) {
        if (h->seq == seq && (h->opcode == a || h->opcode == b)) {
            link.silent = 0;
            return 1;
        }
    }
    if (++link.silent >= JIT_SILENT_LIMIT)
        link.up = 0;
    return 0;
}

/* -- lines ---------------------------------------------------------------------------------- */

/* A client's function as the lines name it: a benchmark's name is its
 * run()'s, another client's name is the function's label already. */
static const char *run_suffix(const char *name)
{
    const char *p;

    for (p = name; *p; p++)
        if (*p == '.')
            return "";
    return ".run";
}

static void line_start(const char *event, const char *name)
{
    kprintf_to(CONSOLE_SERIAL, "FLUID-JIT {\"event\":\"%s\"", event);
    if (name)
        kprintf_to(CONSOLE_SERIAL, ",\"function\":\"%s%s\"", name, run_suffix(name));
}

static void line_end(void)
{
    kprintf_to(CONSOLE_SERIAL, "}\n");
}

static void verdict(uint32_t slot, uint32_t event, uint32_t reason, uint32_t addr,
                    uint64_t before, uint64_t after, uint64_t sum_before, uint64_t sum_after)
{
    struct jit_verdict v = { slot, event, reason, addr, before, after, sum_before, sum_after };

    send_frame(JIT_OP_VERDICT, &v, sizeof(v));
}

/* -- HELLO ---------------------------------------------------------------------------------- */

static uint32_t read_cr4(void)
{
    uint32_t cr4;

    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    return cr4;
}

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;

    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void fill_hello(struct jit_hello *m, uint32_t usable, const uintptr_t *slots_code, uint32_t count)
{
    static const uint32_t wanted[JIT_CPUID_LEAVES][2] = {
        { 0, 0 }, { 1, 0 }, { 7, 0 }, { 0xD, 0 }, { 0x80000000u, 0 }, { 0x80000001u, 0 },
    };
    struct cpuid_regs regs;
    uint32_t max_basic, max_ext, i;

    memset(m, 0, sizeof(*m));
    m->build_id = build_id();
    m->arena_addr = (uint32_t)(uintptr_t)jit_arena;
    m->arena_bytes = JIT_ARENA_BYTES;
    m->bench_count = count;
    m->tsc_khz = (uint32_t)(tsc_hz() / MS_PER_S);
    m->usable = usable;
    m->cr4 = read_cr4();
    cpuid(0, 0, &regs);
    max_basic = regs.r[REG_EAX];
    cpuid(0x80000000u, 0, &regs);
    max_ext = regs.r[REG_EAX];
    for (i = 0; i < JIT_CPUID_LEAVES; i++) {
        uint32_t leaf = wanted[i][0];
        int present = leaf >= 0x80000000u ? leaf <= max_ext : leaf <= max_basic;

        m->leaves[i].leaf = leaf;
        m->leaves[i].subleaf = wanted[i][1];
        if (present) {
            cpuid(leaf, wanted[i][1], &regs);
            memcpy(m->leaves[i].regs, regs.r, sizeof(m->leaves[i].regs));
        }
        if (leaf == 1 && (regs.r[REG_ECX] & CPUID_1_ECX_OSXSAVE) && (m->cr4 & CR4_OSXSAVE))
            m->xcr0 = read_xcr0();
    }
    m->leaf_count = JIT_CPUID_LEAVES;
    for (i = 0; i < count && i < JIT_MAX_SLOTS; i++)
        m->slots[i] = (uint32_t)slots_code[i];
}

/* HELLO, then WELCOME within its timeout: whether a host is there. */
static int hello(uint32_t usable, const uintptr_t *slots_code, uint32_t count)
{
    struct jit_hello m;
    struct jit_header h;
    uint32_t seq;

    const char *absent = "no UART";

    if (uart_init(JIT_COM2_PORT)) {
        link.up = 1;
        link.stall_ticks = kmuldiv64(tsc_hz(), JIT_FRAME_TIMEOUT_MS, MS_PER_S);
        fill_hello(&m, usable, slots_code, count);
        seq = send_frame(JIT_OP_HELLO, &m, sizeof(m));
        absent = "no answer";
        if (await(seq, JIT_OP_WELCOME, JIT_OP_WELCOME, JIT_HELLO_TIMEOUT_MS, &h) &&
            h.size >= JIT_WELCOME_SIZE)
            absent = NULL;
    }
    link.up = absent == NULL;
    line_start("hello", NULL);
    if (absent)
        kprintf_to(CONSOLE_SERIAL, ",\"host\":false,\"reason\":\"%s\"", absent);
    else
        kprintf_to(CONSOLE_SERIAL,
                   ",\"host\":true,\"build_id\":\"0x%08x\",\"arena\":\"0x%08x\",\"arena_bytes\":%u",
                   m.build_id, m.arena_addr, m.arena_bytes);
    line_end();
    kprintf("jit: %s\n", absent ? absent : "link server on COM2");
    return link.up;
}

/* -- one slot ------------------------------------------------------------------------------- */

static uint32_t send_profile(const struct jit_client *b)
{
    const struct fluid_prof_fn *fn = &fluid_prof_table[b->slot];
    struct jit_profile p;
    uint32_t a;

    memset(&p, 0, sizeof(p));
    p.slot = b->slot;
    p.fn_addr = (uint32_t)b->held(b);
    p.size = b->size;
    p.calls = fn->calls;
    p.cycles = fn->cycles;
    p.self_cycles = fn->self_cycles;
    for (a = 0; a < FLUID_PROF_MAX_ARGS; a++) {
        p.args[3 * a] = fn->args[a].seen;
        p.args[3 * a + 1] = fn->args[a].value;
        p.args[3 * a + 2] = fn->args[a].changes;
    }
    copy_name(p.name, b->name, JIT_NAME_LEN);
    copy_name(p.variant, b->variant, JIT_VARIANT_LEN);

    line_start("profile", b->name);
    kprintf_to(CONSOLE_SERIAL, ",\"variant\":");
    console_write_json_string(CONSOLE_SERIAL, b->variant);
    kprintf_to(CONSOLE_SERIAL, ",\"addr\":\"0x%08x\",\"calls\":%llu,\"cycles\":%llu,\"size\":%u",
               p.fn_addr, (unsigned long long)p.calls, (unsigned long long)p.cycles, b->size);
    line_end();
    return send_frame(JIT_OP_PROFILE, &p, sizeof(p));
}

static int overlaps_live(uint32_t start, uint32_t end)
{
    uint32_t i;

    for (i = 0; i < link.live_count; i++)
        if (start < link.live[i].end && link.live[i].start < end)
            return 1;
    return 0;
}

/* Why the PATCH in rx_payload (`size` bytes) must not be installed in
 * `b`'s slot, or JIT_REASON_NONE. */
static uint32_t check_patch(const struct jit_client *b, uint32_t size)
{
    const struct jit_patch *p = (const struct jit_patch *)rx_payload;
    const uint32_t arena = (uint32_t)(uintptr_t)jit_arena;

    if (size < JIT_PATCH_SIZE || p->build_id != build_id())
        return JIT_REASON_BUILD;
    if (p->slot != b->slot || p->replaces != (uint32_t)b->held(b))
        return JIT_REASON_SLOT;
    if (p->bytes == 0 || p->bytes > JIT_MAX_CODE || size != JIT_PATCH_SIZE + p->bytes ||
        p->addr < arena || p->addr - arena > JIT_ARENA_BYTES - p->bytes ||
        p->entry < p->addr || p->entry - p->addr >= p->bytes)
        return JIT_REASON_BOUNDS;
    if (overlaps_live(p->addr, p->addr + p->bytes))
        return JIT_REASON_OVERLAP;
    if (crc32(rx_payload + JIT_PATCH_SIZE, p->bytes) != p->digest)
        return JIT_REASON_DIGEST;
    return JIT_REASON_NONE;
}

static const char *reason_name(uint32_t reason)
{
#define REASON_NAME(value, json) case value: return json;
    switch (reason) {
        JIT_VERDICT_REASON_VALUES(REASON_NAME)
    }
#undef REASON_NAME
    return "?";
}

/* The pair (old_t[i], new_t[i]) whose ratio new/old is the median of the
 * `n` (odd) pairs': the two calls of a pair ran one after the other, so a
 * slow phase of the host slows both; a busy host slows some pairs' ratio
 * either way, rarely most of them. */
static uint32_t median_pair(const uint64_t *old_t, const uint64_t *new_t, uint32_t n)
{
    uint64_t ratio[JIT_TIMED_MAX_CALLS];
    uint32_t order[JIT_TIMED_MAX_CALLS];
    uint32_t i, j;

    for (i = 0; i < n; i++) {
        ratio[i] = kmuldiv64(new_t[i], RATIO_ONE, old_t[i] ? old_t[i] : 1);
        order[i] = i;
        for (j = i; j > 0 && ratio[order[j - 1]] > ratio[order[j]]; j--) {
            uint32_t t = order[j];

            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    }
    return order[n / 2];
}

static uint64_t time_call(const struct jit_client *b, void *work, uintptr_t code)
{
    uint64_t start = rdtsc();

    b->call(b, work, code);
    return rdtsc() - start;
}

/* Old against new, timed and checksummed. */
struct comparison {
    uint64_t before, after;         /* the median pair's calls, TSC cycles */
    uint64_t sum_before, sum_after; /* checksums after as many calls */
};

/* `old` against `new` on fresh arenas with the same history, so their
 * checksums compare: untimed calls first (caches, TCG's translation), then
 * timed ones, one of each in turn, so a slower phase of the host or the
 * emulator hits both alike: at least JIT_TIMED_CALLS pairs, more while the
 * old code's calls took less than JIT_TIMED_BUDGET_MS, an odd number; the
 * figures are the pair whose new/old ratio is the median (median_pair). Why
 * `new` must not stay, or JIT_REASON_NONE. */
static uint32_t compare(const struct jit_client *b, uintptr_t old, uintptr_t new, struct comparison *c)
{
    uint64_t old_t[JIT_TIMED_MAX_CALLS], new_t[JIT_TIMED_MAX_CALLS], spent = 0;
    const uint64_t budget = kmuldiv64(tsc_hz(), JIT_TIMED_BUDGET_MS, MS_PER_S);
    void *old_arena = b->setup(b), *new_arena = b->setup(b);
    uint32_t i, n;

    for (i = 0; i < JIT_PROFILED_CALLS; i++) {
        b->call(b, old_arena, old);
        b->call(b, new_arena, new);
    }
    for (n = 0; n < JIT_TIMED_MAX_CALLS && (n < JIT_TIMED_CALLS || spent < budget || n % 2 == 0); n++) {
        old_t[n] = time_call(b, old_arena, old);
        new_t[n] = time_call(b, new_arena, new);
        spent += old_t[n];
    }
    i = median_pair(old_t, new_t, n);
    c->before = old_t[i];
    c->after = new_t[i];
    c->sum_before = b->checksum(b, old_arena);
    c->sum_after = b->checksum(b, new_arena);
    b->release(new_arena);
    b->release(old_arena);
    if (c->sum_after != c->sum_before)
        return JIT_REASON_CHECKSUM;
    if (c->after * PERCENT > c->before * (PERCENT - JIT_KEEP_MARGIN_PERCENT))
        return JIT_REASON_SLOWER;
    return JIT_REASON_NONE;
}

/* A `kept`, `reverted`, `confirmed` or `unconfirmed` line, and its line
 * for people. */
static void report_comparison(const struct jit_client *b, const char *event, uint32_t reason,
                              const struct comparison *c)
{
    line_start(event, b->name);
    if (reason)
        kprintf_to(CONSOLE_SERIAL, ",\"reason\":\"%s\"", reason_name(reason));
    kprintf_to(CONSOLE_SERIAL,
               ",\"cycles_before\":%llu,\"cycles_after\":%llu,\"checksum_before\":\"0x%016llx\","
               "\"checksum_after\":\"0x%016llx\"",
               (unsigned long long)c->before, (unsigned long long)c->after,
               (unsigned long long)c->sum_before, (unsigned long long)c->sum_after);
    line_end();
    kprintf("jit %s%s %s: %llu -> %llu cycles\n", b->name, run_suffix(b->name), event,
            (unsigned long long)c->before, (unsigned long long)c->after);
}

/* The PATCH in rx_payload passed its checks: copy, swap at a call boundary
 * of the workload on `work`, then time old against new and decide. */
static void install(const struct jit_client *b, void *work, uint64_t waited, uint64_t received)
{
    const struct jit_patch *p = (const struct jit_patch *)rx_payload;
    uintptr_t old = b->held(b);
    struct comparison c;
    uint32_t reason;

    memcpy((void *)(uintptr_t)p->addr, rx_payload + JIT_PATCH_SIZE, p->bytes);
    serialise();
    line_start("patch", b->name);
    kprintf_to(CONSOLE_SERIAL,
               ",\"addr\":\"0x%08x\",\"bytes\":%u,\"digest\":\"0x%08x\",\"wait_us\":%llu,\"rx_us\":%llu",
               p->entry, p->bytes, p->digest, (unsigned long long)tsc_cycles_to_us(waited),
               (unsigned long long)tsc_cycles_to_us(received - link.frame_start));
    line_end();

    /* The swap: between two calls of the workload, so the call that was
     * running finished on the old code; the next one, and every one after,
     * loads the new address from the slot. */
    b->hold(b, p->entry);
    verdict(b->slot, JIT_EVENT_SWAP, JIT_REASON_NONE, p->entry, 0, 0, 0, 0);
    line_start("swap", b->name);
    kprintf_to(CONSOLE_SERIAL, ",\"addr\":\"0x%08x\"", p->entry);
    line_end();
    b->call_profiled(b, work);

    reason = compare(b, old, p->entry, &c);
    if (reason == JIT_REASON_NONE) {
        link.live[link.live_count].start = p->addr;
        link.live[link.live_count].end = p->addr + p->bytes;
        link.live_count++;
        link.kept++;
    } else {
        b->hold(b, old);
    }
    verdict(b->slot, reason ? JIT_EVENT_REVERTED : JIT_EVENT_KEPT, reason, p->entry, c.before, c.after,
            c.sum_before, c.sum_after);
    report_comparison(b, reason ? "reverted" : "kept", reason, &c);
}

/* The answer to request `seq`, if its first byte has arrived: the frame is
 * then read whole (the host sends it in one piece; a stall of
 * JIT_FRAME_TIMEOUT_MS ends it). Returns 0 at once when nothing waits. */
static int poll_answer(uint32_t seq, struct jit_header *h)
{
    while (link.up && uart_rx_ready(JIT_COM2_PORT)) {
        if (!recv_frame(h, deadline_ms(JIT_FRAME_TIMEOUT_MS)))
            return 0;
        if (h->seq == seq && (h->opcode == JIT_OP_PATCH || h->opcode == JIT_OP_DECLINE)) {
            link.silent = 0;
            return 1;
        }
    }
    return 0;
}

/* One round for one benchmark: profile the code its slot holds, then keep
 * running it (the workload does not stop for the JIT) while the host
 * compiles, polling the link between two calls; install what comes back.
 * Whether a patch was timed (kept or reverted) and the host said it has
 * another candidate for the next round. */
static int offer(const struct jit_client *b, void *work)
{
    struct jit_header h;
    uint64_t sent, deadline, received;
    uint32_t i, seq, reason;
    int answered = 0;

    /* Each PROFILE describes the code the slot holds now. */
    memset(&fluid_prof_table[b->slot], 0, sizeof(fluid_prof_table[b->slot]));
    for (i = 0; i < JIT_PROFILED_CALLS; i++)
        b->call_profiled(b, work);
    seq = send_profile(b);
    sent = rdtsc();
    deadline = deadline_ms(JIT_PATCH_TIMEOUT_MS);
    while (link.up && !(answered = poll_answer(seq, &h)) && rdtsc() < deadline)
        b->call_profiled(b, work);
    received = rdtsc();
    if (!answered) {
        if (++link.silent >= JIT_SILENT_LIMIT)
            link.up = 0;
        line_start("silent", b->name);
        kprintf_to(CONSOLE_SERIAL, ",\"reason\":\"no answer\",\"wait_us\":%llu",
                   (unsigned long long)tsc_cycles_to_us(rdtsc() - sent));
        line_end();
        return 0;
    }
    if (h.opcode == JIT_OP_DECLINE) {
        char why[JIT_REASON_LEN + 1] = "";

        if (h.size >= JIT_DECLINE_SIZE)
            memcpy(why, ((const struct jit_decline *)rx_payload)->reason, JIT_REASON_LEN);
        line_start("declined", b->name);
        kprintf_to(CONSOLE_SERIAL, ",\"reason\":");
        console_write_json_string(CONSOLE_SERIAL, why);
        kprintf_to(CONSOLE_SERIAL, ",\"wait_us\":%llu",
                   (unsigned long long)tsc_cycles_to_us(rdtsc() - sent));
        line_end();
        return 0;
    }
    link.patches++;
    if ((reason = check_patch(b, h.size)) != JIT_REASON_NONE) {
        const struct jit_patch *p = (const struct jit_patch *)rx_payload;

        link.refused++;
        verdict(b->slot, JIT_EVENT_REFUSED, reason, h.size >= JIT_PATCH_SIZE ? p->entry : 0, 0, 0,
                0, 0);
        line_start("refused", b->name);
        kprintf_to(CONSOLE_SERIAL, ",\"reason\":\"%s\"", reason_name(reason));
        if (h.size >= JIT_PATCH_SIZE)
            kprintf_to(CONSOLE_SERIAL, ",\"addr\":\"0x%08x\",\"bytes\":%u", p->entry, p->bytes);
        line_end();
        kprintf("jit %s%s refused: %s\n", b->name, run_suffix(b->name), reason_name(reason));
        return 0;
    }
    install(b, work, received - sent, received);
    return !(((const struct jit_patch *)rx_payload)->flags & JIT_PATCH_LAST);
}

/* One client: up to JIT_MAX_ROUNDS offers; each patch is timed against
 * the code the slot holds then (the boot choice, or a patch kept before). */
void jitlink_tune(const struct jit_client *b)
{
    void *work = b->setup(b);
    struct comparison c;
    uint32_t round;

    /* The tick bounds a halted receive (recv_bytes); only the rounds need it. */
    pit_tick_start(WAKE_TICK_HZ);
    for (round = 0; round < JIT_MAX_ROUNDS && link.up && offer(b, work); round++)
        ;
    b->release(work);
    /* What the slot holds now against the boot choice, measured afresh: each
     * round kept what beat the code before it by the measurement that also
     * chose it (noise may have helped). Slower than the boot choice here,
     * and the boot choice is back. */
    if (b->held(b) != b->boot) {
        uintptr_t entry = b->held(b);
        uint32_t reason = compare(b, b->boot, entry, &c);

        if (reason != JIT_REASON_CHECKSUM)
            reason = c.after > c.before ? JIT_REASON_SLOWER : JIT_REASON_NONE;
        if (reason)
            b->hold(b, b->boot);
        verdict(b->slot, reason ? JIT_EVENT_UNCONFIRMED : JIT_EVENT_CONFIRMED, reason, (uint32_t)entry,
                c.before, c.after, c.sum_before, c.sum_after);
        report_comparison(b, reason ? "unconfirmed" : "confirmed", reason, &c);
    }
    pit_tick_stop();
}

int jitlink_open(uint32_t usable, const uintptr_t *slots_code, uint32_t count)
{
    if (!hello(usable, slots_code, count))
        return 0;
    /* A receive halts while COM2's FIFO is empty (recv_bytes): its data
     * interrupt ends the halt, and the tick (jitlink_tune) bounds it. */
    uart_rx_interrupt(JIT_COM2_PORT);
    wake_source(UART_COM2_IRQ);
    wake_source(PIT_IRQ);
    return 1;
}

void jitlink_close(void)
{
    if (link.up)
        send_frame(JIT_OP_BYE, NULL, 0);
    line_start("bye", NULL);
    kprintf_to(CONSOLE_SERIAL, ",\"patches\":%u,\"kept\":%u,\"refused\":%u,\"garbage\":%u",
               link.patches, link.kept, link.refused, link.garbage);
    line_end();
}

/* -- the benchmarks as clients ------------------------------------------------------------- */

static const struct bench_desc *bench_of(const struct jit_client *c)
{
    return c->ctx;
}

static uintptr_t bench_held(const struct jit_client *c)
{
    return (uintptr_t)slots[c->slot];
}

static void bench_hold(const struct jit_client *c, uintptr_t code)
{
    slots[c->slot] = (fluid_prof_run_fn)code;
}

static void *bench_setup(const struct jit_client *c)
{
    void *arena = kmalloc_aligned(bench_of(c)->mem_bytes(c->size), ARENA_ALIGN);

    bench_of(c)->setup(arena, c->size, BENCH_DEFAULT_SEED);
    return arena;
}

static void bench_call(const struct jit_client *c, void *arena, uintptr_t code)
{
    ((fluid_prof_run_fn)code)(arena, c->size);
}

static void bench_call_profiled(const struct jit_client *c, void *arena)
{
    uint64_t start = fluid_prof_enter(c->slot);

    fluid_prof_value(c->slot, SIZE_ARG, c->size);
    slots[c->slot](arena, c->size);
    fluid_prof_exit(c->slot, start);
}

static uint64_t bench_checksum(const struct jit_client *c, void *arena)
{
    return bench_of(c)->checksum(arena, c->size);
}

void jitlink_run(uint32_t usable)
{
    uintptr_t code[JIT_MAX_SLOTS];
    uint32_t i, count = bench_registry_count < JIT_MAX_SLOTS ? bench_registry_count : JIT_MAX_SLOTS;

    for (i = 0; i < count; i++)
        code[i] = (uintptr_t)dispatch_bench(i)->run;
    if (!jitlink_open(usable, code, count))
        return;
    slots = kmalloc(count * sizeof(*slots));
    for (i = 0; i < count && link.up; i++) {
        const struct bench_entry *e = &bench_registry[i];
        const struct select_result *s = dispatch_selection(i);
        struct jit_client b = {
            .slot = i,
            .name = e->name,
            .variant = s ? s->candidates[s->chosen].variant : "generic",
            .size = test_hooks_bench_size(e->size ? e->size : e->generic->default_size),
            .boot = code[i],
            .held = bench_held,
            .hold = bench_hold,
            .setup = bench_setup,
            .release = kfree,
            .call = bench_call,
            .call_profiled = bench_call_profiled,
            .checksum = bench_checksum,
            .ctx = dispatch_bench(i),
        };

        slots[i] = dispatch_bench(i)->run;
        jitlink_tune(&b);
    }
    jitlink_close();
}

#pragma clang attribute pop
