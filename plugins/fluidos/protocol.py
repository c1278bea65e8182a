"""protocol: the boot protocol spec (src/protocol/protocol.toml) as NASM, C and Python.

The kernel header, the boot info, the loader's fatal codes, the exit
statuses, the CPU feature bits and the serial line schemas are defined once,
in the spec; this plugin renders them for each consumer:

- ``lang: nasm``: ``build/gen/protocol.inc`` (stage 1, stage 2, the kernel entry),
- ``lang: c``: ``build/gen/protocol.h`` (the kernel),
- ``lang: python``: ``build/gen/protocol.py``, committed as ``fluidbench/protocol.py``
  for the build's plugins, fluidbench and the tests,

and the tables of docs/boot-protocol.md. It also names the loader's FATAL
codes for the runner (``fluidbuild_fatal_codes``: a package's loader adds
its own the same way). ``nasm`` and ``clang_ir`` targets
that list a generator target in ``deps`` get its header as a file
dependency and its directory on their include path, so a change of the spec
rebuilds exactly what includes it. The committed copies are refreshed with
``python -m fluidbuild_plugins.fluidos.protocol`` and checked by
tests/test_protocol.py.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluidbuild.atomic import write_text
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, FatalCode, PyAction, Target, TargetResult, TaskSpec
from fluidbuild.schema import Field, Map, Str

SPEC_PATH = "src/protocol/protocol.toml"
COMMITTED_PY = "fluidbench/protocol.py"
DOC_PATH = "docs/boot-protocol.md"
OUTPUT_FILES = {"nasm": "protocol.inc", "c": "protocol.h", "python": "protocol.py"}
GENERATOR = "plugins/fluidos/protocol.py"
REFRESH = ".venv/bin/python -m fluidbuild_plugins.fluidos.protocol"

SCALARS = {"u8": (1, "B", "uint8_t"), "u16": (2, "H", "uint16_t"), "u32": (4, "I", "uint32_t"),
           "u64": (8, "Q", "uint64_t"), "f32": (4, "f", "float")}
JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object")
# Who prints a serial line (a line's `printers`): the kernel, the native runners, the JIT's commands.
PRINTERS = ("kernel", "native", "jit")
DEFAULT_PRINTERS = ("kernel",)
NAME = re.compile(r"[A-Z][A-Z0-9_]*")
TYPE = re.compile(r"(?P<elem>[a-z][a-z0-9_]*)(?:\[(?P<count>[1-9][0-9]*)\])?")
CPUID = re.compile(r"(?P<leaf>0x[0-9A-Fa-f]+|[0-9]+)(?:\.(?P<subleaf>[0-9]+))?:(?P<reg>E[ABCD]X)"
                   r"\[(?P<bit>[0-9]|[12][0-9]|3[01])\]")


# -- the spec -----------------------------------------------------------------


@dataclass(frozen=True)
class Const:
    name: str
    value: int | str
    doc: str = ""
    hex: bool = False
    u32: bool = False

    @property
    def chars(self) -> bool:
        return isinstance(self.value, str)


@dataclass(frozen=True)
class StructField:
    name: str
    offset: int
    type: str  # as written: "u32", "char[16]", "e820_entry[32]"
    elem: str  # "u32", "char", "e820_entry"
    count: int | None  # array length, None for a scalar
    size: int
    count_name: str | None
    doc: str
    values: tuple[dict[str, Any], ...]  # enumerated values: name, value, json, doc


@dataclass(frozen=True)
class Struct:
    name: str  # C struct name; Python FORMAT/FIELDS prefix upper-cased
    doc: str
    prefix: str  # offset constants: prefix + field name upper-cased
    size: int
    constants: tuple[Const, ...]
    fields: tuple[StructField, ...]

    @property
    def size_name(self) -> str:
        return f"{self.name.upper()}_SIZE"

    def offset_name(self, field: StructField) -> str:
        return f"{self.prefix}{field.name.upper()}"

    def values_name(self, field: StructField) -> str:
        return f"{self.name.upper()}_{field.name.upper()}_VALUES"


@dataclass(frozen=True)
class Spec:
    path: str  # as given (project-relative): named in every generated file
    disk: tuple[Const, ...]
    disk_doc: str
    structs: tuple[Struct, ...]
    handoff: tuple[Const, ...]
    handoff_doc: str
    fatal: tuple[dict[str, Any], ...]  # name, value, meaning, cause
    exit_constants: tuple[Const, ...]
    exit_doc: str
    exits: tuple[dict[str, Any], ...]  # name, value, status, meaning, note, qemu_status
    features: tuple[dict[str, Any], ...]  # name, id, bit, cpuid, leaf, subleaf, reg, reg_bit, ...
    lines: dict[str, dict[str, Any]]  # tag -> {doc, fields: {name: {type, required, ...}}}
    cmdline_constants: tuple[Const, ...]
    cmdline_doc: str
    # name, const (CMDLINE_<NAME>), values ({name, const} each; empty for an integer option),
    # maximum (integer options), default (a value's name or an integer), doc
    cmdline_options: tuple[dict[str, Any], ...]


def load(path: str, root: str | Path = ".") -> Spec:
    """Read and check the spec at ``path`` (relative to ``root``)."""
    try:
        with open(Path(root) / path, "rb") as f:
            raw = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FluidError(f"{path}: {exc}") from None
    try:
        return _build(path, raw)
    except KeyError as exc:
        raise FluidError(f"{path}: missing key {exc}") from None
    except (TypeError, ValueError) as exc:
        raise FluidError(f"{path}: {exc}") from None


def _build(path: str, raw: dict[str, Any]) -> Spec:
    names: set[str] = set()

    def claim(name: str) -> str:
        if not NAME.fullmatch(name):
            raise ValueError(f"constant name {name!r} is not UPPER_CASE")
        if name in names:
            raise ValueError(f"constant {name} is defined twice")
        names.add(name)
        return name

    def constants(items: list[dict[str, Any]]) -> tuple[Const, ...]:
        out = []
        for item in items:
            value, ctype = item["value"], item.get("type", "")
            if ctype.startswith("char["):
                if not isinstance(value, str) or f"char[{len(value)}]" != ctype or not value.isascii():
                    raise ValueError(f"{item['name']}: {value!r} is not an ASCII {ctype}")
                claim(item["name"] + "_LEN")
            elif not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{item['name']}: value must be an integer")
            elif ctype not in ("", "u32") or (ctype == "u32" and not 0 <= value <= 0xFFFFFFFF):
                raise ValueError(f"{item['name']}: bad type {ctype!r} for {value}")
            out.append(Const(claim(item["name"]), value, item.get("doc", ""), item.get("hex", False),
                             ctype == "u32"))
        return tuple(out)

    disk = constants(raw["disk"]["constants"])
    structs: list[Struct] = []
    for sname, body in raw["structs"].items():
        known = {s.name: s.size for s in structs}
        fields, offset = [], 0
        struct_consts = constants(body.get("constants", []))
        for f in body["fields"]:
            match = TYPE.fullmatch(f["type"])
            if not match:
                raise ValueError(f"{sname}.{f['name']}: unknown type {f['type']!r}")
            elem, count = match["elem"], int(match["count"]) if match["count"] else None
            if elem in SCALARS:
                unit = SCALARS[elem][0]
            elif elem == "char" and count:
                unit = 1
            elif elem in known and count:
                unit = known[elem]
            else:
                raise ValueError(f"{sname}.{f['name']}: unknown type {f['type']!r}")
            if f["offset"] != offset:
                raise ValueError(f"{sname}.{f['name']}: offset {f['offset']}, but the fields before "
                                 f"it end at {offset}")
            if "count_name" in f:
                claim(f["count_name"])
            values = tuple({"name": claim(v["name"]), "value": v["value"], "json": v.get("json", ""),
                            "doc": v.get("doc", "")} for v in f.get("values", []))
            size = unit * (count or 1)
            fields.append(StructField(f["name"], offset, f["type"], elem, count, size, f.get("count_name"),
                                      f.get("doc", ""), values))
            offset += size
        struct = Struct(sname, body.get("doc", ""), body["prefix"], body["size"], struct_consts,
                        tuple(fields))
        if offset != struct.size:
            raise ValueError(f"{sname}: fields take {offset} bytes, size says {struct.size}")
        claim(struct.size_name)
        for field in fields:
            claim(struct.offset_name(field))
        structs.append(struct)

    handoff = constants(raw["handoff"]["constants"])
    fatal = tuple({"name": f["name"], "const": claim("FATAL_" + f["name"]), "value": f["value"],
                   "meaning": f["meaning"], "cause": f["cause"]} for f in raw["loader_fatal"])
    _unique("loader fatal code", [f["value"] for f in fatal])
    _in_range("loader fatal code", [f["value"] for f in fatal], 0xFF)  # printed as 0xXX
    exit_consts = constants(raw["exit"]["constants"])
    exits = tuple({"name": claim(s["name"]), "value": s["value"], "status": s.get("status", ""),
                   "meaning": s["meaning"], "note": s.get("note", ""), "qemu_status": (s["value"] << 1) | 1}
                  for s in raw["exit"]["statuses"])
    _unique("exit value", [s["value"] for s in exits])
    _in_range("exit value", [s["value"] for s in exits], 0x7F)  # QEMU's status (value << 1) | 1 is a byte
    features = []
    for bit, f in enumerate(raw["cpu_features"]):
        if f["bit"] != bit:
            raise ValueError(f"cpu feature {f['name']}: bit {f['bit']}, expected {bit} (bits in order)")
        match = CPUID.fullmatch(f["cpuid"])
        if not match:
            raise ValueError(f"cpu feature {f['name']}: cpuid {f['cpuid']!r} is not leaf[.sub]:REG[bit]")
        features.append({"name": f["name"], "id": claim("CPU_FEAT_" + f["name"].upper().replace(".", "_")),
                         "bit": bit, "cpuid": f["cpuid"], "leaf": int(match["leaf"], 0),
                         "subleaf": int(match["subleaf"] or 0), "reg": match["reg"],
                         "reg_bit": int(match["bit"]), "clang_macro": f["clang_macro"], "linux": f["linux"],
                         "doc": f.get("doc", "")})
    if len(features) > 32:
        raise ValueError("more than 32 CPU feature bits do not fit the header's cpu_features")
    claim("CPU_FEATURE_COUNT")

    lines = {}
    for tag, body in raw["lines"].items():
        fields = {}
        for f in body["fields"]:
            if f["type"] not in JSON_TYPES:
                raise ValueError(f"{tag}.{f['name']}: type {f['type']!r} is not one of {JSON_TYPES}")
            if f["name"] in fields:
                raise ValueError(f"{tag}: field {f['name']} listed twice")
            if "pattern" in f:
                re.compile(f["pattern"])
            enum = f.get("enum")
            if "enum_from" in f:
                enum = [*_enum_from(f["enum_from"], structs, exits), *f.get("enum_extra", [])]
            fields[f["name"]] = {"type": f["type"], "required": f.get("required", False),
                                 "enum": tuple(enum) if enum is not None else None,
                                 "pattern": f.get("pattern"), "by": f.get("by", ""), "doc": f.get("doc", "")}
        printers = tuple(body.get("printers", DEFAULT_PRINTERS))
        if not printers or not set(printers) <= set(PRINTERS):
            raise ValueError(f"{tag}: printers {list(printers)}, expected some of {list(PRINTERS)}")
        lines[tag] = {"doc": body.get("doc", ""), "printers": printers, "fields": fields}
    cmdline = raw["cmdline"]
    cmdline_consts = constants(cmdline["constants"])
    options = tuple(_cmdline_option(o, claim) for o in cmdline["options"])
    _unique_names("command line option", [o["name"] for o in options])
    return Spec(path, disk, raw["disk"].get("doc", ""), tuple(structs), handoff,
                raw["handoff"].get("doc", ""), fatal, exit_consts, raw["exit"].get("doc", ""), exits,
                tuple(features), lines, cmdline_consts, cmdline.get("doc", ""), options)


CMDLINE_WORD = re.compile(r"[a-z][a-z0-9_]*")


def _cmdline_option(raw: dict[str, Any], claim: Any) -> dict[str, Any]:
    """One ``[[cmdline.options]]`` entry: a choice among ``values`` or an integer up to ``maximum``."""
    name = raw["name"]
    if not CMDLINE_WORD.fullmatch(name):
        raise ValueError(f"command line option {name!r} is not a lower-case word")
    const = claim(f"CMDLINE_{name.upper()}")
    if ("values" in raw) == ("maximum" in raw):
        raise ValueError(f"command line option {name}: give either 'values' or 'maximum'")
    default = raw["default"]
    if "values" in raw:
        values = raw["values"]
        for value in values:
            if not isinstance(value, str) or not CMDLINE_WORD.fullmatch(value):
                raise ValueError(f"command line option {name}: value {value!r} is not a lower-case word")
        _unique_names(f"command line option {name}: value", values)
        if default not in values:
            raise ValueError(f"command line option {name}: default {default!r} is not one of its values")
        return {"name": name, "const": const, "maximum": None, "default": default, "doc": raw.get("doc", ""),
                "values": tuple({"name": v, "const": claim(f"{const}_{v.upper()}"), "index": i}
                                for i, v in enumerate(values))}
    maximum = raw["maximum"]
    if not isinstance(maximum, int) or isinstance(maximum, bool) or not 0 < maximum <= 0xFFFFFFFF:
        raise ValueError(f"command line option {name}: maximum {maximum!r} is not a positive u32")
    if not isinstance(default, int) or isinstance(default, bool) or not 0 <= default <= maximum:
        raise ValueError(f"command line option {name}: default {default!r} is not in 0..{maximum}")
    claim(f"{const}_MAX")
    return {"name": name, "const": const, "maximum": maximum, "default": default, "doc": raw.get("doc", ""),
            "values": ()}


def _unique_names(what: str, names: list[str]) -> None:
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{what} {', '.join(dupes)} listed twice")


def _enum_from(source: str, structs: list[Struct], exits: tuple[dict[str, Any], ...]) -> list[str]:
    """The values a line field takes from elsewhere in the spec: ``exit.statuses``
    (their ``status``) or ``<struct>.<field>`` (the JSON names of its values)."""
    if source == "exit.statuses":
        return [s["status"] for s in exits if s["status"]]
    struct_name, _, field_name = source.partition(".")
    for struct in structs:
        for field in struct.fields:
            if (struct.name, field.name) == (struct_name, field_name) and field.values:
                return [v["json"] for v in field.values]
    raise ValueError(f"enum_from {source!r} names neither exit.statuses nor a structure field with values")


def _in_range(what: str, values: list[int], top: int) -> None:
    bad = [v for v in values if not isinstance(v, int) or not 0 <= v <= top]
    if bad:
        raise ValueError(f"{what} {bad[0]!r} is not an integer from 0 to {top:#x}")


def _unique(what: str, values: list[int]) -> None:
    dupes = sorted({v for v in values if values.count(v) > 1})
    if dupes:
        raise ValueError(f"{what} {', '.join(hex(v) for v in dupes)} used twice")


def _int(value: int, hex_: bool) -> str:
    return f"0x{value:02X}" if hex_ else str(value)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _banner(spec: Spec) -> str:
    return f"Generated from {spec.path} by {GENERATOR}; do not edit."


# -- NASM -------------------------------------------------------------------------


def render_nasm(spec: Spec) -> str:
    out = [f"; {_banner(spec)}", "; The Fluid OS boot protocol (docs/boot-protocol.md) as NASM constants:",
           "; %assign (usable in %if) or, for strings, %define of a character constant.", "",
           "%ifndef FLUID_PROTOCOL_INC", "%define FLUID_PROTOCOL_INC"]

    def const(c: Const) -> None:
        if c.chars:
            _nasm(out, "define", c.name, f"'{c.value}'", c.doc)
            _nasm(out, "assign", f"{c.name}_LEN", str(len(c.value)), "")
        else:
            _nasm(out, "assign", c.name, _int(c.value, c.hex), c.doc)

    def section(title: str, consts: tuple[Const, ...]) -> None:
        out.extend(["", f"; {_one_line(title)}"])
        for c in consts:
            const(c)

    section(spec.disk_doc, spec.disk)
    for s in spec.structs:
        section(s.doc, s.constants)
        _nasm(out, "assign", s.size_name, str(s.size), f"bytes of struct {s.name}")
        for f in s.fields:
            _nasm(out, "assign", s.offset_name(f), str(f.offset), f"{f.type} {f.name}")
            if f.count_name:
                _nasm(out, "assign", f.count_name, str(f.count), f"elements of {f.name}")
            for v in f.values:
                _nasm(out, "assign", v["name"], str(v["value"]), f"{f.name}: {v['doc']}")
    section(spec.handoff_doc, spec.handoff)
    out.extend(["", "; Loader fatal error codes (printed as FATAL ERROR: 0xXX)"])
    for f in spec.fatal:
        _nasm(out, "assign", f["const"], _int(f["value"], True), f["meaning"])
    section(spec.exit_doc, spec.exit_constants)
    for s in spec.exits:
        _nasm(out, "assign", s["name"], _int(s["value"], True), s["meaning"])
    out.extend(["", "; CPU feature bits (the header's cpu_features)"])
    for f in spec.features:
        _nasm(out, "assign", f["id"], str(f["bit"]), f"{f['name']}: CPUID {f['cpuid']}")
    _nasm(out, "assign", "CPU_FEATURE_COUNT", str(len(spec.features)), "")
    section(spec.cmdline_doc, spec.cmdline_constants)
    for o in spec.cmdline_options:
        for v in o["values"]:
            _nasm(out, "assign", v["const"], str(v["index"]), f"{o['name']}={v['name']}")
        if o["maximum"] is not None:
            _nasm(out, "assign", f"{o['const']}_MAX", str(o["maximum"]), f"largest {o['name']}")
    out.extend(["", "%endif", ""])
    return "\n".join(out)


def _nasm(out: list[str], directive: str, name: str, value: str, doc: str) -> None:
    line = f"%{directive} {name} {value}"
    out.append(f"{line:<40}; {_one_line(doc)}" if doc else line)


# -- C ------------------------------------------------------------------------------


def render_c(spec: Spec) -> str:
    out = [f"/* {_banner(spec)}", " * The Fluid OS boot protocol (docs/boot-protocol.md) as C constants",
           " * and packed structures. */", "#ifndef FLUID_PROTOCOL_H", "#define FLUID_PROTOCOL_H", "",
           "#include <stddef.h>", "#include <stdint.h>"]

    def define(name: str, value: str, doc: str) -> None:
        line = f"#define {name} {value}"
        out.append(f"{line} /* {_c_comment(doc)} */" if doc else line)

    def const(c: Const) -> None:
        if c.chars:
            define(c.name, f'"{c.value}"', c.doc)
            define(f"{c.name}_LEN", str(len(c.value)), "")
        else:
            define(c.name, _int(c.value, c.hex) + ("u" if c.u32 else ""), c.doc)

    def section(title: str, consts: tuple[Const, ...]) -> None:
        out.extend(["", f"/* {_c_comment(title)} */"])
        for c in consts:
            const(c)

    section(spec.disk_doc, spec.disk)
    for s in spec.structs:
        section(s.doc, s.constants)
        define(s.size_name, str(s.size), f"sizeof(struct {s.name})")
        for f in s.fields:
            define(s.offset_name(f), str(f.offset), f"offsetof(struct {s.name}, {f.name})")
        for f in s.fields:
            if f.count_name:
                define(f.count_name, str(f.count), f"elements of {s.name}.{f.name}")
            for v in f.values:
                define(v["name"], str(v["value"]), f"{s.name}.{f.name}: {v['doc']}")
            if f.values and any(v["json"] for v in f.values):
                out.append(f"/* X(value, json_name) for each {s.name}.{f.name} value */")
                entries = [f'X({v["name"]}, "{v["json"]}")' for v in f.values]
                out.append(f"#define {s.values_name(f)}(X) " + " ".join(entries))
        out.extend(["", f"struct {s.name} {{"])
        for f in s.fields:
            if f.doc:
                out.append(f"    /* {_c_comment(f.doc)} */")
            if f.elem in SCALARS:
                ctype = SCALARS[f.elem][2]
            else:
                ctype = "char" if f.elem == "char" else f"struct {f.elem}"
            if f.count is None:
                out.append(f"    {ctype} {f.name};")
            else:
                ctype = "uint8_t" if f.elem == "u8" else ctype
                out.append(f"    {ctype} {f.name}[{f.count_name or f.count}];")
        out.append("} __attribute__((packed));")
        out.append(f'_Static_assert(sizeof(struct {s.name}) == {s.size_name}, "struct {s.name} is '
                   f'{s.size} bytes");')
        for f in s.fields:
            out.append(f"_Static_assert(offsetof(struct {s.name}, {f.name}) == {s.offset_name(f)}, "
                       f'"{s.name}.{f.name} at {f.offset}");')
    section(spec.handoff_doc, spec.handoff)
    out.extend(["", "/* Loader fatal error codes (printed as FATAL ERROR: 0xXX) */"])
    for f in spec.fatal:
        define(f["const"], _int(f["value"], True), f["meaning"])
    section(spec.exit_doc, spec.exit_constants)
    for s in spec.exits:
        define(s["name"], _int(s["value"], True), s["meaning"])
    out.extend(["", "/* CPU feature bits (the header's cpu_features) */", "enum cpu_feature_bit {"])
    for f in spec.features:
        out.append(f"    {f['id']} = {f['bit']}, /* {f['name']}: CPUID {f['cpuid']} */")
    out.extend([f"    CPU_FEATURE_COUNT = {len(spec.features)},", "};", "",
                "/* X(id, name, cpuid_leaf, cpuid_subleaf, cpuid_register, cpuid_bit) per feature,",
                " * in bit order; the register is EAX, EBX, ECX or EDX. */",
                "#define CPU_FEATURE_TABLE(X) \\"])
    for f in spec.features:
        out.append(f'    X({f["id"]}, "{f["name"]}", 0x{f["leaf"]:X}u, {f["subleaf"]}, {f["reg"]}, '
                   f'{f["reg_bit"]}) \\')
    out.append("    /* end of CPU_FEATURE_TABLE */")
    section(spec.cmdline_doc, spec.cmdline_constants)
    for o in spec.cmdline_options:
        for v in o["values"]:
            define(v["const"], str(v["index"]), f"{o['name']}={v['name']}")
        if o["values"]:
            entries = " ".join(f'V({v["const"]}, "{v["name"]}")' for v in o["values"])
            out.append(f"#define {o['const']}_VALUES(V) {entries}")
        else:
            define(f"{o['const']}_MAX", str(o["maximum"]), f"largest {o['name']}")
    out.extend(["/* The options, for the parser: CHOICE(field, \"name\", default, VALUES) for a choice",
                " * among VALUES(V) (V(constant, \"name\") per value), NUMBER(field, \"name\", default,",
                " * maximum) for an integer. */", "#define CMDLINE_OPTIONS(CHOICE, NUMBER) \\"])
    for o in spec.cmdline_options:
        if o["values"]:
            default = next(v["const"] for v in o["values"] if v["name"] == o["default"])
            out.append(f'    CHOICE({o["name"]}, "{o["name"]}", {default}, {o["const"]}_VALUES) \\')
        else:
            out.append(f'    NUMBER({o["name"]}, "{o["name"]}", {o["default"]}, {o["const"]}_MAX) \\')
    out.append("    /* end of CMDLINE_OPTIONS */")
    out.extend(["", "/* Serial lines (TAG {json} at column 0; fields in the Python module's LINES):"])
    for tag, line in spec.lines.items():
        out.append(f" *   {tag}: {', '.join(line['fields'])}")
    out.extend([" */", "", "#endif", ""])
    return "\n".join(out)


def _c_comment(text: str) -> str:
    return _one_line(text).replace("*/", "* /")


# -- Python ---------------------------------------------------------------------------



def render_python(spec: Spec) -> str:
    out = ['"""The Fluid OS boot protocol (docs/boot-protocol.md) as Python constants.', "",
           f"{_banner(spec)}", f"Refresh with: {REFRESH}", '"""', "# ruff: noqa: E501", "",
           "from __future__ import annotations", "", "from typing import Any"]

    def assign(name: str, value: str, doc: str) -> None:
        line = f"{name} = {value}"
        out.append(f"{line}  # {_one_line(doc)}" if doc else line)

    def const(c: Const) -> None:
        if c.chars:
            assign(c.name, repr(c.value.encode()), c.doc)
            assign(f"{c.name}_LEN", str(len(c.value)), "")
        else:
            assign(c.name, _int(c.value, c.hex), c.doc)

    def section(title: str, consts: tuple[Const, ...]) -> None:
        out.extend(["", f"# {_one_line(title)}"])
        for c in consts:
            const(c)

    section(spec.disk_doc, spec.disk)
    for s in spec.structs:
        section(s.doc, s.constants)
        assign(s.size_name, str(s.size), f"bytes of {s.name}")
        for f in s.fields:
            assign(s.offset_name(f), str(f.offset), f"{f.type} {f.name}")
        for f in s.fields:
            if f.count_name:
                assign(f.count_name, str(f.count), f"elements of {f.name}")
            for v in f.values:
                assign(v["name"], str(v["value"]), f"{f.name}: {v['doc']}")
            if f.values and any(v["json"] for v in f.values):
                assign(s.values_name(f), repr({v["value"]: v["json"] for v in f.values}),
                       f"{f.name}: its name in serial lines")
        fmt = "<" + "".join(_py_format(f) for f in s.fields)
        assign(f"{s.name.upper()}_FORMAT", repr(fmt), "struct module format of the whole structure")
        assign(f"{s.name.upper()}_FIELDS", repr(tuple(f.name for f in s.fields)), "")
    section(spec.handoff_doc, spec.handoff)
    out.extend(["", "# Loader fatal error codes (printed as FATAL ERROR: 0xXX)"])
    for f in spec.fatal:
        assign(f["const"], _int(f["value"], True), f["meaning"])
    out.append("LOADER_FATAL: dict[int, dict[str, str]] = {")
    for f in spec.fatal:
        entry = {k: f[k] for k in ("name", "meaning", "cause")}
        out.append(f"    {_int(f['value'], True)}: {entry!r},")
    out.append("}")
    section(spec.exit_doc, spec.exit_constants)
    for s in spec.exits:
        assign(s["name"], _int(s["value"], True), s["meaning"])
    out.append("EXIT_STATUSES: dict[int, dict[str, Any]] = {")
    for s in spec.exits:
        entry = {k: s[k] for k in ("name", "status", "meaning", "note", "qemu_status")}
        out.append(f"    {_int(s['value'], True)}: {entry!r},")
    out.append("}")
    out.extend(["", "# CPU feature bits (the header's cpu_features)"])
    for f in spec.features:
        assign(f["id"], str(f["bit"]), f"{f['name']}: CPUID {f['cpuid']}")
    assign("CPU_FEATURE_COUNT", str(len(spec.features)), "")
    out.append("CPU_FEATURES: tuple[dict[str, Any], ...] = (")
    for f in spec.features:
        entry = {k: f[k] for k in ("name", "bit", "cpuid", "clang_macro", "linux", "doc")}
        out.append(f"    {entry!r},")
    out.append(")")
    section(spec.cmdline_doc, spec.cmdline_constants)
    for o in spec.cmdline_options:
        for v in o["values"]:
            assign(v["const"], str(v["index"]), f"{o['name']}={v['name']}")
        if o["maximum"] is not None:
            assign(f"{o['const']}_MAX", str(o["maximum"]), f"largest {o['name']}")
    out.append("CMDLINE_OPTIONS: dict[str, dict[str, Any]] = {")
    for o in spec.cmdline_options:
        entry = {"values": tuple(v["name"] for v in o["values"]), "maximum": o["maximum"],
                 "default": o["default"], "doc": o["doc"]}
        out.append(f"    {o['name']!r}: {entry!r},")
    out.append("}")
    out.extend(["", "# Serial lines: TAG {json} at column 0; every field a line may hold."])
    out.append("LINES: dict[str, dict[str, Any]] = {")
    for tag, line in spec.lines.items():
        out.append(f"    {tag!r}: {{")
        out.append(f"        'doc': {line['doc']!r},")
        out.append(f"        'printers': {line['printers']!r},")
        out.append("        'fields': {")
        for name, field in line["fields"].items():
            out.append(f"            {name!r}: {field!r},")
        out.extend(["        },", "    },"])
    out.append("}")
    return "\n".join(out) + "\n"


def _py_format(f: StructField) -> str:
    if f.count is None:
        return SCALARS[f.elem][1]
    return f"{f.size}s"


# -- Markdown (docs/boot-protocol.md) ------------------------------------------------------

DOC_BEGIN = "<!-- generated from src/protocol/protocol.toml: {name} -->"
DOC_END = "<!-- end of generated {name} -->"
DOC_BLOCK = re.compile(r"(<!-- generated from src/protocol/protocol\.toml: (?P<name>[A-Za-z0-9_-]+) -->\n)"
                       r".*?(<!-- end of generated (?P=name) -->)", re.S)


def render_markdown(spec: Spec) -> dict[str, str]:
    """The generated tables of docs/boot-protocol.md, by block name."""
    blocks = {}
    for s in spec.structs:
        rows = [f"| {f.offset} | {f.type} | `{f.name}` | {_md(_field_doc(f))} |" for f in s.fields]
        blocks[s.name] = _table(["offset", "type", "field", "meaning"], rows)
    rows = [f"| {f['bit']} | {f['name']} | {_with_note(f['cpuid'], f['doc'])} |" for f in spec.features]
    blocks["cpu_features"] = _table(["bit", "feature", "CPUID"], rows)
    rows = [f"| {_int(f['value'], True)} | {f['name']} | {_md(f['cause'])} |" for f in spec.fatal]
    blocks["loader_fatal"] = _table(["code", "name", "cause"], rows)
    rows = [f"| {_int(s['value'], True)} | {s['qemu_status']} | {_md(_with_note(s['meaning'], s['note']))} |"
            for s in spec.exits]
    blocks["exit"] = _table(["value", "QEMU status", "meaning"], rows)
    rows = []
    for o in spec.cmdline_options:
        values = ", ".join(f"`{v['name']}`" for v in o["values"]) or f"0 to {o['maximum']}"
        rows.append(f"| `{o['name']}` | {values} | `{o['default']}` | {_md(o['doc'])} |")
    blocks["cmdline"] = _table(["option", "values", "default", "meaning"], rows)
    for tag, line in spec.lines.items():
        rows = []
        for name, f in line["fields"].items():
            kind = f["type"]
            if f["enum"]:
                kind += " (" + ", ".join(f'"{v}"' for v in f["enum"]) + ")"
            required = "yes" if f["required"] else _with_note("no", f["by"])
            rows.append(f"| `{name}` | {kind} | {required} | {_md(f['doc'])} |")
        blocks[tag] = _table(["field", "JSON type", "required", "meaning"], rows)
    return blocks


def _with_note(text: str, note: str) -> str:
    return f"{text} ({note})" if note else text


def _field_doc(f: StructField) -> str:
    doc = f.doc
    if f.values:
        listed = ", ".join(f"{v['value']} = {v['doc']}" for v in f.values)
        doc = f"{doc}: {listed}" if doc else listed
    return doc


def _md(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _table(header: list[str], rows: list[str]) -> str:
    return "\n".join([f"| {' | '.join(header)} |", "|" + "|".join("---" for _ in header) + "|", *rows]) + "\n"


def update_doc(text: str, blocks: dict[str, str]) -> str:
    """``text`` with every generated block replaced by its current rendering."""
    seen = set()

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in blocks:
            raise FluidError(f"{DOC_PATH}: no generated table named '{name}'")
        seen.add(name)
        return match[1] + blocks[name] + match[3]

    updated = DOC_BLOCK.sub(replace, text)
    missing = sorted(set(blocks) - seen)
    if missing:
        raise FluidError(f"{DOC_PATH}: no place for the generated tables {', '.join(missing)} "
                         f"(mark one with {DOC_BEGIN.format(name=missing[0])} ... "
                         f"{DOC_END.format(name=missing[0])})")
    return updated


RENDERERS = {"nasm": render_nasm, "c": render_c, "python": render_python}


# -- the plugin ------------------------------------------------------------------------------


@hookimpl
def fluidbuild_fatal_codes() -> list[FatalCode]:
    """The built-in loader's FATAL codes, as the committed Python copy of the spec has them
    (a package's loader adds its own through the same hook)."""
    from fluidbench import protocol

    return [FatalCode(code, item["name"], item["meaning"]) for code, item in protocol.LOADER_FATAL.items()]


@hookimpl
def fluidbuild_options_schema() -> Map:
    return Map({"lang": Field(Str(choices=tuple(RENDERERS)), required=True,
                              doc="nasm (protocol.inc), c (protocol.h) or python (protocol.py)")})


@hookimpl
def fluidbuild_target_tasks(target: Target, ctx: BuildContext) -> TargetResult:
    if len(target.sources) != 1 or not target.sources[0].endswith(".toml"):
        raise FluidError(f"target '{target.name}': protocol needs one source, the spec (.toml)")
    spec, lang = target.sources[0], target.options["lang"]
    out = ctx.out("gen", OUTPUT_FILES[lang])
    task = TaskSpec(
        name=target.name,
        doc=target.doc or f"generate {out} from {spec}",
        actions=[PyAction(write_generated, {"spec_path": spec, "lang": lang, "output": out})],
        file_dep=[spec],
        targets=[out],
        config={"lang": lang, "generator": _generator_digest()},
    )
    return TargetResult([task], [out])


def _generator_digest() -> str:
    """The renderers' own code: a change to it regenerates like a change to the spec."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def write_generated(spec_path: str, lang: str, output: str) -> None:
    write_text(output, RENDERERS[lang](load(spec_path)))


# -- refreshing the committed copies -----------------------------------------------------------


def committed(root: str | Path = ".") -> dict[str, str]:
    """The committed generated files (project-relative path -> the text they must have)."""
    spec = load(SPEC_PATH, root)
    doc = (Path(root) / DOC_PATH).read_text()
    return {COMMITTED_PY: render_python(spec), DOC_PATH: update_doc(doc, render_markdown(spec))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=f"Refresh {COMMITTED_PY} and the tables of {DOC_PATH} "
                                                 f"from {SPEC_PATH}.")
    parser.add_argument("--root", default=".", help="project root (default: the current directory)")
    parser.add_argument("--check", action="store_true", help="only report stale files (exit status 1)")
    args = parser.parse_args(argv)
    try:
        expected = committed(args.root)
    except FluidError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stale = []
    for path, text in expected.items():
        target = Path(args.root) / path
        if target.read_text() != text:
            stale.append(path)
            if not args.check:
                write_text(str(target), text)
    verb = "out of date" if args.check else "refreshed"
    for path in stale:
        print(f"{path}: {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
