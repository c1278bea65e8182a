"""A Fluid module running under the tiered JIT: tier 0 loaded, profiler and optimizer attached."""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from fluidbuild.jit import irtext, tier2ir
from fluidbuild.jit.compiler import CompileError, Compiler, Tier2Code
from fluidbuild.jit.config import JitConfig, TargetCpu
from fluidbuild.jit.errors import JitError
from fluidbuild.jit.instrument import BODY_SUFFIX, Instrumented, instrument
from fluidbuild.jit.module import PROFILER_SYMBOLS, load_module
from fluidbuild.jit.optimizer import Event, Optimizer, Tracked
from fluidbuild.jit.policy import Thresholds
from fluidbuild.jit.profiler import Profiler
from fluidbuild.jit.specialize import Specialization, wrapper

TIER2_SUFFIX = ".fluid.t2."


class JitRuntime:
    """Load ``config.module`` at tier 0; ``need`` names extra symbols to export (e.g. the registry)."""

    def __init__(self, config: JitConfig, need: tuple[str, ...] = (),
                 log: Callable[[Event], None] = lambda event: None) -> None:
        self.config = config
        self.cpu: TargetCpu = config.tier2_cpu()
        self.compiler = Compiler(config.tier0_opt, self.cpu, config.tier2_opt)
        try:
            self._load(need, log)
        except BaseException:
            self.compiler.close()
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
            self.addresses = self.compiler.tier0(self.tier0.text, self.module.triple, exports)
        except CompileError as exc:
            raise JitError(f"{config.module}: tier-0 compilation failed: {exc}") from None
        self.profiler = Profiler(
            self.addresses["fluid_prof_table"], self.module.profile_capacity,
            ctypes.c_uint32.from_address(self.addresses["fluid_prof_record_size"]).value,
            self.addresses["fluid_prof_now"])
        self._serial = 0
        tracked = [Tracked(fn, fn.name, self.addresses[fn.slot], self.addresses[fn.body])
                   for fn in self.tier0.functions] if config.profile else []
        self.optimizer = Optimizer(
            tracked, self.profiler, self._compile,
            Thresholds(config.hot_calls, config.hot_share, config.verify_calls, config.revert_margin),
            log, config.specialize, config.poll_ms)

    def address(self, name: str) -> int:
        """The address of an exported symbol (a function's thunk for instrumented functions)."""
        if name not in self.addresses:
            raise JitError(f"{self.config.module}: missing symbol '{name}'")
        return self.addresses[name]

    def function(self, name: str, restype: object, *argtypes: object) -> Callable:
        """A ctypes callable for function ``name`` (calls go through its slot)."""
        return ctypes.CFUNCTYPE(restype, *argtypes)(self.address(name))

    def tracked(self, name: str) -> Tracked:
        for t in self.optimizer.tracked:
            if t.fn.name == name:
                return t
        raise JitError(f"{self.config.module}: function '{name}' is not instrumented")

    def use_tier0(self) -> list[tuple[int, int]]:
        """Point every slot back at its tier-0 code; returns what to restore."""
        saved = []
        for t in self.optimizer.tracked:
            cell = ctypes.c_uint64.from_address(t.slot)
            saved.append((t.slot, cell.value))
            cell.value = t.tier0_address
        return saved

    @staticmethod
    def restore(saved: list[tuple[int, int]]) -> None:
        for slot, value in saved:
            ctypes.c_uint64.from_address(slot).value = value

    def _compile(self, fn: Instrumented, spec: Specialization | None) -> Tier2Code:
        """Build, optimise and load a tier-2 version of ``fn`` (runs on the compiler thread)."""
        self._serial += 1
        entry = irtext.derived(fn.token, f"{TIER2_SUFFIX}{self._serial}")
        cfg = self.config
        if spec is None:
            text = tier2ir.build(self.module, fn.token, entry, self.cpu, cfg.fp_contract)
        else:
            body = irtext.derived(entry, ".body")
            general = irtext.derived(fn.token, BODY_SUFFIX)
            guard = wrapper(fn, entry, body, general, spec, tier2ir.target_attributes(self.cpu))
            text = tier2ir.build(self.module, fn.token, body, self.cpu, cfg.fp_contract,
                                 linkage="internal", extra=(guard,))
        fused = cfg.fp_contract and "@llvm.fmuladd." in text
        return self.compiler.tier2(text, self.module.triple, irtext.symbol_name(entry), fused)

    def close(self) -> None:
        """Stop the optimizer's threads and the compiler process (JIT code stays loaded)."""
        self.optimizer.close()
        self.compiler.close()
