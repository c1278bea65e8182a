"""qemu: the ``run`` manifest section and the ``doit run`` / ``doit debug`` tasks.

Each ``run:`` entry is a profile (``doit run profile=lba``); ``default`` is
required. Its command line comes from the single hook
``fluidbuild_qemu_command`` of the plugin the profile names (this one by
default): headless, no network, the serial console on standard output, and
the ``isa-debug-exit`` device so the guest ends QEMU with its verdict
(docs/boot-protocol.md). The image is attached with ``snapshot=on`` so a
guest can never modify the build output. Booting and judging the guest is
:mod:`fluidbench.qemu`; it names a loader's ``FATAL ERROR`` code from the codes
the used plugins define (``fluidbuild_fatal_codes``).

A profile naming another plugin is checked when the manifest loads; the keys
that plugin declares (``fluidbuild_settings_schema("run")``) reach it as
``profile.settings``, and its ``fluidbuild_run_inputs`` says which files the
run boots (the first) and needs: ``run`` and ``debug`` depend on them, so doit
rebuilds them first and a run never boots a stale disk. A plugin that does not
say boots the manifest's ``image``.

A profile's ``cmdline`` is the kernel's boot command line (``workload=infer``,
docs/boot-protocol.md "Boot command line"), handed to the guest as QEMU's
fw_cfg file ``opt/fluidos/cmdline``; its words are checked against the spec's
options when the manifest loads.

A profile with ``jit: true`` (``doit run profile=jit``) also connects the
guest's COM2 to the live re-JIT link server (:mod:`fluidjit.linkserver`,
docs/kernel-jit.md), which runs beside QEMU on the kernel's bitcode, ELF and
image (the run depends on them too); ``jit_args`` are more server options.
"""

from __future__ import annotations

import os
import re
from typing import Any

from fluidbench import protocol
from fluidbench.qemu import DEFAULT_PROFILE, RunProfile, run_task
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, Manifest, PyAction, TaskSpec, Tool, ToolSpec
from fluidbuild.schema import (
    Bool,
    Checked,
    Delegated,
    Field,
    Float,
    Int,
    List,
    MapOf,
    RelPath,
    Schema,
    Str,
    Where,
)
from fluidbuild_plugins.fluidos import disk

QEMU_I386 = ToolSpec("qemu-system-i386", ("qemu-system-i386",), "qemu-system-x86")
QEMU_X86_64 = ToolSpec("qemu-system-x86_64", ("qemu-system-x86_64",), "qemu-system-x86")
DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04"
BOOT_ORDER = {"floppy": "a", "ide": "c"}
DEBUG_LOG = "qemu.log"  # under the build directory

PROFILE = Delegated({
    "plugin": Field(Str(pattern=r"[a-z][a-z0-9_]*"), default="qemu",
                    doc="plugin building the emulator command line"),
    "binary": Field(Str(choices=("qemu-system-i386", "qemu-system-x86_64")),
                    default="qemu-system-i386"),
    "accel": Field(Str(choices=("tcg", "kvm")), default="tcg"),
    "cpu": Field(Str(pattern=r"[A-Za-z0-9_.,+=-]+"), default="max"),
    "memory_mib": Field(Int(minimum=2, maximum=3072), default=128),
    "timeout_s": Field(Float(minimum=0.1, maximum=3600), default=60.0),
    "drive": Field(Str(choices=("floppy", "ide")), default="floppy"),
    "args": Field(List(Str()), default=[]),
    "network": Field(Bool(), default=False, doc="allow args that give the guest a network"),
    "serial_log": Field(RelPath(), default=None),
    "cmdline": Field(Str(), default="",
                     doc="the kernel's boot command line, key=value words (docs/boot-protocol.md)"),
    "jit": Field(Bool(), default=False,
                 doc="connect COM2 to the live re-JIT link server (docs/kernel-jit.md)"),
    "jit_args": Field(List(Str()), default=[],
                      doc="more link server options (python -m fluidjit.linkserver --help)"),
}, hook="fluidbuild_qemu_command", section="run", default="qemu")
JIT_REPORT = ("jit", "kernel-report.json")
JIT_TARGETS = ("kernel_bc", "kernel_elf", "kernel")  # the link server's bitcode, symbols, build id
# QEMU options that give the guest a network (the default command has -nic none).
NETWORK_OPTIONS = ("-nic", "-net", "-netdev", "-device")
NETWORK_DEVICES = re.compile(r"(e1000|rtl8139|virtio-net|ne2k|pcnet|i8255|usb-net|vmxnet)", re.I)
GDB_STUB = "tcp:127.0.0.1:1234"  # doit debug: the stub listens on this machine only


def _check_profiles(profiles: dict[str, Any], where: Where) -> None:
    if DEFAULT_PROFILE not in profiles:
        raise where.fail(f"a run profile named '{DEFAULT_PROFILE}' is required")
    for name, spec in profiles.items():
        why = cmdline_problem(spec["cmdline"])
        if why:
            raise where.child(name, None).child("cmdline", None).fail(why)
        args = spec["args"]
        for i, arg in enumerate(args):
            value = args[i + 1] if i + 1 < len(args) else ""
            networked = arg in NETWORK_OPTIONS[:3] or (arg == "-device" and NETWORK_DEVICES.search(value))
            if networked and not spec["network"]:
                raise where.child(name, None).child("args", None).fail(
                    f"'{arg} {value}' gives the guest a network; set 'network: true' in this profile "
                    "to allow it")
        if spec.get("jit_args"):
            from fluidjit.linkserver import args_problem

            why = args_problem(spec["jit_args"])
            if why:
                raise where.child(name, None).child("jit_args", None).fail(why)


SECTION = Checked(MapOf(PROFILE, key_pattern=r"[a-z][a-z0-9_]*"), _check_profiles)


@hookimpl
def fluidbuild_tools() -> list[ToolSpec]:
    return [QEMU_I386, QEMU_X86_64]


@hookimpl
def fluidbuild_manifest_sections() -> dict[str, Schema]:
    return {"run": SECTION}


@hookimpl
def fluidbuild_tasks(manifest: Manifest, ctx: BuildContext, outputs: dict[str, list[str]]) -> list[TaskSpec]:
    profiles = manifest.sections.get("run")
    if not profiles:
        return []
    name = ctx.variables.get("profile", DEFAULT_PROFILE)
    if name not in profiles:
        why = f"{manifest.path}: no run profile named '{name}' (known: {', '.join(profiles)})"
        actions = [PyAction(_unavailable, {"why": why})]
        return [TaskSpec(task, f"(cannot run: {why})", actions, always=True) for task in ("run", "debug")]
    profile = RunProfile.from_section(name, profiles[name], manifest.build_dir)
    if not _inside(profile.serial_log, manifest.build_dir):
        raise FluidError(f"{manifest.path}: run.{name}.serial_log {profile.serial_log!r} must be inside "
                         f"the build directory '{manifest.build_dir}' (it is overwritten on every run)")
    inputs = ctx.run_inputs(profile, outputs)  # what the profile's plugin boots, the disk first
    if inputs is None:
        if manifest.sections.get("image") is None:
            return []
        inputs = [disk.image_path(manifest)]
    image = inputs[0]
    boot = {"profile": profile, "qemu_command": ctx.qemu_command, "image": image,
            "fatal_codes": ctx.fatal_codes}
    action = run_task
    if profile.jit:  # the link server beside QEMU, on what it compiles from
        action, boot["link"] = _jit_run_task, _jit_link(manifest, name, ctx, outputs, profile)
        inputs = [*inputs, boot["link"]["kernel_bc"], boot["link"]["kernel_elf"], boot["link"]["kernel_bin"]]
    return [
        TaskSpec("run", f"build, then boot {image} in QEMU (profile=NAME, default '{DEFAULT_PROFILE}')",
                 [PyAction(action, {**boot, "debug": False})],
                 file_dep=inputs, always=True, verbosity=2),
        TaskSpec("debug", f"boot with QEMU CPU/interrupt logging ({ctx.out(DEBUG_LOG)}) and a GDB stub "
                 "on 127.0.0.1:1234", [PyAction(action, {**boot, "debug": True})],
                 file_dep=inputs, always=True, verbosity=2),
    ]


def _jit_link(manifest: Manifest, name: str, ctx: BuildContext, outputs: dict[str, list[str]],
              profile: RunProfile) -> dict[str, Any]:
    """Where the link server of a ``jit: true`` profile finds the kernel, listens and reports."""
    missing = [t for t in JIT_TARGETS if not outputs.get(t)]
    if missing:
        raise FluidError(f"{manifest.path}: run.{name}.jit needs the targets {', '.join(JIT_TARGETS)} "
                         f"(the kernel's bitcode, ELF and stamped image); missing: {', '.join(missing)}")
    first = {t: next((o for o in outputs[t] if o.endswith(ext)), outputs[t][0])
             for t, ext in zip(JIT_TARGETS, (".bc", ".elf", ".bin"), strict=True)}
    return {"socket": profile.jit_socket, "kernel_bc": first["kernel_bc"], "kernel_elf": first["kernel_elf"],
            "kernel_bin": first["kernel"], "report": ctx.out(*JIT_REPORT), "args": list(profile.jit_args)}


def _jit_run_task(link: dict[str, Any], **boot: Any) -> None:
    from fluidjit.linkserver import run_task as linked  # the JIT's modules only when it runs

    linked(link, **boot)


@hookimpl
def fluidbuild_qemu_command(profile: RunProfile, image: str, qemu: Tool, debug: bool) -> list[str]:
    argv = [*qemu_argv(qemu.path, image, profile.drive, profile.accel, profile.cpu, profile.memory_mib,
                       debug, profile.cmdline), *profile.args]
    if profile.jit:
        from fluidjit.linkserver import qemu_args

        argv += qemu_args(profile.jit_socket)
    return argv


def qemu_argv(binary: str, image: str, drive: str, accel: str = "tcg", cpu: str = "max",
              memory_mib: int = 128, debug: bool = False, cmdline: str = "") -> list[str]:
    """The argv booting ``image`` from a floppy (CHS path) or IDE disk (LBA path), with the
    kernel's boot command line ``cmdline`` (none when empty)."""
    argv = [binary, "-accel", accel, "-cpu", cpu, "-m", str(memory_mib),
            "-display", "none", "-serial", "stdio", "-monitor", "none", "-nic", "none",
            "-no-reboot", "-device", DEBUG_EXIT,
            "-drive", f"file={_escaped(image)},format=raw,if={drive},snapshot=on",
            "-boot", BOOT_ORDER[drive]]
    if cmdline:
        argv += ["-fw_cfg", f"name={protocol.CMDLINE_FWCFG_FILE.decode()},string={_escaped(cmdline)}"]
    if debug:
        argv += ["-d", "int,cpu_reset,guest_errors", "-D", f"build/{DEBUG_LOG}", "-gdb", GDB_STUB]
    return argv


def _escaped(value: str) -> str:
    """A path or string as a QEMU option value: a comma is written twice, so it cannot add
    options."""
    return value.replace(",", ",,")


def cmdline_problem(cmdline: str) -> str | None:
    """Why the kernel would refuse this boot command line (the spec's CMDLINE_OPTIONS;
    src/kernel/cmdline.c), or None."""
    if len(cmdline.encode()) > protocol.CMDLINE_MAX_BYTES:
        return (f"the command line is {len(cmdline.encode())} bytes; the kernel reads at most "
                f"{protocol.CMDLINE_MAX_BYTES}")
    if not all(" " <= c <= "~" for c in cmdline):
        return "the command line holds a character other than printable ASCII"
    options = protocol.CMDLINE_OPTIONS
    for word in cmdline.split():
        key, eq, value = word.partition("=")
        if not eq:
            return f"'{word}' is not key=value"
        if key not in options:
            return f"unknown option '{key}' (the options are {', '.join(options)})"
        option = options[key]
        if option["values"]:
            if value not in option["values"]:
                return f"{word}: expected {' or '.join(option['values'])}"
        elif not value.isdigit() or int(value) > option["maximum"]:
            return f"{word}: expected an integer from 0 to {option['maximum']}"
    return None


def _inside(path: str, build_dir: str) -> bool:
    return os.path.normpath(path).startswith(os.path.normpath(build_dir) + os.sep)


def _unavailable(why: str) -> None:
    raise FluidError(why)
