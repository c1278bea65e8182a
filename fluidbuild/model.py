"""The validated manifest and the plain data that flows between core and plugins.

Plugins receive these objects and return them; none of them holds behaviour
beyond small conveniences, so a plugin never reaches into another one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolSpec:
    """A program a plugin needs, and where to find it."""

    name: str  # logical name plugins ask for: "clang"
    candidates: tuple[str, ...]  # executables tried in order: ("clang-22", "clang-19", ...)
    package: str  # Debian package that provides it
    version_args: tuple[str, ...] = ("--version",)


@dataclass(frozen=True)
class Tool:
    """A discovered program: its resolved path and version identify it."""

    name: str
    path: str
    version: str

    def identity(self) -> dict[str, str]:
        return {"path": self.path, "version": self.version}


@dataclass(frozen=True)
class Target:
    """One ``targets:`` entry of the manifest."""

    name: str
    plugin: str
    sources: tuple[str, ...]  # files, globs expanded, project-relative
    deps: tuple[str, ...]  # names of targets whose outputs are inputs here
    flags: tuple[str, ...]
    options: dict[str, Any]  # validated by the plugin's own schema
    doc: str = ""


def source_name(path: str) -> str:
    """A short name for a source file in task names and output paths: a project-relative
    path as it is; a file outside the project (absolute: a package's benchmark source in
    site-packages) as ``ext/<its folder>/<file>``, the same wherever the package is installed."""
    if not path.startswith("/"):
        return path
    parts = path.rstrip("/").split("/")
    return "/".join(["ext", *parts[-2:]])


@dataclass(frozen=True)
class Placement:
    """Where one part goes on the disk image."""

    part: str
    path: str  # file to copy
    lba: int
    max_sectors: int | None  # None: up to the end of the disk


@dataclass(repr=False)
class Manifest:
    """The whole validated manifest."""

    path: str  # as given by the user
    root: str  # absolute project root
    build_dir: str  # project-relative
    toolchain: dict[str, tuple[str, ...]]
    cpu_profile: dict[str, Any]
    targets: dict[str, Target]
    sections: dict[str, Any]  # plugin-contributed top-level sections (image, run, benchmarks, ...)
    task_timeout_s: float = 1800.0  # a program a task runs is killed after this long
    cache: dict[str, Any] | None = None  # the shared action cache (fluidbuild.cache), if any

    def __repr__(self) -> str:  # short: hook traces (FLUIDBUILD_TRACE=1) print their arguments
        return f"Manifest({self.path!r}, {len(self.targets)} targets, sections {sorted(self.sections)})"


@dataclass
class Command:
    """An external program run by a task.

    Elements of ``argv`` equal to one of ``outputs`` are replaced by a
    temporary path while the program runs; the result is renamed into place
    only when it exits 0 and ``verify`` (given the temporary paths by output)
    accepts them, so an interrupted or wrong build never leaves a trusted file.
    """

    argv: list[str]
    outputs: list[str] = field(default_factory=list)
    verify: Callable[[dict[str, str]], None] | None = None


@dataclass
class PyAction:
    """A Python function run by a task; it must write its outputs atomically
    (:func:`fluidbuild.atomic.atomic_output`)."""

    func: Callable[..., None]
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskSpec:
    """A task description returned by plugins and turned into a doit task."""

    name: str  # "basename" or "basename:sub"
    doc: str
    actions: list[Command | PyAction]
    file_dep: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)  # everything else the output depends on
    depfile: str | None = None  # make-style dependency file written by the tool
    task_dep: list[str] = field(default_factory=list)
    always: bool = False  # never up to date (run, debug, bench)
    verbosity: int = 1
    # Outputs may be shared through the action cache (fluidbuild.cache): False for
    # a task whose outputs depend on more than its inputs and configuration.
    cacheable: bool = True


@dataclass(frozen=True)
class Benchmark:
    """A benchmark a package contributes (``fluidbuild_benchmarks``).

    One line in the manifest's ``benchmarks:`` (``- {name: crc32}``) builds its
    C source into the kernel, the native runners and the JIT's module, like
    the project's own ``src/bench/*.c``.
    """

    name: str  # what the manifest lists; the source defines BENCH_SYMBOL(<name>) (src/bench/bench.h)
    source: str  # absolute path of the C source shipped in the package; its headers sit beside it
    default_size: int  # the problem size when the manifest gives none
    # The host reference: (the input region setup() wrote, size) -> the checksum run() must
    # report. doit bench checks the native runner against it and times it as the host peer.
    reference: Callable[[bytes, int], int] | None = None
    reference_label: str = "host reference"  # what doit bench calls the reference in its tables


@dataclass(frozen=True)
class FatalCode:
    """A loader error code (``FATAL ERROR: 0xXX`` on serial) and what it means
    (``fluidbuild_fatal_codes``): the runner names it instead of ``unknown code``."""

    code: int  # 0x00..0xFF
    name: str  # NO_LBA
    meaning: str  # one line: what went wrong and what to do


@dataclass
class TargetResult:
    """What a plugin declares for one target: its tasks and its outputs."""

    tasks: list[TaskSpec]
    outputs: list[str]


@dataclass(repr=False)
class BuildContext:
    """What every plugin may read while declaring tasks."""

    root: str
    build_dir: str
    manifest: Manifest
    cpu_profile: dict[str, Any]
    tools: Callable[[str], Tool]  # resolve a tool by logical name (raises ToolMissing)
    # The command line's NAME=VALUE variables (``doit run profile=lba``).
    variables: dict[str, str] = field(default_factory=dict)
    # The single-plugin hooks a plugin may delegate to, called through the core
    # so the manifest decides which plugin answers:
    # image_layout(plugin, image_section, parts) -> placements (fluidbuild_image_layout)
    image_layout: Callable[[str, dict[str, Any], dict[str, str]], list[Placement]] = field(
        default=lambda plugin, image, parts: [])
    # qemu_command(profile, image, debug=False) -> argv, from the profile's plugin
    # (fluidbuild_qemu_command); resolves the emulator when called.
    qemu_command: Callable[..., list[str]] = field(default=lambda profile, image, debug=False: [])
    # run_inputs(profile, outputs) -> the files a run of the profile boots (the image first)
    # and depends on, from the profile's plugin (fluidbuild_run_inputs); None: the manifest's image.
    run_inputs: Callable[..., list[str] | None] = field(default=lambda profile, outputs: None)
    # What packages contribute: benchmarks by name (fluidbuild_benchmarks), and the loader
    # error codes of the plugins this manifest uses by code (fluidbuild_fatal_codes).
    benchmarks: dict[str, Benchmark] = field(default_factory=dict)
    fatal_codes: dict[int, FatalCode] = field(default_factory=dict)

    def __repr__(self) -> str:  # short: hook traces (FLUIDBUILD_TRACE=1) print their arguments
        return f"BuildContext(root={self.root!r}, build_dir={self.build_dir!r})"

    def out(self, *parts: str) -> str:
        """A project-relative path under the build directory."""
        return "/".join((self.build_dir, *parts))
