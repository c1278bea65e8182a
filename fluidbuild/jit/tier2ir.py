"""Tier-2 IR: one hot function, ready to be optimised for the target CPU.

The module holds the function under a new name, plus, as
``available_externally`` copies, the bodies of every function it can reach,
so the O3 inliner sees what the native compiler would see. Those copies and
every global keep their names: the linker resolves them to the tier-0
library's symbols (callees to their thunks, hence to whatever their slots
hold), and no copy is ever emitted. Per-function target attributes are
rewritten to the tier-2 CPU, which overrides the target machine's.
"""

from __future__ import annotations

import itertools
import re

from fluidbuild.jit import irtext
from fluidbuild.jit.config import TargetCpu
from fluidbuild.jit.module import FluidModule

_TARGET_CPU = re.compile(r'"(target-cpu|tune-cpu)"="[^"]*"')
_TARGET_FEATURES = re.compile(r'"target-features"="[^"]*"')
_FMULADD = re.compile(r"^(\s*)(%\S+) = (?:tail |notail )?call ((?:(?:fast|nnan|ninf|nsz|arcp|contract|afn"
                      r"|reassoc) )*)(.+?) @llvm\.fmuladd\.[\w.]+\((.*)\)(?: #\d+)?(?:, !.*)?$")


def reachable(mod: FluidModule, token: str) -> list[str]:
    """Defined functions reachable from ``token``'s body through direct references."""
    seen, todo = [], [token]
    while todo:
        for ref in sorted(mod.text.functions[todo.pop()].refs()):
            if ref in mod.text.functions and ref not in seen:
                seen.append(ref)
                todo.append(ref)
    return seen


def target_attributes(cpu: TargetCpu) -> str:
    """Inline function attributes naming the tier-2 CPU (for functions the JIT writes)."""
    return f'"target-cpu"="{cpu.name}" "target-features"="{cpu.features}"'


def retarget(attribute_line: str, cpu: TargetCpu) -> str:
    line = _TARGET_CPU.sub(lambda m: f'"{m.group(1)}"="{cpu.name}"', attribute_line)
    return _TARGET_FEATURES.sub(f'"target-features"="{cpu.features}"', line)


def uncontract(body: list[str]) -> list[str]:
    """Split every llvm.fmuladd into fmul and fadd, so no FMA can change a result's rounding."""
    out, fresh = [], itertools.count()
    for line in body:
        m = _FMULADD.match(line)
        if m is None:
            out.append(line)
            continue
        indent, result, flags, ty, args = m.groups()
        a, b, c = (arg[len(ty):].strip() for arg in irtext.split_top_level(args))
        product = f"%fluid.fmul{next(fresh)}"
        out.append(f"{indent}{product} = fmul {flags}{ty} {a}, {b}")
        out.append(f"{indent}{result} = fadd {flags}{ty} {product}, {c}")
    return out


def _shared_global(line: str) -> str:
    """A global as a reference to the tier-0 library's copy: initializer kept for constant
    folding, never emitted, addressed through the GOT (the libraries may be far apart)."""
    line = irtext.with_global_linkage(line, "available_externally")
    return line.replace(" dso_local ", " ", 1)


def build(mod: FluidModule, token: str, entry: str, cpu: TargetCpu, fp_contract: bool,
          linkage: str = "", extra: tuple[str, ...] = ()) -> str:
    """Module text defining ``@entry`` (with ``linkage``) as the body of ``@token``, plus what it
    may inline and the ``extra`` function texts."""
    text = mod.text
    inlinable = reachable(mod, token)
    edit = (lambda body: body) if fp_contract else uncontract
    functions = []
    for ref in inlinable:
        fn = text.functions[ref]
        head = irtext.set_linkage(fn.head, "available_externally").replace(" dso_local ", " ")
        functions.append(irtext.Function(ref, head, fn.params, irtext.COMDAT_USE.sub("", fn.tail),
                                         edit(fn.body)).text())
    fn = text.functions[token]
    own = irtext.Function(entry, irtext.set_linkage(fn.head, linkage), fn.params,
                          irtext.COMDAT_USE.sub("", fn.tail), edit(fn.body))
    functions += [own.text(), *extra]
    declared = [f.declaration().replace(" dso_local ", " ") for t, f in text.functions.items()
                if t not in inlinable]
    globals_ = [_shared_global(line) for name, line in text.globals.items()
                if not irtext.symbol_name(name).startswith("llvm.")]
    preamble = [line for line in text.preamble if not line.startswith("$")]
    return "\n".join([*preamble, *globals_, *functions, *declared, *text.declarations.values(),
                      *(retarget(a, cpu) for a in text.attributes), *text.metadata, ""])
