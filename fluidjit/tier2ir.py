"""Tier-2 IR: one hot function, ready to be optimised for the target CPU.

The module holds the function under a new name, plus, as
``available_externally`` copies, the bodies of every function it can reach,
so the O3 inliner sees what the native compiler would see. Those copies and
every global keep their names: the linker resolves them to the tier-0
library's symbols (callees to their thunks, hence to whatever their slots
hold), and no copy is ever emitted. The function may come from the tuned
half of the module (variants.py): its file-local callees and constants
exist in no tier-0 library and are emitted with it. Per-function target
attributes are rewritten to the tier-2 CPU, which overrides the target
machine's.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from fluidjit import irtext, variants
from fluidjit.config import TargetCpu
from fluidjit.module import FluidModule

_TARGET_CPU = re.compile(r'"(target-cpu|tune-cpu)"="[^"]*"')
_TARGET_FEATURES = re.compile(r'"target-features"="[^"]*"')
_ATTRIBUTE_GROUP = re.compile(r"(?<![\w\"])#\d+")
_FMULADD = re.compile(r"^(\s*)(%\S+) = (?:tail |notail )?call ((?:(?:fast|nnan|ninf|nsz|arcp|contract|afn"
                      r"|reassoc) )*)(.+?) @llvm\.fmuladd\.[\w.]+\((.*)\)(?: #\d+)?(?:, !.*)?$")


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


def reachable(mod: FluidModule, sources: list[str]) -> set[str]:
    """Defined functions, and globals of the tuned half, reachable from the bodies of ``sources``."""
    text, tuned_only = mod.text, mod.variants.tuned_only
    follow = set(text.functions) | tuned_only
    start = {r for s in sources for r in text.functions[s].refs() if r in follow}
    return variants.closure(text, start, follow)


def obstacle(mod: FluidModule, source: str, cpu: TargetCpu) -> str | None:
    """Why tier 2 cannot compile the tuned function ``source`` for ``cpu``, or None."""
    text, tuned_only = mod.text, mod.variants.tuned_only
    reach = reachable(mod, [source]) | {source}
    for token in sorted(reach & tuned_only):
        if token in text.globals and not irtext.is_constant(text.globals[token]):
            return f"its code keeps state in @{irtext.symbol_name(token)}, which tier 0 does not share"
    cpus = variants.target_cpus(text, {f for f in reach & tuned_only if f in text.functions} | {source})
    other = sorted(cpus - {cpu.name})
    if other:
        return f"it was compiled for {', '.join(other)}, tier 2 compiles for {cpu.name}"
    return None


def _copy(fn: irtext.Function, name: str, head: str, edit: Callable[[list[str]], list[str]],
          inline: bool = False) -> str:
    """``fn`` as ``@name`` with another head, no comdat, its body passed through ``edit``;
    ``alwaysinline`` if ``inline``."""
    tail = irtext.COMDAT_USE.sub("", fn.tail)
    if inline:
        tail, found = _ATTRIBUTE_GROUP.subn(lambda m: f"alwaysinline {m.group(0)}", tail, count=1)
        tail = tail if found else f"{tail.rstrip()} alwaysinline "
    return irtext.Function(name, head, fn.params, tail, edit(fn.body)).text()


def _inlinable(text: irtext.Module, fn: irtext.Function, cpu: TargetCpu) -> irtext.Function:
    """``fn`` with ``noinline`` dropped: each attribute group of its header that holds it
    written out in place (retargeted, as the groups the module keeps are). The source keeps
    such a function out of line for its own builds (forward.c's matrix-vector product, which
    the kernel's JIT link may replace); a clone that inlines the tuned code into the function
    it specialises gives each call its own constants instead."""
    groups = {line.split(" ", 2)[1]: line for line in text.attributes}

    def written_out(match: re.Match[str]) -> str:
        line = groups.get(match.group(0), "")
        if " noinline " not in line:
            return match.group(0)
        body = retarget(line, cpu).split("{", 1)[1].rsplit("}", 1)[0]
        return " ".join(word for word in body.split(" ") if word and word != "noinline")

    tail = _ATTRIBUTE_GROUP.sub(written_out, fn.tail.replace(" noinline ", " "))
    return irtext.Function(fn.name, fn.head, fn.params, tail, fn.body)


def build(mod: FluidModule, entries: dict[str, str], cpu: TargetCpu, fp_contract: bool,
          linkage: str = "", extra: tuple[str, ...] = (), inline_tuned: bool = False) -> str:
    """Module text defining each ``@entry`` (with ``linkage``) as the body of function
    ``entries[entry]``, plus what they may inline and the ``extra`` function texts.

    Code of the tuned half (variants.py) has no tier-0 symbol to resolve to:
    it is copied with internal linkage, so it is emitted here and, called
    only from these entries, gets their constants propagated into it
    (``inline_tuned``: inlined into them whatever its size, so that each call
    gets its own constants, as a compiler inlines a function whose arguments
    are constants at the call site of a source it starts on). Only
    the globals and declarations the code mentions are written: LLVM parses
    the text on every compilation."""
    text, tuned_only = mod.text, mod.variants.tuned_only
    reach = reachable(mod, list(entries.values()))
    edit = (lambda body: body) if fp_contract else uncontract
    functions, refs = [], {m.group(1) for e in extra for m in irtext.SYMBOL.finditer(e)}
    for ref, fn in text.functions.items():
        if ref not in reach:
            continue
        inline = inline_tuned and ref in tuned_only
        if inline:
            fn = _inlinable(text, fn, cpu)
        if ref in tuned_only:
            head = irtext.set_linkage(fn.head, "internal")
        else:
            head = irtext.set_linkage(fn.head, "available_externally").replace(" dso_local ", " ")
        functions.append(_copy(fn, ref, head, edit, inline))
        refs |= fn.refs()
    for entry, source in entries.items():
        fn = text.functions[source]
        functions.append(_copy(fn, entry, irtext.set_linkage(fn.head, linkage), edit))
        refs |= fn.refs()
    functions += extra
    shown = variants.closure(text, {r for r in refs if r in text.globals}, set(text.globals))
    globals_ = []
    for name, line in text.globals.items():
        if name not in shown or irtext.symbol_name(name).startswith("llvm."):
            continue
        refs |= irtext.global_refs(line)
        if name not in tuned_only:
            globals_.append(_shared_global(line))
        else:
            local = irtext.global_linkage(line) in irtext.LOCAL_LINKAGES
            globals_.append(line if local else irtext.with_global_linkage(line, "internal"))
    declared = [f.declaration().replace(" dso_local ", " ") for t, f in text.functions.items()
                if t in refs and t not in reach]
    code = [*functions, *declared, *text.declarations.values()]
    groups = {g for item in code for g in _ATTRIBUTE_GROUP.findall(item)}
    attributes = [retarget(a, cpu) for a in text.attributes if a.split(" ", 2)[1] in groups]
    preamble = [line for line in text.preamble if not line.startswith("$")]
    return "\n".join([*preamble, *globals_, *code, *attributes, *text.metadata, ""])
