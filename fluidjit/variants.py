"""The tuned half of a Fluid module: each benchmark compiled a second time for the CPU profile.

The build links every benchmark source into the module twice (bench.h):
as ``bench_X_generic`` and its functions, compiled for the x86-64 baseline,
and as ``bench_X_tuned``, compiled from the same source with the CPU
profile's flags, so its ``#if defined(__AVX512F__)``-style paths are the
ones the profile CPU takes. No JIT can recover those paths from the generic
IR: they are not in it. The inference engine's module does the same with
its compute kernels (src/infer/infer.h): ``infer_kernels_generic`` and
``infer_kernels_tuned``, the unit ``infer``.

Tier 0 runs the generic half only and never compiles the tuned one. Tier 2
pairs the functions of the two descriptors field by field (``run`` of
``bench_X_generic`` with ``run`` of ``bench_X_tuned``, ``forward`` of the
two kernel tables): the same source function, compiled for the profile
CPU. A descriptor function is the right unit to swap: its signature is the
header's, fixed whatever the compiler did inside the source file, while the
file's static functions may have had arguments removed or constants folded
in differently by each variant.

Whether a tuned function may take over a generic workload is a property of
the benchmark's arena, which bench.h leaves to each variant (fft_1d lays
out its twiddle tables for its vector width): session.admit_tuned checks it
on the live workload before the first run(). The engine's kernels share
one layout of the model's state, infer.c's, and may be switched at any time
(infer.h).
"""

from __future__ import annotations

import re
from collections.abc import Set
from dataclasses import dataclass

from fluidjit import irtext

# struct bench_desc (bench.h): name, unit, default_size, then these function pointers.
DESCRIPTOR_FUNCTIONS = ("mem_bytes", "setup", "run", "checksum", "work", "regions")
FIRST_FUNCTION_FIELD = 3
# struct infer_kernels (src/infer/infer.h): the variant's name, then these function pointers.
KERNEL_FUNCTIONS = ("forward", "matvec", "stream_sum")
FIRST_KERNEL_FIELD = 1
ENGINE_UNIT = "infer"
# The roles a workload calls over and over: a benchmark's run, the engine's forward pass.
REPEATED_ROLES = frozenset({"run", "forward"})
# Descriptor globals (group 1: the unit, group 2: the variant) and their function fields.
_DESCRIPTORS = (
    (re.compile(r"bench_(\w+)_(generic|tuned)"), DESCRIPTOR_FUNCTIONS, FIRST_FUNCTION_FIELD),
    (re.compile(rf"({ENGINE_UNIT})_kernels_(generic|tuned)"), KERNEL_FUNCTIONS, FIRST_KERNEL_FIELD),
)
_TARGET_CPU = re.compile(r'"target-cpu"="([^"]*)"')


@dataclass(frozen=True)
class Variants:
    """Where the tuned half of a module is."""

    tuned_only: frozenset[str]  # symbol tokens only the tuned half uses (no tier-0 code)
    # unit (a benchmark, or ENGINE_UNIT) -> role -> (generic, tuned) tokens
    units: dict[str, dict[str, tuple[str, str]]]

    @property
    def counterparts(self) -> dict[str, str]:
        """Generic function token -> its tuned counterpart."""
        return {g: t for roles in self.units.values() for g, t in roles.values()}


def _descriptor_functions(line: str, roles: tuple[str, ...], first: int) -> dict[str, str]:
    """Role -> function token of a descriptor's initializer, whose fields from ``first``
    on are the functions ``roles``."""
    fields = irtext.split_top_level(line[line.index("{") + 1:line.rindex("}")])
    out = {}
    for role, field in zip(roles, fields[first:], strict=False):
        ref = irtext.SYMBOL.search(field)
        if ref:
            out[role] = ref.group(1)
    return out


def _refs(text: irtext.Module, token: str) -> set[str]:
    if token in text.functions:
        return text.functions[token].refs()
    if token in text.globals:
        return irtext.global_refs(text.globals[token])
    return set()


def _is_local(text: irtext.Module, token: str) -> bool:
    if token in text.functions:
        return text.functions[token].linkage in irtext.LOCAL_LINKAGES
    return token in text.globals and irtext.global_linkage(text.globals[token]) in irtext.LOCAL_LINKAGES


def closure(text: irtext.Module, roots: set[str], follow: Set[str] | None = None) -> set[str]:
    """Defined symbols reachable from ``roots`` through references, entering only ``follow``
    (None: every symbol)."""
    seen, todo = set(roots), list(roots)
    while todo:
        for ref in _refs(text, todo.pop()):
            if ref not in seen and (ref in text.functions or ref in text.globals) \
                    and (follow is None or ref in follow):
                seen.add(ref)
                todo.append(ref)
    return seen


def find(text: irtext.Module) -> Variants:
    """The tuned half of ``text`` and the pairs of descriptor functions."""
    names: dict[tuple[str, str], str] = {}
    kinds: dict[str, tuple[tuple[str, ...], int]] = {}  # unit -> its descriptor's roles, first field
    for token in text.globals:
        for pattern, roles, first in _DESCRIPTORS:
            m = pattern.fullmatch(irtext.symbol_name(token))
            if m:
                names[m.group(1), m.group(2)] = token
                kinds[m.group(1)] = roles, first
    units, tuned_roots = {}, set()
    for (unit, variant), tuned in names.items():
        generic = names.get((unit, "generic"))
        if variant != "tuned" or generic is None:
            continue
        tuned_roots.add(tuned)
        roles, first = kinds[unit]
        g = _descriptor_functions(text.globals[generic], roles, first)
        t = _descriptor_functions(text.globals[tuned], roles, first)
        units[unit] = {role: (g[role], t[role]) for role in roles
                       if role in g and role in t and g[role] in text.functions
                       and t[role] in text.functions and g[role] != t[role]}
    # The tuned half: the tuned descriptors and the file-local symbols they reach,
    # less anything the rest of the module still uses (a registry naming them).
    local = {s for s in [*text.functions, *text.globals] if _is_local(text, s)}
    half = closure(text, tuned_roots, local | tuned_roots)
    outside = [s for s in [*text.functions, *text.globals] if s not in half]
    used = closure(text, {r for s in outside for r in _refs(text, s) if r in half}, half)
    return Variants(frozenset(half - used), units)


def target_cpus(text: irtext.Module, functions: set[str]) -> set[str]:
    """The CPUs (``"target-cpu"``) the given functions were compiled for."""
    groups = {g for f in functions for g in text.functions[f].attribute_groups()}
    return {m.group(1) for line in text.attributes if line.split(" ", 2)[1] in groups
            for m in [_TARGET_CPU.search(line)] if m}
