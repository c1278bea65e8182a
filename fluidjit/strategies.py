"""How the kernel's link server compiles a function: strategies, and the plan of them per function.

The kernel times each patch against the code its slot holds and keeps the
faster, so the host need not guess the best code: it offers a few ways of
compiling the function, one per round (``JIT_MAX_ROUNDS``), and the guest's
own measurement decides. A strategy is written ``<target>-<pipeline>[+spec][+br]``:

- target ``boot``: every function keeps the CPU, tuning and features the
  kernel's build gave it (the variant the kernel measured fastest at boot);
  ``guest``: the guest's CPUID (remote.GuestCpu), for every function;
- pipeline ``fold`` (inline the specialised body, propagate constants,
  clean up: compile_server.FOLD_PASSES), ``o1``, ``o2``, ``o3`` (LLVM's
  pipelines), or ``none`` (code generation only);
- ``spec``: the integer arguments the profile saw never change are folded
  in behind a guard (value specialisation, kernelir.py); the only part that
  needs the PROFILE, so a strategy without it can be compiled as soon as
  HELLO names the slot's function;
- ``br``: vector selects whose rare side is floating-point work go behind a
  branch (unselect.py): under an emulator that computes each vector lane in
  software, not doing that work is most of the gain.

The default plan (``auto``), per function: ``boot-none`` (the boot
choice's own optimised IR, code generation only, without frame pointer: it
needs no profile, so the link server compiles it after HELLO and the first
PATCH goes out as the first PROFILE arrives), ``boot-fold+spec`` (the boot
choice's loops with the constants folded in) and ``guest-o1+spec`` (the
guest's CPU, LLVM's O1 over the specialised body: loops simplified for
their known trip counts), the last left out for a function whose patch is
over LARGE_IR_LINES of IR (sha256_stream's, with its unrolled rounds: O1
takes a second or more there, longer than the kernel takes to time the
rounds before, so the PROFILE would wait for it); each ``+br`` where the
function has selects unselect.py puts behind branches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TARGETS = ("boot", "guest")
PIPELINES = {"fold": "fold", "o1": 1, "o2": 2, "o3": 3, "none": None}
AUTO = "auto"
LARGE_IR_LINES = 2000  # IR lines of a patch (KernelIR.size_of) past which LLVM's pipelines take seconds
_NAME = re.compile(r"(?P<target>[a-z]+)-(?P<pipeline>[a-z0-9]+)(?P<flags>(?:\+[a-z]+)*)")


@dataclass(frozen=True)
class Strategy:
    target: str  # "boot" or "guest"
    pipeline: str  # a key of PIPELINES
    spec: bool = False
    branches: bool = False

    @property
    def name(self) -> str:
        return f"{self.target}-{self.pipeline}{'+spec' if self.spec else ''}{'+br' if self.branches else ''}"

    @property
    def passes(self) -> int | str | None:
        """The compile server's ``passes`` for the pipeline."""
        return PIPELINES[self.pipeline]

    @classmethod
    def parse(cls, text: str) -> Strategy:
        """``boot-fold+br`` as a Strategy; ValueError naming what is wrong."""
        m = _NAME.fullmatch(text.strip())
        if m is None:
            raise ValueError(f"{text!r} is not <target>-<pipeline>[+spec][+br]")
        flags = [f for f in m.group("flags").split("+") if f]
        if m.group("target") not in TARGETS:
            raise ValueError(f"{text!r}: target {m.group('target')!r} is none of {', '.join(TARGETS)}")
        if m.group("pipeline") not in PIPELINES:
            raise ValueError(f"{text!r}: pipeline {m.group('pipeline')!r} is none of {', '.join(PIPELINES)}")
        unknown = [f for f in flags if f not in ("spec", "br")]
        if unknown or len(set(flags)) != len(flags):
            raise ValueError(f"{text!r}: flags are +spec and +br, each at most once")
        return cls(m.group("target"), m.group("pipeline"), "spec" in flags, "br" in flags)


def parse_list(text: str) -> list[Strategy] | None:
    """A comma-separated list of strategies, or None for ``auto``; ValueError if malformed."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if items == [AUTO]:
        return None
    if not items:
        raise ValueError("no strategy given")
    return [Strategy.parse(item) for item in items]


def plan(chosen: list[Strategy] | None, branch_sites: int, ir_lines: int, rounds: int) -> list[Strategy]:
    """The strategies to offer a function, one per round (at most ``rounds``): ``chosen``, or
    the ``auto`` plan for a function whose patch has ``branch_sites`` selects to put behind
    branches (kernelir.KernelIR.branch_sites) and ``ir_lines`` of IR (KernelIR.size_of)."""
    if chosen is None:
        br = branch_sites > 0
        chosen = [Strategy("boot", "none", branches=br), Strategy("boot", "fold", True, br)]
        if ir_lines <= LARGE_IR_LINES:
            chosen.append(Strategy("guest", "o1", True, br))
    return chosen[:rounds]
