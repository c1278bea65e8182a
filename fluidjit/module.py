"""Loading a Fluid module's bitcode and checking that the JIT can run it.

Everything that can be wrong with the input is found here, before any code
is compiled, and reported as one JitError line: an unreadable file, bytes
that are not bitcode, bitcode for another target, a symbol used but defined
nowhere, a missing profiler runtime.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fluidjit import irtext
from fluidjit.errors import JitError, first_line
from fluidjit.variants import Variants
from fluidjit.variants import find as find_variants

if TYPE_CHECKING:  # llvmlite is imported when a module is read
    from llvmlite.binding import ModuleRef, ValueRef

JIT_ARCH = "x86_64"
# The profiler runtime (src/runtime/profile.c) every instrumented module links.
PROFILER_SYMBOLS = ("fluid_prof_enter", "fluid_prof_exit", "fluid_prof_value", "fluid_prof_guard_miss",
                    "fluid_prof_now", "fluid_prof_time_runs", "fluid_prof_table",
                    "fluid_prof_record_size")
PROFILER_PREFIX = "fluid_prof_"
# Memory intrinsics LLVM may lower to calls of the C function of that name.
LIBCALL_INTRINSICS = {"llvm.memcpy.": "memcpy", "llvm.memmove.": "memmove", "llvm.memset.": "memset"}
# Parameter attributes that change how arguments are passed: a thunk must
# repeat them, or caller and callee disagree on the calling sequence.
ABI_ATTRIBUTES = frozenset({"zeroext", "signext", "inreg", "byval", "sret", "byref", "inalloca",
                            "preallocated", "align", "noundef", "nest", "swiftself", "swifterror"})
_PLAIN_NAME = re.compile(r"[-a-zA-Z$._][-a-zA-Z$._0-9]*")
_INT_TYPE = re.compile(r"i(\d+)")


def token_of(name: str) -> str:
    """How LLVM prints the symbol ``name`` after ``@``."""
    if _PLAIN_NAME.fullmatch(name):
        return name
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\{ord(c):02X}"
                         for c in name) + '"'


@dataclass(frozen=True)
class Param:
    type: str
    attrs: tuple[str, ...]  # ABI attributes only

    @property
    def int_bits(self) -> int | None:
        """The width of an integer parameter of at most 64 bits, else None."""
        m = _INT_TYPE.fullmatch(self.type)
        return int(m.group(1)) if m and int(m.group(1)) <= 64 else None


@dataclass(frozen=True)
class Signature:
    ret: str
    params: tuple[Param, ...]
    vararg: bool

    def args(self, values: list[str]) -> str:
        """A parameter or argument list passing ``values`` with the ABI attributes."""
        return ", ".join(" ".join([p.type, *p.attrs, v]) for p, v in zip(self.params, values, strict=True))

    def arg_names(self, prefix: str) -> list[str]:
        return [f"%{prefix}{i}" for i in range(len(self.params))]


@dataclass
class FluidModule:
    """A validated module: its text in pieces and the signature of each defined function."""

    triple: str
    text: irtext.Module
    signatures: dict[str, Signature]  # by symbol token
    profile_capacity: int  # rows of fluid_prof_table
    variants: Variants  # the tuned half, which tier 0 leaves out


def _signature(fn: ValueRef) -> Signature:
    ftype = fn.global_value_type
    params = []
    for arg in fn.arguments:
        kept = tuple(a.decode() for a in arg.attributes
                     if re.split(r"[ (]", a.decode(), maxsplit=1)[0] in ABI_ATTRIBUTES)
        params.append(Param(str(arg.type), kept))
    return Signature(str(ftype.get_function_return()), tuple(params), ftype.is_function_vararg)


def read_bitcode(path: str | Path) -> ModuleRef:
    """Parse ``path`` as LLVM bitcode, or raise JitError."""
    import llvmlite.binding as llvm

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise JitError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        # A context of its own: the global one would rename the struct types of a module
        # read twice in one process, and with them the text of every tier-2 request.
        return llvm.parse_bitcode(data, context=llvm.create_context())
    except RuntimeError as exc:
        raise JitError(f"{path}: not LLVM bitcode ({first_line(str(exc), 'parse error')})") from None


def load_module(path: str | Path, need: tuple[str, ...] = ()) -> FluidModule:
    """Read and check ``path``; ``need`` names symbols the caller will look up."""
    mod = read_bitcode(path)
    arch = mod.triple.split("-", 1)[0]
    if arch != JIT_ARCH:
        raise JitError(f"{path}: foreign bitcode: target triple '{mod.triple}', "
                       f"this JIT runs {JIT_ARCH} code")
    defined = {f.name for f in mod.functions if not f.is_declaration}
    defined |= {g.name for g in mod.global_variables if not g.is_declaration}
    for fn in mod.functions:
        if fn.is_declaration and not fn.name.startswith("llvm."):
            raise JitError(f"{path}: undefined symbol '{fn.name}' (used, defined nowhere in the module)")
        for prefix, libcall in LIBCALL_INTRINSICS.items():
            if fn.name.startswith(prefix) and libcall not in defined:
                raise JitError(f"{path}: missing symbol '{libcall}': the module uses {fn.name}, "
                               f"which compiles to calls of {libcall} (link src/runtime/klib.c)")
    for gv in mod.global_variables:
        if gv.is_declaration:
            raise JitError(f"{path}: undefined symbol '{gv.name}' (used, defined nowhere in the module)")
    for name in (*PROFILER_SYMBOLS, *need):
        if name not in defined:
            hint = " (link src/runtime/profile.c)" if name.startswith(PROFILER_PREFIX) else ""
            raise JitError(f"{path}: missing symbol '{name}'{hint}")
    signatures = {token_of(f.name): _signature(f) for f in mod.functions if not f.is_declaration}
    text = irtext.Module.parse(str(mod))
    return FluidModule(
        triple=mod.triple,
        text=text,
        signatures=signatures,
        profile_capacity=mod.get_global_variable("fluid_prof_table").global_value_type.element_count,
        variants=find_variants(text),
    )
