"""What one JIT run is asked to do, and the CPU its tier-2 code is compiled for.

Both are checked before anything is compiled. Tier-2 code runs in this
process, so it may use no instruction-set feature this host lacks: a CPU
profile that enables one (``+egpr`` on a CPU without APX) is replaced by
the host's CPU, with one warning line naming the features (``host_cpu_for``);
the run goes on. The features a profile's CPU *name* implies are not all
known to llvmlite (LLVM's list for this very host's name may even include
features the host's hypervisor hides), so every feature the host lacks and
the profile does not mention is switched off explicitly (``-feature``): the
name then chooses the scheduling model only. Run sizes and counts a run
cannot hold and a report path that cannot be written are refused as bad
input (JitError), before the module is loaded.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fluidjit.errors import JitError

# LLVM CPU names without 64-bit mode: a profile made for the 32-bit kernel
# may name one, and the JIT (x86-64) cannot compile for it.
CPUS_32BIT = frozenset({
    "i386", "i486", "i586", "i686", "pentium", "pentium-mmx", "pentiumpro", "pentium2",
    "pentium3", "pentium3m", "pentium-m", "pentium4", "pentium4m", "prescott", "yonah",
    "lakemont", "k6", "k6-2", "k6-3", "athlon", "athlon-tbird", "athlon-xp", "athlon-mp",
    "athlon-4", "c3", "c3-2", "geode", "winchip-c6", "winchip2",
})
GENERIC_CPU = "x86-64"
# The benchmarks' size parameter is a uint32_t (bench.h).
MAX_SIZE = 2**32 - 1
# run() calls per benchmark: each keeps an 8-byte time, and a run this long is a mistake.
MAX_ITERATIONS = 10_000_000


@dataclass(frozen=True)
class TargetCpu:
    """An LLVM CPU name and feature string (``+avx2,-sha,...``)."""

    name: str
    features: str
    source: str  # "host", "generic" or the profile's path

    @classmethod
    def generic(cls) -> TargetCpu:
        return cls(GENERIC_CPU, "", "generic")

    @classmethod
    def host(cls) -> TargetCpu:
        import llvmlite.binding as llvm

        return cls(llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten(), "host")

    @classmethod
    def from_profile(cls, path: str | Path) -> TargetCpu:
        """The CPU of ``build/cpu_profile.json`` (keys ``llvm_cpu``, ``llvm_features``, ``mode``).

        A ``generic`` profile describes the 32-bit kernel's baseline; the
        JIT's counterpart is the x86-64 baseline."""
        try:
            profile = json.loads(Path(path).read_text())
        except OSError as exc:
            raise JitError(f"{path}: cannot read the CPU profile: {exc.strerror}") from None
        except ValueError as exc:
            raise JitError(f"{path}: the CPU profile is not JSON: {exc}") from None
        if not isinstance(profile, dict) or not isinstance(profile.get("llvm_cpu"), str):
            raise JitError(f"{path}: the CPU profile has no 'llvm_cpu' name")
        if profile.get("mode") == "generic":
            return cls(GENERIC_CPU, "", str(path))
        name, features = profile["llvm_cpu"], profile.get("llvm_features") or ""
        if name in CPUS_32BIT:
            raise JitError(f"{path}: CPU '{name}' has no 64-bit mode; the JIT compiles x86-64 code")
        if not isinstance(features, str) or any(item[:1] not in ("+", "-")
                                                 for item in _feature_items(features)):
            raise JitError(f"{path}: 'llvm_features' must be LLVM features like '+avx2,-sha', "
                           f"not {features!r}")
        return cls(name, features, str(path))


def _feature_items(features: str) -> list[str]:
    return [item.strip() for item in features.split(",") if item.strip()]


@lru_cache(maxsize=1)
def host_features() -> dict[str, bool]:
    """LLVM's instruction-set features of this host, each present or not."""
    import llvmlite.binding as llvm

    return dict(llvm.get_host_cpu_features())


def missing_on_host(cpu: TargetCpu) -> list[str]:
    """The features ``cpu``'s feature string enables (``+name``) that this host lacks.

    A name LLVM's host detection does not know is left to LLVM, which ignores
    a feature it does not know (with a warning) and knows every one it can
    generate code for."""
    host = host_features()
    return [item for item in _feature_items(cpu.features)
            if item[0] == "+" and item[1:] in host and not host[item[1:]]]


def host_cpu_for(cpu: TargetCpu, warn: bool = True) -> TargetCpu:
    """``cpu`` restricted to what this host can run (see the module docstring).

    The generic CPU is every x86-64's baseline and stays as it is. When
    ``cpu`` enables a feature the host lacks, the host's CPU instead, with
    one warning line (if ``warn``) and the reason in its ``source``."""
    missing = missing_on_host(cpu)
    if cpu.name == GENERIC_CPU and not missing:
        return cpu
    if missing:
        host = TargetCpu.host()
        why = f"this host lacks {', '.join(missing)}"
        if warn:
            print(f"fluidjit: warning: {cpu.source}: {why} of the CPU profile ({cpu.name}); "
                  f"tier 2 compiles for this host's CPU ({host.name}) instead",
                  file=sys.stderr, flush=True)
        return TargetCpu(host.name, host.features, f"host (profile {cpu.source}: {why})")
    named = {item[1:] for item in _feature_items(cpu.features)}
    off = [f"-{name}" for name, on in sorted(host_features().items()) if not on and name not in named]
    return TargetCpu(cpu.name, ",".join([*_feature_items(cpu.features), *off]), cpu.source)


def arena_limit() -> int:
    """The largest arena a benchmark may ask for: 4 GiB, or half of this machine's
    memory if that is less (the tuned-variant check holds two arenas at once)."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        memory = 2**33
    return min(2**32, memory // 2)


def report_path_problem(path: str | Path, parent_must_exist: bool) -> str | None:
    """Why a JSON report cannot be written to ``path``, or None. Without
    ``parent_must_exist`` missing directories are fine (the report's writer makes
    them) if the nearest one that exists is writable."""
    target = Path(path)
    if target.is_dir():
        return f"report {path} is a directory"
    parent = target.parent
    if parent_must_exist and not parent.exists():
        return f"report {path}: directory {parent} does not exist"
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"report {path}: {parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"report {path}: directory {parent} is not writable"
    return None


@dataclass
class JitConfig:
    """One run of the tiered JIT over a Fluid module (see ``python -m fluidjit --help``)."""

    module: str | Path
    benchmarks: tuple[str, ...] = ()  # empty: every registry entry
    report: str | Path | None = None  # JSON report path
    cpu_profile: str | Path | None = None  # None: the host CPU
    hot_calls: int = 5  # calls before a function may go to tier 2
    hot_share: float = 0.05  # share of the phase's profiled cycles it must also reach
    verify_calls: int = 3  # tier-2 calls timed before keeping or reverting
    revert_margin: float = 0.05  # tier 2 reverted when slower than tier 0 by more than this
    iterations: int | None = None  # run() calls per benchmark; None: the registry's
    size: int | None = None  # problem size; None: the registry's
    seed: int = 1  # input seed (bench.h BENCH_DEFAULT_SEED)
    tier0_opt: int = 1  # codegen level of tier 0 (its IR is used as given)
    tier2_opt: int = 3  # IR pipeline and codegen level of tier 2
    specialize: bool = True  # value-profile integer arguments and clone for constants
    fp_contract: bool = True  # let tier 2 fuse a*b+c into FMA (as clang -march does)
    profile: bool = True  # False: tier 0 only, no profiling (to measure its overhead)
    optimize: bool = True  # False: profile but never leave tier 0
    verify: bool = True  # rerun each benchmark at tier 0 and compare checksums
    poll_ms: float = 2.0  # how often the optimizer reads the profile
    cache_dir: str | Path | None = None  # tier-2 object files kept across runs; None: no cache
    quiet: bool = False  # no live log

    def __post_init__(self) -> None:
        if self.hot_calls < 1 or self.verify_calls < 1:
            raise JitError("hot_calls and verify_calls must be at least 1")
        if not 0.0 <= self.hot_share <= 1.0:
            raise JitError(f"hot_share must be within 0..1, not {self.hot_share}")
        for name, most in (("iterations", MAX_ITERATIONS), ("size", MAX_SIZE)):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= most:
                raise JitError(f"{name} must be within 1..{most}, not {value}"
                               + (" (the benchmarks' size is a 32-bit parameter)" if name == "size" else ""))
        if not 0 <= self.seed <= MAX_SIZE:
            raise JitError(f"seed must be within 0..{MAX_SIZE} (a 32-bit parameter), not {self.seed}")
        if not (0 <= self.tier0_opt <= 3 and 0 <= self.tier2_opt <= 3):
            raise JitError("optimization levels must be within 0..3")
        if self.report is not None:
            why = report_path_problem(self.report, parent_must_exist=False)
            if why:
                raise JitError(why)

    def tier2_cpu(self, warn: bool = True) -> TargetCpu:
        """The CPU tier 2 compiles for: the profile's, restricted to this host
        (``host_cpu_for``; a warning line when it falls back), or the host's."""
        if not self.cpu_profile:
            return TargetCpu.host()
        return host_cpu_for(TargetCpu.from_profile(self.cpu_profile), warn)
