"""The kernel's own bitcode, and the patch modules the link server cuts from it.

The kernel is built from one linked module (the graph's ``kernel_bc``
output, ``build/kernel_bc.bc``); its ELF (``kernel_elf``) is that module
compiled, with every function and global under the same name, file-local
ones included (``mm_run.431``). So a function the kernel reports by
address is found in the ELF's symbol table, and its IR under that name here.

A patch module holds one hot function, to be compiled for the guest's CPU
and linked at an address inside the kernel's code arena (remote.py):

    define void @<entry>(ptr %a0, i32 %a1)      guarded entry, external
      if (a1 == <profiled value>)  -> <body>(a0, <value>)   inlined, constants folded
      else                         -> @<original>(a0, a1)   the kernel's own code

- ``<body>``: a copy of the function; the functions it reaches that are
  file-local (its static helpers) are copied too, internal, so they are
  compiled for the guest's CPU and see the constants;
- constant file-local globals (tables, string literals) are copied;
- every other symbol (the original function, mutable state, the kernel's
  memset) is declared and resolved to the kernel's address at link time.

The guard keeps a specialised patch correct for any argument: another
value runs the kernel's own code. The code is compiled for a target: the
guest's CPU (its CPUID), whose attributes replace every function's, or the
boot choice's own (``cpu=None``: each function keeps the CPU, tuning and
features it was built with; the guard gets the function's). Without FMA in
the original's own features, ``llvm.fmuladd`` is split into a multiply and
an add (tier2ir.uncontract), so no fused multiply-add changes a result's
rounding. Patch code keeps no frame pointer (unless asked to): on i386
that frees EBP, a seventh register for the allocator, where the kernel keeps
frame pointers for its backtraces; under TCG a spill is a softmmu memory
access of about ten host instructions. ``branches``: vector selects whose
rare side is floating-point work go behind a branch (unselect.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fluidjit import irtext, tier2ir, unselect
from fluidjit.config import TargetCpu
from fluidjit.errors import JitError
from fluidjit.module import token_of

PATCH_TRIPLE = "i386-unknown-none-elf"  # what the kernel_obj target compiles for
BODY = "fluid.jit.body"
_TARGET_CPU = re.compile(r'"(target-cpu|tune-cpu)"="[^"]*"')
_TARGET_FEATURES = re.compile(r'"target-features"="([^"]*)"')
_TARGET_ATTRIBUTES = re.compile(r' "(?:target-cpu|tune-cpu|target-features)"="[^"]*"')
_FRAME_POINTER = re.compile(r'"frame-pointer"="[^"]*"')
NO_FRAME_POINTER = '"frame-pointer"="none"'
_PARAM_NAME = re.compile(r"%[-a-zA-Z$._0-9]+$")


@dataclass(frozen=True)
class PatchSource:
    """The IR of one patch and what it was made from."""

    text: str
    entry: str  # symbol name of the guarded entry
    function: str  # symbol name of the kernel function it replaces
    values: tuple[tuple[int, int], ...]  # (argument position, value) specialised
    fp_contract: bool  # llvm.fmuladd kept (the original was compiled with FMA)


class KernelIR:
    """The kernel's linked bitcode, as text cut into functions and globals."""

    def __init__(self, path: str | Path) -> None:
        import llvmlite.binding as llvm

        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise JitError(f"{path}: cannot read the kernel bitcode: {exc.strerror}") from None
        try:
            module = llvm.parse_bitcode(data)
        except RuntimeError as exc:
            raise JitError(f"{path}: not LLVM bitcode LLVM {llvm.llvm_version_info} reads: "
                           f"{str(exc).strip()[:200]}") from None
        self.path = str(path)
        self.text = irtext.Module.parse(str(module))

    def token(self, name: str) -> str | None:
        """The symbol token of the defined function ``name``, or None."""
        for token in (name, f'"{name}"'):
            if token in self.text.functions:
                return token
        return None

    def int_params(self, name: str) -> list[tuple[int, int]]:
        """(position, bits) of the integer parameters of function ``name``."""
        fn = self.text.functions[self.token(name) or name]
        out = []
        for pos, param in enumerate(irtext.split_top_level(fn.params)):
            m = re.fullmatch(r"i(\d+)", param.split(" ", 1)[0])
            if m and int(m.group(1)) <= 64:
                out.append((pos, int(m.group(1))))
        return out

    def size_of(self, name: str) -> int:
        """IR lines of function ``name`` and the file-local functions it reaches (what a patch
        compiles): a measure of its compile time."""
        text, todo, seen = self.text, [self.token(name) or name], set()
        while todo:
            ref = todo.pop()
            if ref in seen or ref not in text.functions:
                continue
            seen.add(ref)
            todo.extend(r for r in text.functions[ref].refs()
                        if r in text.functions and text.functions[r].linkage in irtext.LOCAL_LINKAGES)
        return sum(len(text.functions[ref].body) for ref in seen)

    def _attributes_of(self, name: str) -> str:
        """The attribute group line the function ``name`` is defined with ("" if none)."""
        groups = self.text.functions[self.token(name) or name].attribute_groups()
        return next((line for line in self.text.attributes if line.split(" ", 2)[1] in groups), "")

    def features_of(self, name: str) -> str:
        """The ``target-features`` the function ``name`` was compiled with."""
        m = _TARGET_FEATURES.search(self._attributes_of(name))
        return m.group(1) if m else ""

    def target_of(self, name: str) -> str:
        """The function's own target attributes (``"target-cpu"=... "target-features"=...``), as
        a function attribute list."""
        return "".join(m.group(0) for m in _TARGET_ATTRIBUTES.finditer(self._attributes_of(name))).strip()

    def _closure(self, source: str) -> tuple[set[str], set[str]]:
        """What a patch of function ``source`` copies (file-local callees, constant file-local
        globals) and what it declares (everything else it references, the original included)."""
        text = self.text
        copied, extern, todo = set(), set(), list(text.functions[source].refs())
        while todo:
            ref = todo.pop()
            if ref in copied or ref in extern or ref == source:
                continue
            if ref in text.functions and text.functions[ref].linkage in irtext.LOCAL_LINKAGES:
                copied.add(ref)
                todo.extend(text.functions[ref].refs())
            elif ref in text.globals and irtext.global_linkage(text.globals[ref]) in irtext.LOCAL_LINKAGES \
                    and irtext.is_constant(text.globals[ref]):
                copied.add(ref)
                todo.extend(irtext.global_refs(text.globals[ref]))
            elif ref in text.functions or ref in text.globals:
                extern.add(ref)
        extern.add(source)  # the guard's general path
        return copied, extern

    def branch_sites(self, name: str) -> int:
        """Blocks of function ``name`` and the callees a patch copies that ``branches=True``
        splits (unselect.rewrite): 0 when the option changes nothing."""
        source = self.token(name)
        if source is None:
            return 0
        copied, _ = self._closure(source)
        return sum(unselect.rewrite(f.params, f.body)[2] for ref, f in self.text.functions.items()
                   if ref == source or ref in copied)

    def patch(self, name: str, entry: str, cpu: TargetCpu | None,
              values: dict[int, int] | None = None, branches: bool = False,
              frame_pointer: bool = False) -> PatchSource:
        """The patch module replacing function ``name``: compiled for ``cpu`` (None: the targets
        the kernel's functions were built for), specialised for ``values`` (integer argument
        position -> the value it always had), with ``branches`` (unselect.py), with the
        kernel's frame pointers if ``frame_pointer`` (else none). Raises JitError when ``name``
        is not a function of the kernel."""
        text = self.text
        source = self.token(name)
        if source is None:
            raise JitError(f"the kernel bitcode defines no function {name!r}")
        fn = text.functions[source]
        fp_contract = "+fma" in self.features_of(name).split(",")
        params = irtext.split_top_level(fn.params)
        ints = dict(self.int_params(name))
        spec = tuple(sorted((pos, value) for pos, value in (values or {}).items() if pos in ints))
        copied, extern = self._closure(source)

        def copy(ref: str, f: irtext.Function, head: str) -> str:
            params, body = f.params, f.body if fp_contract else tier2ir.uncontract(f.body)
            if branches:
                params, body, _ = unselect.rewrite(params, body)
            return irtext.Function(ref, head, params, irtext.COMDAT_USE.sub("", f.tail), body).text()

        functions = [copy(BODY, fn, irtext.set_linkage(fn.head, "internal"))]
        functions += [copy(ref, f, f.head) for ref, f in text.functions.items() if ref in copied]
        declared = [text.functions[ref].declaration().replace(" dso_local ", " ")
                    for ref in sorted(extern) if ref in text.functions]
        globals_ = []
        for ref, line in text.globals.items():
            if irtext.symbol_name(ref).startswith("llvm."):
                continue
            if ref in copied:
                globals_.append(line)
            elif ref in extern:
                globals_.append(_external(line))
        target = tier2ir.target_attributes(cpu) if cpu else self.target_of(name)
        kernel_frame = _FRAME_POINTER.search(self._attributes_of(name))
        frame = kernel_frame.group(0) if frame_pointer and kernel_frame else NO_FRAME_POINTER
        functions.append(_guard(fn, entry, source, params, ints, spec, f"{frame} {target}"))
        code = [*functions, *declared, *text.declarations.values()]
        groups = {g for item in code for g in tier2ir._ATTRIBUTE_GROUP.findall(item)}
        attributes = [_retarget(a, cpu) if cpu else a
                      for a in text.attributes if a.split(" ", 2)[1] in groups]
        if not frame_pointer:
            attributes = [_FRAME_POINTER.sub(NO_FRAME_POINTER, a) for a in attributes]
        preamble = [line for line in text.preamble if not line.startswith(("$", "source_filename"))]
        module = "\n".join([*preamble, *globals_, *code, *attributes, *text.metadata, ""])
        return PatchSource(module, entry, name, spec, fp_contract)


def _retarget(attribute_line: str, cpu: TargetCpu) -> str:
    """An attribute group's line for the guest: its CPU, its features, generic tuning."""

    def name(m: re.Match[str]) -> str:
        return f'"{m.group(1)}"="{cpu.name if m.group(1) == "target-cpu" else "generic"}"'

    line = _TARGET_CPU.sub(name, attribute_line)
    return _TARGET_FEATURES.sub(f'"target-features"="{cpu.features}"', line)


def _external(line: str) -> str:
    """A global's definition as a declaration of the same name and type: the kernel's copy."""
    name, words, rest = irtext.global_parts(line)
    kind, _, after = rest.partition(" ")
    end = len(after)
    for i, ch, depth in irtext._scan(after):
        if ch == " " and depth == 0:
            end = i
            break
    keep = [w for w in words if w in ("thread_local", "local_unnamed_addr", "unnamed_addr")]
    return " ".join([f"@{name} =", "external", *keep, kind, after[:end].rstrip(",")])


def _guard(fn: irtext.Function, entry: str, source: str, params: list[str], ints: dict[int, int],
           spec: tuple[tuple[int, int], ...], target: str) -> str:
    """The patch's entry, with the function attributes ``target`` (its frame pointer, CPU and
    features: the body's, which is inlined there): the specialised body when every specialised
    argument has its value, else the kernel's own function ``source``."""
    ret = fn.head.split()[-1]
    types = [p.split(" ", 1)[0] for p in params]
    args = [f"%fluid.a{i}" for i in range(len(params))]

    def call(callee: str, values: list[str], result: str, attrs: str = "") -> list[str]:
        arglist = ", ".join(f"{t} {v}" for t, v in zip(types, values, strict=True))
        if ret == "void":
            return [f"  call void @{callee}({arglist}){attrs}", "  ret void"]
        return [f"  {result} = call {ret} @{callee}({arglist}){attrs}", f"  ret {ret} {result}"]

    attrs = f"nounwind {target}"
    lines = [f"define {ret} @{token_of(entry)}("
             + ", ".join(f"{t} {a}" for t, a in zip(types, args, strict=True)) + f") {attrs} {{", "entry:"]
    if not spec:
        return "\n".join([*lines, *call(BODY, args, "%fluid.r", " alwaysinline"), "}"])
    known, guard = list(args), ""
    for i, (pos, value) in enumerate(spec):
        known[pos] = _constant(ints[pos], value)
        lines.append(f"  %fluid.eq{i} = icmp eq {types[pos]} {args[pos]}, {known[pos]}")
        if guard:
            lines.append(f"  %fluid.all{i} = and i1 {guard}, %fluid.eq{i}")
        guard = f"%fluid.all{i}" if guard else f"%fluid.eq{i}"
    lines += [f"  br i1 {guard}, label %fluid.special, label %fluid.general", "fluid.special:",
              *call(BODY, known, "%fluid.rs", " alwaysinline"), "fluid.general:",
              *call(source, args, "%fluid.rg")]
    return "\n".join([*lines, "}"])


def _constant(bits: int, value: int) -> str:
    value &= (1 << bits) - 1
    if bits == 1:
        return "true" if value else "false"
    return str(value - (1 << bits) if value >> (bits - 1) else value)
