"""A Fluid module running under the tiered JIT: where the compiler, the executor and the optimizer meet.

JitRuntime loads and checks the module (module.py), instruments it for
tier 0 (instrument.py), has the compiler (compiler.py) compile it and the
executor (executor.py; InProcessExecutor, inprocess.py) link it, attaches
the profiler, and sets up the optimizer (a TierStateMachine run by an
Optimizer). Tier-2 versions are made here too, for the state machine
(``_make_tier2``): their IR built (tier2ir.py), compiled for the tier-2 CPU
and linked against tier 0. The compiler never sees the executor: this
module hands each object file from the one to the other.
"""

from __future__ import annotations

import ctypes
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fluidjit import irtext, tier2ir, variants
from fluidjit.compiler import ObjectCache, ObjectCompiler
from fluidjit.config import JitConfig, TargetCpu
from fluidjit.errors import CompileError, JitError
from fluidjit.executor import Executor
from fluidjit.inprocess import InProcessExecutor
from fluidjit.instrument import BODY_SUFFIX, Instrumented, instrument
from fluidjit.module import PROFILER_SYMBOLS, load_module
from fluidjit.optimizer import Optimizer
from fluidjit.policy import Thresholds
from fluidjit.specialize import Specialization, wrapper
from fluidjit.state_machine import TierStateMachine
from fluidjit.tracked import Event, Tier2Code, Tracked

TIER0_LIBRARY = "fluid.t0"
TIER2_SUFFIX = ".fluid.t2."
PROBE_SUFFIX = ".fluid.probe"
# What the arena check runs of a benchmark's tuned variant (see tuned_probe), compiled
# as clang left it with fast instruction selection: it runs once, and waiting for it
# delays the workload's first run().
PROBE_ROLES = ("mem_bytes", "setup", "regions")
PROBE_CODEGEN = 0


@dataclass(frozen=True)
class Linked:
    """Code compiled and linked into the executor: a library and its exports' addresses."""

    addresses: dict[str, int]
    library: str
    ms: float  # request to callable address: optimise, codegen (or cache), link
    cached: bool  # the object file came from the cache


class JitRuntime:
    """Load ``config.module`` at tier 0 into ``executor`` (default: this process, which the
    workload driver and ``function`` need); ``need`` names extra symbols to export (e.g.
    the registry). The runtime closes the executor when it is closed."""

    def __init__(self, config: JitConfig, need: tuple[str, ...] = (),
                 log: Callable[[Event], None] = lambda event: None,
                 executor: Executor | None = None) -> None:
        self.config = config
        self.cpu: TargetCpu = config.tier2_cpu()
        cache = ObjectCache(Path(config.cache_dir)) if config.cache_dir else None
        self.compiler = ObjectCompiler(cache)
        self.executor: Executor = executor or InProcessExecutor()
        self._libraries = itertools.count(1)  # serial numbers of the tier-2 libraries
        try:
            self._load(need, log)
        except BaseException:
            self.compiler.close()
            self.executor.close()
            raise

    def _load(self, need: tuple[str, ...], log: Callable[[Event], None]) -> None:
        config = self.config
        self.module = load_module(config.module, need)
        self.tier0 = instrument(self.module, self.module.profile_capacity, config.profile)
        exports = [*PROFILER_SYMBOLS, *need]
        for fn in self.tier0.functions:
            exports += [fn.name, fn.body, fn.slot]
        exports += [name for name in self.tier0.skipped if name not in exports]
        try:
            self.addresses = self._compile_and_link(self.tier0.text, exports, TargetCpu.generic(),
                                                    config.tier0_opt, None, TIER0_LIBRARY).addresses
        except CompileError as exc:
            raise JitError(f"{config.module}: tier-0 compilation failed: {exc}") from None
        self.clock = self.executor.attach_profiler(self.addresses, self.module.profile_capacity)
        tracked = [Tracked(fn, fn.name, self.addresses[fn.slot], self.addresses[fn.body])
                   for fn in self.tier0.functions] if config.profile else []
        self._link_units(tracked)
        self.machine = TierStateMachine(
            tracked, self.executor, self.clock, self._make_tier2,
            Thresholds(config.hot_calls, config.hot_share, config.verify_calls, config.revert_margin),
            log, config.specialize)
        self.optimizer = Optimizer(self.machine, config.poll_ms)

    def _compile_and_link(self, text: str, exports: list[str], cpu: TargetCpu, codegen: int,
                          passes: int | str | None, library: str, against: str | None = None) -> Linked:
        """Compile ``text`` for ``cpu`` (IR passes ``passes``, see compile_server, and code
        generation at level ``codegen``) and link it into the executor as ``library``."""
        start = time.perf_counter()
        obj = self.compiler.compile(text, self.module.triple, cpu, codegen, passes)
        addresses = self.executor.link(library, obj.data, exports, against)
        return Linked(addresses, library, (time.perf_counter() - start) * 1e3, obj.cached)

    def _compile_and_link_tier2(self, text: str, exports: list[str], passes: int | str | None,
                    codegen: int) -> Linked:
        """Compile ``text`` for the tier-2 CPU and link it against tier 0, as a new library."""
        library = f"fluid.t2.{next(self._libraries)}.{exports[0]}"
        return self._compile_and_link(text, exports, self.cpu, codegen, passes, library, TIER0_LIBRARY)

    def _link_units(self, tracked: list[Tracked]) -> None:
        """Give each function the descriptor functions with a tuned counterpart whose
        file-local callees (the functions their tuned code replaces) it is among."""
        text = self.module.text
        local = {f for f, fn in text.functions.items() if fn.linkage in irtext.LOCAL_LINKAGES}
        by_token = {t.fn.token: t for t in tracked}
        for generic in self.module.variants.counterparts:
            root = by_token.get(generic)
            if root is None:
                continue
            start = {r for r in text.functions[generic].refs() if r in local}
            for token in variants.closure(text, start, local) - {generic}:
                if token in by_token:
                    by_token[token].units += (root,)

    def tuned_roles(self, unit: str) -> dict[str, tuple[str, str]]:
        """Role -> (generic, tuned) function tokens of the descriptors of ``unit`` (a
        benchmark, or variants.ENGINE_UNIT)."""
        return self.module.variants.units.get(unit, {})

    def tuned_obstacle(self, unit: str) -> str | None:
        """Why the tuned functions of ``unit`` cannot replace its generic ones, or None."""
        roles = self.tuned_roles(unit)
        if not roles.keys() & variants.REPEATED_ROLES:
            return "the module has no tuned variant of it"
        for role, (generic, tuned) in roles.items():
            if self.module.signatures[generic] != self.module.signatures[tuned]:
                return f"its tuned {role} has another signature"
            why = tier2ir.obstacle(self.module, tuned, self.cpu)
            if why:
                return f"tuned {role}: {why}"
        return None

    def tuned_probe(self, bench: str) -> dict[str, int]:
        """Compile the tuned variant's mem_bytes, setup and regions of ``bench`` for the arena
        check; their addresses by role. Raises CompileError."""
        roles = {role: tokens for role, tokens in self.tuned_roles(bench).items() if role in PROBE_ROLES}
        entries = {irtext.derived(generic, PROBE_SUFFIX): tuned for generic, tuned in roles.values()}
        text = tier2ir.build(self.module, entries, self.cpu, self.config.fp_contract)
        exports = [irtext.symbol_name(e) for e in entries]
        loaded = self._compile_and_link_tier2(text, exports, passes=None, codegen=PROBE_CODEGEN)
        return {role: loaded.addresses[irtext.symbol_name(irtext.derived(generic, PROBE_SUFFIX))]
                for role, (generic, _) in roles.items()}

    def use_tuned(self, unit: str) -> None:
        """Let every descriptor function of ``unit`` go to tier 2 as its tuned counterpart."""
        by_token = {t.fn.token: t for t in self.machine.tracked}
        for role, (generic, tuned) in self.tuned_roles(unit).items():
            if generic in by_token:
                self.machine.admit(by_token[generic], tuned, repeated=role in variants.REPEATED_ROLES)

    def address(self, name: str) -> int:
        """The address of an exported symbol (a function's thunk for instrumented functions)."""
        if name not in self.addresses:
            raise JitError(f"{self.config.module}: missing symbol '{name}'")
        return self.addresses[name]

    def function(self, name: str, restype: object, *argtypes: object) -> Callable:
        """A ctypes callable for function ``name`` (calls go through its slot); the executor
        must be this process."""
        return ctypes.CFUNCTYPE(restype, *argtypes)(self.address(name))

    def tracked(self, name: str) -> Tracked:
        """The record of instrumented function ``name``."""
        for t in self.machine.tracked:
            if t.fn.name == name:
                return t
        raise JitError(f"{self.config.module}: function '{name}' is not instrumented")

    def use_tier0(self) -> list[tuple[int, int]]:
        """Point every slot back at its tier-0 code; returns what to restore."""
        saved = []
        for t in self.machine.tracked:
            saved.append((t.slot, self.executor.read_slot(t.slot)))
            self.executor.write_slot(t.slot, t.tier0_address)
        return saved

    def restore(self, saved: list[tuple[int, int]]) -> None:
        """Put back the slots ``use_tier0`` saved."""
        for slot, value in saved:
            self.executor.write_slot(slot, value)

    def _make_tier2(self, fn: Instrumented, spec: Specialization | None, tuned: str | None) -> Tier2Code:
        """Build, optimise, compile and link a tier-2 version of ``fn``, from its tuned
        counterpart ``tuned`` if given (runs on the optimizer's compiler thread)."""
        variant = "tuned" if tuned else "generic"
        # Named after what it is, not when it was made: the same request in a later run
        # is the same object file (ObjectCache).
        suffix = variant + spec.suffix if spec else variant
        entry = irtext.derived(fn.token, TIER2_SUFFIX + suffix)
        source, cfg = tuned or fn.token, self.config
        if spec is None:
            text = tier2ir.build(self.module, {entry: source}, self.cpu, cfg.fp_contract)
        else:
            body = irtext.derived(entry, ".body")
            general = irtext.derived(fn.token, BODY_SUFFIX)
            guard = wrapper(fn, entry, body, general, spec, tier2ir.target_attributes(self.cpu))
            text = tier2ir.build(self.module, {body: source}, self.cpu, cfg.fp_contract,
                                 linkage="internal", extra=(guard,), inline_tuned=bool(spec.objects))
        fused = cfg.fp_contract and "@llvm.fmuladd." in text
        # Tuned code is clang's O3 output for the profile CPU: code generation is all it
        # needs, and folding in a specialisation's constants (compile_server.FOLD_PASSES).
        # A default pipeline over it made no faster code (scripts/bench_jit.py) and took
        # two to four times as long. A pinned object's constants are another matter: they
        # are sizes and addresses the body passes on to its callees, which take them as
        # constants only inlined (tier2ir.build's inline_tuned), and it takes the full
        # pipeline (loops with known trip counts) to turn them into code, as clang would
        # from a source with those constants (README "Under the JIT").
        passes: int | str | None = cfg.tier2_opt
        if tuned is not None and not (spec and spec.objects):
            passes = "fold" if spec else None
        name = irtext.symbol_name(entry)
        linked = self._compile_and_link_tier2(text, [name], passes, cfg.tier2_opt)
        return Tier2Code(linked.addresses[name], linked.library, linked.ms, fused, variant, linked.cached)

    def close(self) -> None:
        """Stop the optimizer's threads, the compiler process and the executor (JIT code
        stays loaded)."""
        self.optimizer.close()
        self.compiler.close()
        self.executor.close()
