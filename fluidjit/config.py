"""What one JIT run is asked to do, and the CPU its tier-2 code is compiled for."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
        return cls(name, str(features), str(path))


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
        for name in ("iterations", "size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise JitError(f"{name} must be at least 1, not {value}")
        if not (0 <= self.tier0_opt <= 3 and 0 <= self.tier2_opt <= 3):
            raise JitError("optimization levels must be within 0..3")

    def tier2_cpu(self) -> TargetCpu:
        return TargetCpu.from_profile(self.cpu_profile) if self.cpu_profile else TargetCpu.host()
