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

A pointer argument may be pinned too (``PinnedObject``), by a caller that
knows the function only reads the memory it points to (the inference
engine's forward pass and its ``struct infer``: the model's shape and where
its tensors lie). The clone then gets a constant copy of that memory, the
snapshot, in place of the pointer, so every field it loads is a constant;
its guard checks the pointer and, byte for byte, that the memory still
holds the snapshot.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fluidjit import irtext
from fluidjit.instrument import ARG_PREFIX, Instrumented


@dataclass(frozen=True)
class PinnedObject:
    """The memory a pointer argument points to, which the function only reads."""

    position: int  # the argument
    address: int  # the pointer the calls pass
    content: bytes  # the memory as it was when pinned

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.address.to_bytes(8, "little") + self.content).hexdigest()[:16]


@dataclass(frozen=True)
class Specialization:
    values: tuple[tuple[int, int], ...]  # (argument position, value as profiled: zero-extended)
    objects: tuple[PinnedObject, ...] = ()  # pointer arguments whose memory becomes constants

    def describe(self, names: tuple[str, ...] = ()) -> str:
        def name(pos: int) -> str:
            return names[pos] if pos < len(names) else f"arg{pos}"

        return ", ".join([*(f"{name(pos)}={value}" for pos, value in self.values),
                          *(f"*{name(o.position)}={len(o.content)}-byte snapshot" for o in self.objects)])

    @property
    def suffix(self) -> str:
        """What the clone is specialised to, for its name (the same in every run)."""
        return "".join([*(f".{pos}_{value}" for pos, value in self.values),
                        *(f".{o.position}_obj{o.digest}" for o in self.objects)])


def choose(fn: Instrumented, args: list[tuple[int, int, int]], min_calls: int,
           pinned: tuple[PinnedObject, ...] = ()) -> Specialization | None:
    """The specialisation for profiled ``args`` [(seen, value, changes) per position] and the
    ``pinned`` objects, if any."""
    stable = tuple((pos, args[pos][1]) for pos in fn.int_args
                   if args[pos][0] >= min_calls and args[pos][2] == 0)
    return Specialization(stable, pinned) if stable or pinned else None


def constant(bits: int, value: int) -> str:
    """An LLVM integer literal of width ``bits`` for a zero-extended profiled value."""
    value &= (1 << bits) - 1
    if bits == 1:
        return "true" if value else "false"
    return str(value - (1 << bits) if value >> (bits - 1) else value)


def _snapshot(token: str, content: bytes) -> str:
    """The definition of constant ``@token`` holding ``content``."""
    data = "".join(f"\\{b:02X}" for b in content)
    return f'@{token} = internal unnamed_addr constant [{len(content)} x i8] c"{data}", align 64'


def wrapper(fn: Instrumented, entry: str, body: str, general: str, spec: Specialization,
            attrs: str) -> str:
    """The guarded entry ``@entry`` dispatching to ``@body`` or ``@general`` (symbol tokens),
    followed by the declaration of ``@general`` and the snapshots of pinned objects."""
    args = fn.signature.arg_names(ARG_PREFIX)
    known = list(args)
    lines = [fn.define(entry, attrs), "entry:"]
    guard = ""

    def both(condition: str, name: str) -> str:
        if not guard:
            return condition
        lines.append(f"  {name} = and i1 {guard}, {condition}")
        return name

    for i, (pos, value) in enumerate(spec.values):
        bits = fn.signature.params[pos].int_bits
        known[pos] = constant(bits, value)
        lines.append(f"  %fluid.eq{i} = icmp eq i{bits} {args[pos]}, {known[pos]}")
        guard = both(f"%fluid.eq{i}", f"%fluid.all{i}")
    snapshots, widths = [], set()
    for k, obj in enumerate(spec.objects):
        snap, arg, n = irtext.derived(entry, f".snap{k}"), args[obj.position], len(obj.content)
        known[obj.position] = f"@{snap}"
        lines.append(f"  %fluid.at{k} = icmp eq ptr {arg}, inttoptr (i64 {obj.address} to ptr)")
        guard = both(f"%fluid.at{k}", f"%fluid.here{k}")
        # Only then is the memory read: the pointer is the pinned one, the bytes are there.
        lines += [f"  br i1 {guard}, label %fluid.read{k}, label %fluid.general", f"fluid.read{k}:",
                  f"  %fluid.live{k} = load <{n} x i8>, ptr {arg}, align 1",
                  f"  %fluid.want{k} = load <{n} x i8>, ptr @{snap}, align 1",
                  f"  %fluid.same{k} = icmp eq <{n} x i8> %fluid.live{k}, %fluid.want{k}",
                  f"  %fluid.kept{k} = call i1 @llvm.vector.reduce.and.v{n}i1(<{n} x i1> %fluid.same{k})"]
        guard = f"%fluid.kept{k}"
        snapshots.append(_snapshot(snap, obj.content))
        widths.add(n)
    lines += [f"  br i1 {guard}, label %fluid.special, label %fluid.general", "fluid.special:",
              fn.call(f"@{body}", known, "%fluid.rs") + " alwaysinline", fn.ret("%fluid.rs"),
              "fluid.general:", f"  call void @fluid_prof_guard_miss(i32 {fn.id})",
              fn.call(f"@{general}", args, "%fluid.rg"), fn.ret("%fluid.rg"), "}",
              fn.define(general).replace("define", "declare", 1).removesuffix(" {"), *snapshots,
              *(f"declare i1 @llvm.vector.reduce.and.v{n}i1(<{n} x i1>)" for n in sorted(widths))]
    return "\n".join(lines)
