"""The two tiers' compilers, on one LLJIT instance.

Tier 0 compiles the whole instrumented module once, fast: its IR is used as
clang left it and only the code generator runs, for the generic x86-64 CPU.
Tier 2 compiles one function at a time: the O3 pipeline with loop and SLP
vectorisation and unrolling, then code generation, both for the target CPU.

Each compilation becomes its own JIT library (a library name can never be
reused, so every tier-2 library gets a fresh one) linked against the tier-0
library, whose exported symbols resolve every reference. Objects are
emitted by our own target machines and handed to LLJIT, so each tier picks
its CPU and optimisation level. Libraries stay loaded until the compiler is
dropped: a swapped-out version may still be running on another thread.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from fluidbuild.jit.config import TargetCpu

TIER0_LIBRARY = "fluid.t0"


class CompileError(Exception):
    """A tier-2 compilation failed; the message is one line."""


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


@dataclass(frozen=True)
class Tier2Code:
    address: int
    library: str
    compile_ms: float  # parse + optimise + codegen + link
    fused_fma: bool  # its IR has llvm.fmuladd: a*b+c may round once (FMA) on the tier-2 CPU


class Compiler:
    def __init__(self, triple: str, tier0_opt: int, tier2_cpu: TargetCpu, tier2_opt: int) -> None:
        import llvmlite.binding as llvm

        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self._llvm = llvm
        target = llvm.Target.from_triple(triple)
        generic = TargetCpu.generic()
        self._tm0 = target.create_target_machine(cpu=generic.name, features=generic.features,
                                                 opt=tier0_opt, reloc="pic", codemodel="small", jit=True)
        self._tm2 = target.create_target_machine(cpu=tier2_cpu.name, features=tier2_cpu.features,
                                                 opt=tier2_opt, reloc="pic", codemodel="small", jit=True)
        self._tier2_opt = tier2_opt
        self._jit = llvm.create_lljit_compiler()
        self._libraries: list[object] = []
        self._serial = itertools.count(1)

    def tier0(self, text: str, exports: list[str]) -> dict[str, int]:
        """Compile and load the tier-0 module; the addresses of ``exports``.

        Raises RuntimeError with LLVM's message (the caller names the module)."""
        module = self._llvm.parse_assembly(text)
        module.verify()
        obj = self._tm0.emit_object(module)
        builder = self._llvm.JITLibraryBuilder().add_object_img(obj)
        for name in exports:
            builder.export_symbol(name)
        tracker = builder.link(self._jit, TIER0_LIBRARY)
        self._libraries.append(tracker)
        return {name: tracker[name] for name in exports}

    def tier2(self, text: str, entry: str) -> Tier2Code:
        """Optimise, compile and load one tier-2 module; the address of ``entry``."""
        llvm = self._llvm
        start = time.perf_counter()
        library = f"fluid.t2.{next(self._serial)}.{entry}"
        try:
            context = llvm.create_context()
            module = llvm.parse_assembly(text, context=context)
            module.verify()
            tuning = llvm.create_pipeline_tuning_options(speed_level=self._tier2_opt)
            vectorize = self._tier2_opt >= 2
            tuning.loop_vectorization = vectorize
            tuning.slp_vectorization = vectorize
            tuning.loop_unrolling = vectorize
            passes = llvm.create_pass_builder(self._tm2, tuning)
            passes.getModulePassManager().run(module, passes)
            obj = self._tm2.emit_object(module)
            tracker = (llvm.JITLibraryBuilder().add_object_img(obj).add_jit_library(TIER0_LIBRARY)
                       .export_symbol(entry).link(self._jit, library))
        except RuntimeError as exc:
            raise CompileError(_one_line(exc)) from None
        self._libraries.append(tracker)
        fused = "@llvm.fmuladd." in text
        return Tier2Code(tracker[entry], library, (time.perf_counter() - start) * 1e3, fused)
