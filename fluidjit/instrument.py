"""Tier-0 IR: every function reached through a swappable slot, with profiling.

For each defined function ``@f`` the module gets:

- ``@f.fluid.t0``: the original body, renamed;
- ``@f.fluid.slot``: a pointer global initialised to ``@f.fluid.t0``;
- a new ``@f``: a thunk that loads the slot and calls through it, bracketed by
  the profiler's enter/exit calls (and value-profiling its integer
  arguments).

Renaming only the definition's header keeps every other reference to
``@f`` (direct calls, function pointers stored in globals) pointing at the
thunk, so writing another address into the slot redirects all callers at
their next call. ORC's stub managers would do the same but are not exposed
through llvmlite.

Every symbol becomes external, so tier-2 libraries compiled later can link
against this one by name. The tuned half of the module (variants.py) is
left out: tier 0 runs generic code only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fluidjit import irtext
from fluidjit.module import PROFILER_PREFIX, FluidModule, Signature

BODY_SUFFIX = ".fluid.t0"
SLOT_SUFFIX = ".fluid.slot"
ARG_PREFIX = "fluid.a"
PROFILED_ARGS = 4  # FLUID_PROF_MAX_ARGS in src/runtime/profile.h


@dataclass(frozen=True)
class Instrumented:
    """A function behind a slot; ``id`` is its row in the profiler table."""

    id: int
    token: str
    signature: Signature
    cc: str  # calling convention keyword, "" for C
    ret_attrs: str
    int_args: tuple[int, ...]  # positions of the value-profiled integer arguments

    @property
    def name(self) -> str:
        return irtext.symbol_name(self.token)

    @property
    def body(self) -> str:
        return irtext.symbol_name(irtext.derived(self.token, BODY_SUFFIX))

    @property
    def slot(self) -> str:
        return irtext.symbol_name(irtext.derived(self.token, SLOT_SUFFIX))

    def call(self, callee: str, values: list[str], result: str, kind: str = "call") -> str:
        """A call (``kind``: "call", "musttail call") of a function with this signature;
        ``result`` names the value, if any."""
        sig = self.signature
        call = " ".join(filter(None, [kind, self.cc, sig.ret, f"{callee}({sig.args(values)})"]))
        return f"  {call}" if sig.ret == "void" else f"  {result} = {call}"

    def ret(self, result: str) -> str:
        return "  ret void" if self.signature.ret == "void" else f"  ret {self.signature.ret} {result}"

    def define(self, token: str, attrs: str = "") -> str:
        """The header of a definition of @token with this signature, arguments named %fluid.a<i>."""
        sig = self.signature
        params = sig.args(sig.arg_names(ARG_PREFIX))
        words = ["define", self.cc, self.ret_attrs, sig.ret, f"@{token}({params})", attrs, "{"]
        return " ".join(filter(None, words))


@dataclass
class Tier0Module:
    text: str
    functions: list[Instrumented]
    skipped: dict[str, str]  # symbol name -> why it has no slot


def _skip_reason(token: str, mod: FluidModule, address_taken_labels: set[str]) -> str | None:
    if irtext.symbol_name(token).startswith(PROFILER_PREFIX):
        return "profiler runtime"
    if mod.signatures[token].vararg:
        return "variadic"
    if token in address_taken_labels:
        return "address of a label taken (blockaddress)"
    return None


def _thunk(fn: Instrumented, profile: bool) -> str:
    args = fn.signature.arg_names(ARG_PREFIX)
    load = (f"  %fluid.impl = load atomic ptr, ptr @{irtext.derived(fn.token, SLOT_SUFFIX)} "
            "monotonic, align 8")
    if not profile:
        return "\n".join([fn.define(fn.token), "entry:", load,
                          fn.call("%fluid.impl", args, "%fluid.ret", "musttail call"),
                          fn.ret("%fluid.ret"), "}"])
    # Enter before loading the slot: a call whose entry is timed after a swap
    # (first_tsc) is sure to run the new code.
    lines = [fn.define(fn.token), "entry:", f"  %fluid.start = call i64 @fluid_prof_enter(i32 {fn.id})",
             load]
    for pos in fn.int_args:
        value, bits = args[pos], fn.signature.params[pos].int_bits
        if bits != 64:
            lines.append(f"  %fluid.v{pos} = zext i{bits} {value} to i64")
            value = f"%fluid.v{pos}"
        lines.append(f"  call void @fluid_prof_value(i32 {fn.id}, i32 {pos}, i64 {value})")
    lines.append(fn.call("%fluid.impl", args, "%fluid.ret"))
    lines.append(f"  call void @fluid_prof_exit(i32 {fn.id}, i64 %fluid.start)")
    return "\n".join([*lines, fn.ret("%fluid.ret"), "}"])


def instrument(mod: FluidModule, max_functions: int, profile: bool = True) -> Tier0Module:
    """The tier-0 module text for ``mod``; at most ``max_functions`` get a profiler id."""
    text = mod.text
    labels = {m.group(1) for f in text.functions.values() for line in f.body
              for m in re.finditer(r"blockaddress\(@(\S+?),", line)}
    functions: list[Instrumented] = []
    skipped: dict[str, str] = {}
    bodies, thunks, slots = [], [], []
    tuned_only = mod.variants.tuned_only
    for token, fn in text.functions.items():
        if token in tuned_only:
            continue
        head = irtext.set_linkage(fn.head, "")
        reason = _skip_reason(token, mod, labels)
        if reason is None and profile and len(functions) >= max_functions:
            reason = f"profiler table full ({max_functions} functions)"
        if reason is not None:
            skipped[irtext.symbol_name(token)] = reason
            bodies.append(fn.text(head=head))
            continue
        sig = mod.signatures[token]
        cc, ret_attrs = fn.call_shape(sig.ret)
        int_args = tuple(i for i, p in enumerate(sig.params[:PROFILED_ARGS]) if p.int_bits)
        item = Instrumented(len(functions), token, sig, cc, ret_attrs, int_args)
        functions.append(item)
        bodies.append(fn.text(name=irtext.derived(token, BODY_SUFFIX), head=head))
        thunks.append(_thunk(item, profile))
        slots.append(f"@{irtext.derived(token, SLOT_SUFFIX)} = global ptr "
                     f"@{irtext.derived(token, BODY_SUFFIX)}, align 8")
    globals_ = [line if irtext.global_linkage(line) not in irtext.LOCAL_LINKAGES
                else irtext.with_global_linkage(line, "") for name, line in text.globals.items()
                if name not in tuned_only]
    body = "\n".join([*text.preamble, *globals_, *slots, *bodies, *thunks,
                      *text.declarations.values(), *text.attributes, *text.metadata, ""])
    return Tier0Module(body, functions, skipped)
