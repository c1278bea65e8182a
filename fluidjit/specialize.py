"""Value specialisation: a clone of a function for the argument values it always gets.

The profiler records, per integer argument, the latest value and how often
it changed. An argument that never changed is a constant in practice
(``run(arena, size)`` gets the same size on every call). Tier 2 then emits

    entry(args):  if (all such args equal their values)  -> body(args with constants)
                  else  fluid_prof_guard_miss(id); tier0_body(args)

with the first call ``alwaysinline``, so the optimiser folds the constants
through its copy of the body (known trip counts, no remainder loops). Any
other value takes the general path, the function's tier-0 code: the guard
keeps the clone correct whatever the caller does next, and tier 2 compiles
one copy of the body, not two. When the guard keeps missing, the optimizer
replaces the clone by a general tier-2 version.
"""

from __future__ import annotations

from dataclasses import dataclass

from fluidjit.instrument import ARG_PREFIX, Instrumented


@dataclass(frozen=True)
class Specialization:
    values: tuple[tuple[int, int], ...]  # (argument position, value as profiled: zero-extended)

    def describe(self, names: tuple[str, ...] = ()) -> str:
        return ", ".join(f"{names[pos] if pos < len(names) else f'arg{pos}'}={value}"
                         for pos, value in self.values)


def choose(fn: Instrumented, args: list[tuple[int, int, int]], min_calls: int) -> Specialization | None:
    """The specialisation for profiled ``args`` [(seen, value, changes) per position], if any."""
    stable = tuple((pos, args[pos][1]) for pos in fn.int_args
                   if args[pos][0] >= min_calls and args[pos][2] == 0)
    return Specialization(stable) if stable else None


def constant(bits: int, value: int) -> str:
    """An LLVM integer literal of width ``bits`` for a zero-extended profiled value."""
    value &= (1 << bits) - 1
    if bits == 1:
        return "true" if value else "false"
    return str(value - (1 << bits) if value >> (bits - 1) else value)


def wrapper(fn: Instrumented, entry: str, body: str, general: str, spec: Specialization,
            attrs: str) -> str:
    """The guarded entry ``@entry`` dispatching to ``@body`` or ``@general`` (symbol tokens),
    followed by the declaration of ``@general``."""
    args = fn.signature.arg_names(ARG_PREFIX)
    known = list(args)
    lines = [fn.define(entry, attrs), "entry:"]
    guard = ""
    for i, (pos, value) in enumerate(spec.values):
        bits = fn.signature.params[pos].int_bits
        known[pos] = constant(bits, value)
        lines.append(f"  %fluid.eq{i} = icmp eq i{bits} {args[pos]}, {known[pos]}")
        if guard:
            lines.append(f"  %fluid.all{i} = and i1 {guard}, %fluid.eq{i}")
        guard = f"%fluid.all{i}" if guard else f"%fluid.eq{i}"
    lines += [f"  br i1 {guard}, label %fluid.special, label %fluid.general", "fluid.special:",
              fn.call(f"@{body}", known, "%fluid.rs") + " alwaysinline", fn.ret("%fluid.rs"),
              "fluid.general:", f"  call void @fluid_prof_guard_miss(i32 {fn.id})",
              fn.call(f"@{general}", args, "%fluid.rg"), fn.ret("%fluid.rg"), "}",
              fn.define(general).replace("define", "declare", 1).removesuffix(" {")]
    return "\n".join(lines)
