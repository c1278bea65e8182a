"""What the optimizer knows of each instrumented function: its record (Tracked), state and events.

A Tracked record is written by the state machine (state_machine.py) under
its lock and read by the report (report.py) once the optimizer has
stopped. Per function the states go: tier0 -> (hot) compiling -> (slot
written) measuring -> tier2, or reverted when the new version measured
slower on the live workload, or failed when it did not compile; a kept
tier-2 version may go on to specialising (a clone compiling) and back to
measuring; a function whose work a caller's tuned code took over is
covered (the state machine's docstring tells why).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from fluidjit import policy, specialize
from fluidjit.instrument import Instrumented
from fluidjit.profiler import Counters


class State(enum.Enum):
    TIER0 = "tier0"
    COMPILING = "compiling"
    MEASURING = "measuring"
    TIER2 = "tier2"
    REVERTED = "reverted"
    FAILED = "failed"
    SPECIALISING = "specialising"  # a kept general tier-2 version runs while its clone compiles
    COVERED = "covered"  # its work runs in the tuned tier-2 code of a caller (``unit``)


@dataclass(frozen=True)
class Event:
    """One decision of the optimizer, or a note about a benchmark."""

    ms: float  # since the profiler started
    kind: str  # hot, swapped, kept, reverted, failed, specialise, unspecialise, despecialise, ...
    function: str
    detail: str


@dataclass(frozen=True)
class Tier2Code:
    """One tier-2 version of a function, linked in the executor."""

    address: int
    library: str
    compile_ms: float  # request to callable address: optimise, codegen (or cache), link
    fused_fma: bool  # its IR has llvm.fmuladd: a*b+c may round once (FMA) on the tier-2 CPU
    variant: str  # "tuned": compiled from the tuned half of the module; "generic"
    cached: bool  # the object file came from the cache


@dataclass(eq=False)
class Tracked:
    """One instrumented function and everything the optimizer learnt about it."""

    fn: Instrumented
    label: str
    slot: int  # address of its slot
    tier0_address: int
    arg_names: tuple[str, ...] = ()
    state: State = State.TIER0
    tier0: policy.Window = policy.NO_CALLS  # quiet tier-0 calls up to the hot decision
    tier2: policy.Window = policy.NO_CALLS  # quiet calls of the current tier-2 version
    general: policy.Window = policy.NO_CALLS  # quiet calls of the kept general version
    last: Counters | None = None  # counters at the previous poll
    # (compile epoch, workload clocks) at the poll that last saw a call of it complete
    seen: tuple[int, tuple[int, int] | None] | None = None
    hot_tsc: int = 0
    hot_share: float = 0.0
    phase: str = ""  # the workload phase in which it went hot
    spec: specialize.Specialization | None = None  # the specialisation of the current code
    tried: specialize.Specialization | None = None  # the one compiled, kept or not
    spec_result: str | None = None  # what became of it
    code: Tier2Code | None = None  # the current tier-2 version
    general_code: Tier2Code | None = None  # the kept general version, once specialising
    swap: Counters | None = None  # counters when the slot was written
    swap_tsc: int = 0
    hot: Counters | None = None  # counters at the hot decision
    running_tsc: int = 0  # entry of the tier-0 call still running at the swap, if none had ended
    latency_ms: float | None = None  # hot decision to the first call of the new code
    error: str | None = None
    events: list[Event] = field(default_factory=list)
    tuned: str | None = None  # token of its tuned counterpart, once admitted
    pinned: tuple[specialize.PinnedObject, ...] = ()  # memory its caller vouches it only reads
    # While a clone is judged, taking turns with the general version in the slot:
    on_clone: bool = False  # the slot holds the clone
    clean: bool = False  # a call entered the code in the slot since the last switch
    serving_from: int = 0  # the serving code's measured cycles when it took its turn
    repeated: bool = False  # the workload calls it over and over (bench.h's run)
    units: tuple[Tracked, ...] = ()  # descriptor functions whose source file it belongs to
    unit: Tracked | None = None  # the one whose tuned code took over its work (COVERED)
