"""When a function goes to tier 2, and whether its tier-2 version stays.

Pure decisions over profiler numbers, kept apart from the state machine that acts
on them so the rules can be read (and tested) on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

# A verdict needs this much measured tier-2 time as well as verify_calls
# calls: a few calls of a microsecond function are mostly timer noise.
MIN_VERDICT_MS = 2.0
# A clone against its general version: differences of a few percent, which
# take longer to tell from noise than tier 2 against tier 0.
CLONE_VERDICT_MS = 20.0
# While a clone is judged, it and the general version take turns in the slot, each for this
# much of measured calls (CLONE_VERDICT_MS / 2 each in all).
SWITCH_MS = 2.0
# An interval between two polls measures only if the workload's thread had the CPU for this
# share of it at least (other processes took the rest), and then counts that share of its
# cycles: a descheduled call takes longer, in TSC cycles, without its code being slower.
MIN_RAN_SHARE = 0.5


@dataclass(frozen=True)
class Thresholds:
    hot_calls: int  # completed calls at least
    hot_share: float  # and at least this share of the phase's profiled self cycles
    verify_calls: int  # tier-2 calls measured before the verdict
    revert_margin: float  # tier 2 may be this much slower than tier 0 before it is reverted


@dataclass(frozen=True)
class Window:
    """Calls and their cycles, callees included, between two snapshots.

    Versions are compared on inclusive cycles: tier 2 inlines callees that
    tier 0 called through their thunks, which moves their time into the
    caller's self time without making the call any slower."""

    calls: int
    cycles: int

    @property
    def per_call(self) -> float | None:
        return self.cycles / self.calls if self.calls else None


NO_CALLS = Window(0, 0)


def is_hot(calls: int, share: float, t: Thresholds) -> bool:
    return calls >= t.hot_calls and share >= t.hot_share


def share(fn_cycles: int, total_cycles: int) -> float:
    return fn_cycles / total_cycles if total_cycles > 0 else 0.0


def keep_tier2(tier0: Window, tier2: Window, t: Thresholds) -> bool:
    """Keep the new version unless it measured slower than tier 0 beyond the margin."""
    before, after = tier0.per_call, tier2.per_call
    if before is None or after is None:
        return True
    return after <= before * (1.0 + t.revert_margin)


def keep_clone(general: Window, clone: Window) -> bool:
    """Keep a specialised clone only if it measured faster than its general version, which
    needs no guard and serves every argument value."""
    return general.per_call is None or clone.per_call is None or clone.per_call < general.per_call
