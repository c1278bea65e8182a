"""The inference engine (src/infer/) under the JIT: a model loaded into the module's engine, and generations.

The module (build/infer_module.bc) holds the engine, both variants of its
forward pass (infer.h's kernel tables) and the profiler runtime. It starts
at tier 0 on the generic kernels, every function behind its slot and
profiled; the forward pass goes hot within a few tokens and tier 2 compiles
it from its tuned counterpart (variants.py: the same source compiled by
clang for the CPU profile), its matrix-vector product and the rest of the
file coming along as internal copies, and swaps it in through its slot
while the generation runs. infer.h lets the kernels change at any time: the
engine's state (struct infer, the arena) has one layout, infer.c's, for
every variant, so no check of a workload is needed before the tuned code
takes over (unlike a benchmark's arena, session.admit_tuned).

A generation is one call of the engine's own loop (``infer_generate``,
src/infer/generate.c), as in the native runner: the prompt, the forward
passes and the sampling run in C, Python only starts it (ctypes releases
its lock, so the optimizer's threads work meanwhile). The loop reads the
profiler's TSC before every forward pass: the generation's wall time (as
the native runner's, the loop's own), the forward passes that ran tier-2
code and the rate of each tier; its CPU time is the thread's around the
call.

Once the tuned code is kept, the forward pass gets a clone specialised to
the model: the driver pins its ``struct infer`` argument (the kernels only
read it, infer.h), whose bytes become constants in the clone
(specialize.py), judged against the general version like any clone.

``warmup`` generations (same prompt, same seed) run first; after them the
run waits until the compilations the profile asked for are swapped in, and
runs up to as many again while the forward pass's new code awaits its
verdict or a clone of it is to come, so that the generation that counts
runs the code the JIT settled on. The model's files are read into memory
laid out as the native runner lays them out (transparent huge pages, the
weights on a cache line), so that both read the same bytes the same way.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import mmap
import statistics
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fluidbuild.atomic import write_bytes, write_text
from fluidjit.config import JitConfig
from fluidjit.errors import JitError
from fluidjit.report import FunctionRow, GenerationRow, JitReport, live_log
from fluidjit.runtime import JitRuntime
from fluidjit.specialize import PinnedObject
from fluidjit.tracked import Event, State, Tracked
from fluidjit.variants import ENGINE_UNIT

ENGINE_SYMBOLS = ("infer_read_config", "infer_checkpoint_bytes", "infer_tokenizer_tokens", "infer_mem_bytes",
                  "infer_init", "infer_encode", "infer_generate", "infer_decode", "infer_sampler_init",
                  "infer_status_name", "infer_status_message", "infer_kernels_generic", "infer_struct_bytes")
# infer.h (other statuses are told apart by their names, infer_status_name)
INFER_OK = 0
HEADER_BYTES = 28
ARENA_ALIGN = 64
HUGE_PAGE_BYTES = 2 << 20
# Checkpoint bytes before a 64-byte boundary: with the 28-byte header the weights
# start on a cache line (infer_main.c's CHECKPOINT_PAD).
CHECKPOINT_PAD = ARENA_ALIGN - HEADER_BYTES
MAX_STEPS = 1 << 20  # infer.h INFER_MAX_SEQ_LEN: more never fits a model
MAX_WARMUP = 1000
MAX_SEED = 2**64 - 1
DEFAULT_TOPP = 0.9  # infer_main.c
LINE_TAG = "FLUID-INFER"  # src/protocol/protocol.toml


class InferConfig(ctypes.Structure):
    """struct infer_config."""

    _fields_ = [(name, ctypes.c_int32) for name in (
        "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len",
        "shared_classifier", "head_size", "kv_dim")]


class Sampler(ctypes.Structure):
    """struct infer_sampler."""

    _fields_ = [("temperature", ctypes.c_float), ("topp", ctypes.c_float), ("state", ctypes.c_uint64)]


class Run(ctypes.Structure):
    """struct infer_run."""

    _fields_ = [
        ("prompt", ctypes.c_void_p), ("n_prompt", ctypes.c_size_t), ("steps", ctypes.c_size_t),
        ("sampler", ctypes.c_void_p), ("stop", ctypes.c_int32), ("tokens", ctypes.c_void_p),
        ("logits", ctypes.c_void_p), ("clock", ctypes.c_void_p), ("stamps", ctypes.c_void_p),
        ("n", ctypes.c_size_t), ("forwards", ctypes.c_size_t),
    ]


@dataclass
class InferRequest:
    """What to generate (the native runner's options, ``infer_main.c``) and how many warm-up
    generations come first."""

    checkpoint: str | Path
    tokenizer: str | Path
    prompt: str = ""
    steps: int = 64
    temperature: float = 0.0
    topp: float = DEFAULT_TOPP
    seed: int = 1
    stop: bool = False  # end after a generated BOS or EOS
    warmup: int = 0  # generations before the one that counts
    logits_file: str | Path | None = None  # every forward pass's logits of the one that counts

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= MAX_STEPS:
            raise JitError(f"steps must be within 1..{MAX_STEPS}, not {self.steps}")
        if not 0.0 <= self.temperature <= 1e30:
            raise JitError(f"temperature must be 0 (greedy) or positive, not {self.temperature}")
        if not -1e30 <= self.topp <= 1e30:
            raise JitError(f"topp must be a finite number, not {self.topp}")
        if not 0 <= self.seed <= MAX_SEED:
            raise JitError(f"seed must be within 0..{MAX_SEED}, not {self.seed}")
        if not 0 <= self.warmup <= MAX_WARMUP:
            raise JitError(f"warmup must be within 0..{MAX_WARMUP}, not {self.warmup}")


@dataclass
class InferResult:
    """A run's outcome: the report (functions, events, one row per generation), the
    FLUID-INFER line of the generation that counts, and its text."""

    report: JitReport
    line: dict
    text: bytes  # the prompt and the generated tokens, decoded by the engine

    def line_text(self) -> str:
        """``FLUID-INFER {json}``."""
        return f"{LINE_TAG} {json.dumps(self.line, separators=(',', ':'))}"

    def show(self) -> str:
        """The report's table, the text (bytes that are no UTF-8 replaced) and the line."""
        return "\n".join([self.report.table(), self.text.decode("utf-8", "replace"), self.line_text()])


class PinnedBuffer:
    """Zeroed anonymous memory, ``pad`` bytes past a 2 MiB boundary, transparent huge pages
    asked for: the native runner's map_huge (infer_sys.c), whose reasons hold here too."""

    def __init__(self, nbytes: int, pad: int = 0) -> None:
        # Private: shared anonymous memory is shmem, which gets no transparent huge pages.
        self._map = mmap.mmap(-1, nbytes + pad + HUGE_PAGE_BYTES, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self._anchor = ctypes.c_char.from_buffer(self._map)  # keeps the mapping alive
        base = ctypes.addressof(self._anchor)
        self.offset = (-base) % HUGE_PAGE_BYTES + pad
        self.address = base + self.offset
        self.nbytes = nbytes
        self._map.madvise(mmap.MADV_HUGEPAGE, self.offset - pad, len(self._map) - (self.offset - pad))

    def view(self) -> memoryview:
        return memoryview(self._map)[self.offset:self.offset + self.nbytes]


def read_file(what: str, path: str | Path, pad: int = 0) -> PinnedBuffer:
    """The file at ``path`` in a PinnedBuffer; JitError naming it if it cannot be read."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            buf = PinnedBuffer(size, pad)
            got = f.readinto(buf.view())
    except OSError as exc:
        raise JitError(f"{what} {path}: cannot read it ({exc.strerror})") from None
    if got != size:
        raise JitError(f"{what} {path}: it changed while read")
    return buf


class Engine:
    """The engine's functions in the JIT's module (calls go through their slots)."""

    def __init__(self, rt: JitRuntime) -> None:
        vp, size, i32 = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int32
        fn = rt.function
        self.read_config = fn("infer_read_config", ctypes.c_int, vp, size, vp)
        self.checkpoint_bytes = fn("infer_checkpoint_bytes", ctypes.c_uint64, vp)
        self.tokenizer_tokens = fn("infer_tokenizer_tokens", ctypes.c_int, vp, size, vp)
        self.mem_bytes = fn("infer_mem_bytes", size, vp)
        self.init = fn("infer_init", ctypes.c_int, vp, vp, size, vp, size, vp, size, vp)
        self.encode = fn("infer_encode", ctypes.c_int, vp, ctypes.c_char_p, size, ctypes.c_int, ctypes.c_int,
                         vp, size, vp)
        self.generate = fn("infer_generate", ctypes.c_int, vp, vp)
        self.decode = fn("infer_decode", ctypes.POINTER(ctypes.c_char), vp, i32, i32, vp)
        self.sampler_init = fn("infer_sampler_init", ctypes.c_int, vp, ctypes.c_float, ctypes.c_float,
                               ctypes.c_uint64)
        self.status_name = fn("infer_status_name", ctypes.c_char_p, ctypes.c_int)
        self.status_message = fn("infer_status_message", ctypes.c_char_p, ctypes.c_int)
        self.generic = rt.address("infer_kernels_generic")
        self.struct_bytes = ctypes.c_size_t.from_address(rt.address("infer_struct_bytes")).value
        self.clock = rt.address("fluid_prof_now")

    def name(self, status: int) -> str:
        """The status's short name ("truncated")."""
        return self.status_name(status).decode()

    def status(self, what: str | Path, status: int, detail: str = "") -> JitError:
        """The native runner's message for a failed check: ``<what>: <message> (<name>)<detail>``."""
        return JitError(f"{what}: {self.status_message(status).decode()} ({self.name(status)}){detail}")


class Model:
    """A checkpoint and tokenizer checked and laid out by the engine, on its generic kernels."""

    def __init__(self, engine: Engine, request: InferRequest) -> None:
        self.engine = engine
        self.checkpoint = read_file("checkpoint", request.checkpoint, CHECKPOINT_PAD)
        self.tokenizer = read_file("tokenizer", request.tokenizer)
        self.config = InferConfig()
        ck, tok = self.checkpoint, self.tokenizer
        status = engine.read_config(ck.address, ck.nbytes, ctypes.byref(self.config))
        if status != INFER_OK:
            raise engine.status(request.checkpoint, status, self._size_detail(status))
        count = ctypes.c_uint32()
        status = engine.tokenizer_tokens(tok.address, tok.nbytes, ctypes.byref(count))
        if status != INFER_OK:
            raise engine.status(request.tokenizer, status)
        self.arena_bytes = engine.mem_bytes(ctypes.byref(self.config))
        self.arena = PinnedBuffer(self.arena_bytes)
        self.state = ctypes.create_string_buffer(engine.struct_bytes)
        status = engine.init(self.state, ck.address, ck.nbytes, tok.address, tok.nbytes, self.arena.address,
                             self.arena_bytes, engine.generic)
        if status != INFER_OK and engine.name(status) == "vocab_mismatch":
            raise engine.status(request.tokenizer, status, f": the tokenizer has {count.value} tokens, the "
                                f"checkpoint's vocab_size is {self.config.vocab_size}")
        if status != INFER_OK:
            raise engine.status(request.checkpoint, status)

    def _size_detail(self, status: int) -> str:
        """The sizes behind a truncated or over-long checkpoint, as the native runner tells them."""
        if self.engine.name(status) not in ("truncated", "size_mismatch"):
            return ""
        fields = list(struct.unpack_from("<7i", self.checkpoint.view()))
        header = InferConfig(*fields[:5], abs(fields[5]), fields[6], int(fields[5] > 0))
        return (f": the file has {self.checkpoint.nbytes} bytes, its header's sizes need "
                f"{self.engine.checkpoint_bytes(ctypes.byref(header))}")

    def encode(self, text: bytes, where: str) -> list[int]:
        """BOS and the BPE tokens of ``text``."""
        room = 2 * (len(text) + 3)  # infer_encode's scratch included
        tokens, n = (ctypes.c_int32 * room)(), ctypes.c_size_t()
        status = self.engine.encode(self.state, text, len(text), 1, 0, tokens, room, ctypes.byref(n))
        if status != INFER_OK:
            raise self.engine.status(where, status)
        return tokens[:n.value]

    def text(self, ids: list[int]) -> bytes:
        """The pieces of ``ids`` after the first, each as it follows the one before."""
        out, size = [], ctypes.c_size_t()
        for prev, token in itertools.pairwise(ids):
            piece = self.engine.decode(self.state, prev, token, ctypes.byref(size))
            out.append(ctypes.string_at(piece, size.value))
        return b"".join(out)


@dataclass
class Generation:
    """One call of infer_generate: its tokens, times and the TSC before each forward pass."""

    tokens: list[int]
    forwards: int
    ns: int  # TSC time from the first forward pass to the end of the last step
    cpu_ns: int
    stamps: list[int]
    logits: ctypes.Array | None


def generate(model: Model, prompt: list[int], request: InferRequest, keep_logits: bool,
             tsc_hz: float) -> Generation:
    """One generation from position 0 (the cache is overwritten position by position).

    Its wall time is the TSC's from before the first forward pass to after the last
    step, read in the loop: the time around the foreign call would also count the
    wait for Python's lock when it returns, which the JIT's threads may hold. Its CPU
    time is the thread's around the call (waiting for the lock takes none)."""
    engine, vocab = model.engine, model.config.vocab_size
    forwards = len(prompt) + request.steps - 1
    sampler = Sampler()
    status = engine.sampler_init(ctypes.byref(sampler), request.temperature, request.topp, request.seed)
    if status != INFER_OK:
        raise JitError("temperature or top-p out of range")
    ids = (ctypes.c_int32 * len(prompt))(*prompt)
    tokens = (ctypes.c_int32 * request.steps)()
    stamps = (ctypes.c_uint64 * (forwards + 1))()
    logits = (ctypes.c_float * (forwards * vocab))() if keep_logits else None
    run = Run(prompt=ctypes.addressof(ids), n_prompt=len(prompt), steps=request.steps,
              sampler=ctypes.addressof(sampler), stop=int(request.stop), tokens=ctypes.addressof(tokens),
              logits=ctypes.addressof(logits) if logits is not None else None, clock=engine.clock,
              stamps=ctypes.addressof(stamps))
    cpu = time.thread_time_ns()
    status = engine.generate(model.state, ctypes.byref(run))
    cpu_ns = time.thread_time_ns() - cpu
    if status != INFER_OK:
        raise engine.status("generation", status)
    ns = round((stamps[run.forwards] - stamps[0]) * 1e9 / tsc_hz)
    return Generation(tokens[:run.n], run.forwards, ns, cpu_ns, stamps[:run.forwards + 1], logits)


def _positions_fit(model: Model, prompt: list[int], request: InferRequest) -> None:
    """JitError, worded as the native runner's, when the forward passes pass seq_len."""
    forwards = len(prompt) + request.steps - 1
    if forwards > model.config.seq_len:
        raise JitError(f"prompt: the prompt's {len(prompt)} tokens and {request.steps} steps need "
                       f"{forwards} positions, the model has seq_len {model.config.seq_len}")


def _label(rt: JitRuntime) -> Tracked | None:
    """Name the kernels after their role ("infer.forward"); the forward pass's record."""
    by_token = {t.fn.token: t for t in rt.machine.tracked}
    forward = None
    for role, (generic, _) in rt.tuned_roles(ENGINE_UNIT).items():
        if generic in by_token:
            by_token[generic].label = f"{ENGINE_UNIT}.{role}"
            forward = by_token[generic] if role == "forward" else forward
    if forward is not None:
        forward.arg_names = ("m", "token", "pos")
    return forward


def _admit(rt: JitRuntime) -> str:
    """Let the forward pass go to tier 2 as its tuned variant if it can; "tuned" or
    "generic: <why not>"."""
    why = rt.tuned_obstacle(ENGINE_UNIT)
    if why is None:
        rt.use_tuned(ENGINE_UNIT)
        rt.machine.note(ENGINE_UNIT, "tuned", "one state layout for every variant (infer.h): tier 2 "
                        "compiles the tuned kernels")
        return "tuned"
    rt.machine.note(ENGINE_UNIT, "generic", f"tier 2 compiles the generic kernels: {why}")
    return f"generic: {why}"


def _tier2_window(forward: Tracked | None, rt: JitRuntime) -> tuple[float, float] | None:
    """Milliseconds (profiler clock) from the forward pass's swap to tier-2 code until it
    went back to tier 0 (or the end), or None if it never ran tier-2 code."""
    if forward is None:
        return None
    swapped = [e.ms for e in forward.events if e.kind == "swapped"]
    if not swapped:
        return None
    back = [e.ms for e in forward.events if e.kind == "reverted" and e.ms >= swapped[0]]
    return swapped[0], back[0] if back else float("inf")


def _row(index: int, g: Generation, window: tuple[float, float] | None, rt: JitRuntime,
         same_tokens: bool) -> GenerationRow:
    """The report's row of generation ``g``: its rates per tier from the TSC stamps."""
    starts = [rt.clock.ms(s) for s in g.stamps[:-1]]
    at2 = [window is not None and window[0] <= ms < window[1] for ms in starts]
    spans = [b - a for a, b in itertools.pairwise(g.stamps)]

    def rate(tier2: bool) -> float | None:
        ticks = [s for s, t in zip(spans, at2, strict=True) if t == tier2]
        return len(ticks) * rt.clock.tsc_hz / sum(ticks) if ticks and sum(ticks) else None

    step_ns = [s * 1e9 / rt.clock.tsc_hz for s in spans]
    return GenerationRow(
        index=index, forwards=g.forwards, n=len(g.tokens), ns=g.ns, cpu_ns=g.cpu_ns,
        tok_per_s=g.forwards * 1e9 / g.ns if g.ns else 0.0,
        tok_per_cpu_s=g.forwards * 1e9 / g.cpu_ns if g.cpu_ns else 0.0,
        tier2_forwards=sum(at2), tier0_tok_per_s=rate(False), tier2_tok_per_s=rate(True),
        median_step_ns=statistics.median(step_ns) if step_ns else 0.0, same_tokens=same_tokens)


def infer_line(request: InferRequest, model: Model, prompt: list[int], g: Generation, variant: str,
               warmup_forwards: int, tier2_forwards: int) -> dict:
    """The FLUID-INFER line of generation ``g`` (src/protocol/protocol.toml)."""
    c = model.config
    return {
        "model": str(request.checkpoint), "tokenizer": str(request.tokenizer), "arch": "x86_64",
        "variant": variant, "prompt_tokens": prompt, "tokens": g.tokens, "n": len(g.tokens),
        "forwards": g.forwards, "ns": g.ns, "tok_per_s": round(g.forwards * 1e9 / g.ns, 3) if g.ns else 0.0,
        "cpu_ns": g.cpu_ns, "seed": request.seed, "steps": request.steps, "dim": c.dim,
        "n_layers": c.n_layers, "vocab_size": c.vocab_size, "seq_len": c.seq_len,
        "arena_bytes": model.arena_bytes, "warmup_forwards": warmup_forwards,
        "tier2_forwards": tier2_forwards,
    }


class Inference:
    """A model in the engine of a JIT runtime, its forward pass admitted to tuned tier-2 code
    and pinned to the model, the optimizer started (its monitor too, if ``monitor``):
    generations on demand. ``run_inference`` drives it; a test may take the optimizer's
    steps itself."""

    def __init__(self, rt: JitRuntime, request: InferRequest, monitor: bool = True) -> None:
        self.rt, self.request = rt, request
        config = rt.config
        self.model = Model(Engine(rt), request)
        self.prompt = self.model.encode(request.prompt.encode("utf-8", "surrogateescape"), "prompt")
        _positions_fit(self.model, self.prompt, request)
        self.forward = _label(rt)
        optimize = config.profile and config.optimize
        self.kernels = _admit(rt) if optimize else "generic: tier 0 only"
        if self.forward is not None and config.specialize:
            # The kernels only read struct infer (infer.h), which stays as infer_init left it.
            state = self.model.state
            rt.machine.pin(self.forward, PinnedObject(0, ctypes.addressof(state), bytes(state)))
        rt.optimizer.begin_phase(ENGINE_UNIT)  # before the first poll: loading the model is no workload
        if optimize:
            rt.optimizer.start(monitor)

    def generate(self, keep_logits: bool = False) -> Generation:
        """One generation of the request."""
        return generate(self.model, self.prompt, self.request, keep_logits, self.rt.clock.tsc_hz)

    def settle(self) -> None:
        """Let the optimizer read the profile, and wait until what it decided is swapped in."""
        self.rt.optimizer.poll()
        self.rt.optimizer.wait_idle()

    def warm_up(self, count: int) -> list[Generation]:
        """``count`` generations, then the compilations they asked for; then up to ``count``
        more, each followed by the same wait, while the forward pass's code is still to be
        judged or replaced (a verdict or a clone to come): the generation after these runs
        the code the JIT settled on."""
        runs = [self.generate() for _ in range(count)]
        if runs:
            self.settle()
        forward, machine = self.forward, self.rt.machine
        for _ in range(count):
            if forward is None or machine.settled(forward):
                break
            runs.append(self.generate())
            self.settle()
        return runs

    def result(self, runs: list[Generation]) -> InferResult:
        """Stop the optimizer; the report of ``runs`` (the last one counts) and its line."""
        rt, forward, request = self.rt, self.forward, self.request
        tracked = rt.optimizer.finish()
        final = rt.executor.read_counters(len(tracked))
        window = _tier2_window(forward, rt)
        last = runs[-1]
        rows = [_row(i, g, window, rt, g.tokens == last.tokens) for i, g in enumerate(runs)]
        on_tier2 = forward is not None and forward.code is not None and rows[-1].tier2_forwards \
            and forward.state in (State.TIER2, State.MEASURING, State.SPECIALISING)
        cpu = rt.cpu
        report = JitReport(
            module=str(rt.config.module),
            cpu={"tier0": "x86-64", "tier2": cpu.name, "features": cpu.features, "source": cpu.source},
            config={**_plain(vars(rt.config)), "inference": _plain(vars(request)), "kernels": self.kernels},
            functions=[FunctionRow.of(t, c, rt.clock)
                       for t, c in zip(tracked, final, strict=True) if c.calls],
            events=sorted([*rt.machine.notes, *(e for t in tracked for e in t.events)], key=lambda e: e.ms),
            generations=rows,
        )
        variant = forward.code.variant if on_tier2 else "generic"
        line = infer_line(request, self.model, self.prompt, last, variant, sum(g.forwards for g in runs[:-1]),
                          rows[-1].tier2_forwards)
        return InferResult(report, line, self.model.text(self.prompt + last.tokens))


def _plain(values: dict) -> dict:
    """A dataclass's fields for JSON: paths as strings."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


def run_inference(config: JitConfig, request: InferRequest,
                  log: Callable[[Event], None] | None = None) -> InferResult:
    """Generate ``request`` with the engine of ``config.module`` under the tiered JIT, after
    ``request.warmup`` generations and the compilations they asked for; write
    ``config.report`` (and ``request.logits_file``) if set. Raises JitError for bad input."""
    if log is None:
        log = (lambda event: None) if config.quiet else live_log()
    for what, path in (("checkpoint", request.checkpoint), ("tokenizer", request.tokenizer)):
        if not Path(path).is_file():
            raise JitError(f"{what} {path}: cannot read it (no such file)")
    rt = JitRuntime(config, need=ENGINE_SYMBOLS, log=log)
    try:
        run = Inference(rt, request)
        runs = run.warm_up(request.warmup)
        runs.append(run.generate(keep_logits=request.logits_file is not None))
        result = run.result(runs)
    finally:
        rt.close()
    if request.logits_file is not None:
        write_bytes(str(request.logits_file), bytes(runs[-1].logits))
    if config.report:
        write_text(str(config.report), result.report.to_json())
    return result
