"""The JIT's compiler process: LLVM IR text in, an x86-64 object file out.

LLVM ends the whole process on code-generation errors (an instruction it
cannot select, an ABI the CPU's features cannot honour, bad inline
assembly) instead of returning an error. Compiling in this separate
process keeps such a failure from taking the running workload with it: the
JIT sees this process die, reports the function, and keeps its old code.

Run as a script by fluidjit/compiler.py, which talks to it over
stdin/stdout; it imports nothing from the project. Messages are a 4-byte
little-endian length and a payload. A request is JSON: ``ir`` (module
text), ``triple``, ``cpu``, ``features``, ``codegen`` (0-3) and ``passes``:
the speed level of the default pipeline to run first, ``"fold"`` for
FOLD_PASSES, or null for none; optionally ``reloc``: ``"pic"`` (the
default: code the in-process executor links anywhere) or ``"static"``
(code a linker places at a fixed address: the kernel's patches), and
``llvm_options``: LLVM command-line options to set first (they stay set in
this process; the kernel's link server, whose process serves only it, turns
loop strength reduction back on with ``-disable-lsr=false``). The reply is one status byte (0: the payload
is the object file, 1: it is an error message), then the payload.

Code generation runs without loop strength reduction: on the benchmarks'
loops it took 40% of code-generation time (up to 25 ms of a tier-up) for
no measurable difference in the speed of the code.
"""

from __future__ import annotations

import json
import struct
import sys
from typing import Any, BinaryIO

LENGTH = struct.Struct("<I")
OK, FAILED = 0, 1
# Folding known argument values into code that is already optimised: inline the
# specialised body into its guard (alwaysinline), propagate the constants through
# the module's internal functions, drop what became dead. A fraction of a default
# pipeline's time, and as fast a result on tuned code (no loops to vectorise).
FOLD_PASSES = ("always_inliner", "ipsccp", "global_dead_code_eliminate", "instruction_combine",
               "simplify_cfg")
LLVM_OPTIONS = ("-disable-lsr",)


def read_message(stream: BinaryIO) -> bytes | None:
    """One length-prefixed message, or None at end of input."""
    head = stream.read(LENGTH.size)
    if len(head) < LENGTH.size:
        return None
    return stream.read(LENGTH.unpack(head)[0])


def write_message(stream: BinaryIO, payload: bytes, status: int | None = None) -> None:
    """``payload`` length-prefixed, after the status byte if one is given."""
    if status is not None:
        stream.write(bytes([status]))
    stream.write(LENGTH.pack(len(payload)) + payload)
    stream.flush()


class ObjectEmitter:
    """llvmlite in this process: runs a request's IR passes and emits its object file, with one
    target machine per (triple, CPU, features, code-generation level)."""

    def __init__(self) -> None:
        import llvmlite.binding as llvm

        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        llvm.initialize_native_asmparser()  # inline assembly
        for option in LLVM_OPTIONS:
            llvm.set_option("", option)
        self.llvm = llvm
        self.machines: dict[tuple[str, str, str, int, str], Any] = {}

    def machine(self, triple: str, cpu: str, features: str, codegen: int, reloc: str = "pic") -> Any:
        """The target machine for these, made on first use."""
        key = (triple, cpu, features, codegen, reloc)
        if key not in self.machines:
            target = self.llvm.Target.from_triple(triple)
            self.machines[key] = target.create_target_machine(
                cpu=cpu, features=features, opt=codegen, reloc=reloc, codemodel="small",
                jit=reloc == "pic")
        return self.machines[key]

    def emit(self, request: dict[str, Any]) -> bytes:
        """The object file of ``request`` (see the module docstring); raises RuntimeError."""
        llvm = self.llvm
        for option in request.get("llvm_options", ()):
            llvm.set_option("", option)
        tm = self.machine(request["triple"], request["cpu"], request["features"], request["codegen"],
                          request.get("reloc", "pic"))
        module = llvm.parse_assembly(request["ir"], context=llvm.create_context())
        module.verify()
        level = request["passes"]
        if level == "fold":
            builder = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=1))
            manager = llvm.create_new_module_pass_manager()
            for name in FOLD_PASSES:
                getattr(manager, f"add_{name}_pass")()
            manager.run(module, builder)
        elif level is not None:
            tuning = llvm.create_pipeline_tuning_options(speed_level=level)
            wide = level >= 2
            tuning.loop_vectorization = wide
            tuning.slp_vectorization = wide
            tuning.loop_unrolling = wide
            passes = llvm.create_pass_builder(tm, tuning)
            passes.getModulePassManager().run(module, passes)
        return tm.emit_object(module)


def main() -> int:
    """Serve requests from stdin until it closes."""
    emitter = ObjectEmitter()
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while (message := read_message(source)) is not None:
        try:
            obj = emitter.emit(json.loads(message))
        except RuntimeError as exc:
            write_message(sink, str(exc).encode(), FAILED)
        else:
            write_message(sink, obj, OK)
    return 0


if __name__ == "__main__":
    sys.exit(main())
