"""Vector selects back into branches, where every lane usually picks the same side.

A loop vectoriser turns ``if (rare) x = f(x)`` into straight-line code: it
computes ``f(x)`` for every lane and keeps it with a select on the lanes'
conditions. On a CPU with vector units that costs a few instructions; under
an emulator whose floating-point vector instructions are helper calls that
compute each lane in software (QEMU TCG's softfloat), the arithmetic of the
side almost never taken can be most of the loop. This rewrite puts it
behind one branch per iteration:

    head:  ...everything the selects do not need alone...
           br (every lane keeps its value) ? join : slow
    slow:  the arithmetic only the selects use, the selects
    join:  phi(kept value | select), the rest of the block

A select qualifies when one of its operands is computed in the same block
only for it (its *exclusive cone*: instructions whose every user is in the
cone or the select), free of side effects, with at least one floating-point
operation; the guard is that every lane of its condition picks the other
operand. Whatever the lanes do, the result is the select's: the rewrite
moves pure instructions, it never changes what is computed, so rounding and
checksums stay the same. Whether the branch pays (how often a lane takes
the rare side) is for the measurement to say.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from fluidjit import irtext

_LOCAL = re.compile(r'%(\d+)\b')
_LABEL = re.compile(r'^(\d+):')
_DEF = re.compile(r'^\s+(%[-\w.$]+) = (.*)$')
_USE = re.compile(r'%[-\w.$]+')
_SELECT = re.compile(r'^select (?:fast |nnan |ninf |nsz |arcp |contract |afn |reassoc )*<(\d+) x i1> (.*)$')
FP_OPS = ("fadd", "fsub", "fmul", "fdiv", "frem", "fneg")
FP_CALLS = ("@llvm.sqrt.", "@llvm.fma.", "@llvm.fmuladd.")
PURE_OPS = frozenset({*FP_OPS, "fcmp", "icmp", "select", "and", "or", "xor", "add", "sub", "mul", "shl",
                      "lshr", "ashr", "bitcast", "insertelement", "extractelement", "shufflevector",
                      "sitofp", "uitofp", "fptosi", "fptoui", "fpext", "fptrunc", "zext", "sext", "trunc"})
PURE_CALLS = (*FP_CALLS, "@llvm.fabs.", "@llvm.minnum.", "@llvm.maxnum.", "@llvm.copysign.")


@dataclass
class _Inst:
    line: str
    name: str | None  # the value it defines
    op: str
    uses: list[str]


@dataclass
class _Candidate:
    select: int  # index of the select in its block
    kept: str  # the operand every lane takes when the guard holds
    mask: str  # the condition's value
    lanes: int
    all_true: bool  # guard: every lane of mask is true (else: every lane false)
    cone: set[int]


def _opcode(rhs: str) -> str:
    words = rhs.split()
    if words[0] in ("tail", "musttail", "notail"):
        words = words[1:]
    return words[0]


def _unquoted(line: str, edit: Callable[[str], str]) -> str:
    """``line`` with ``edit`` applied outside its quoted strings (inline assembly's ``%0`` is not
    a value; LLVM writes a quote inside a string as ``\\22``)."""
    parts = line.split('"')
    return '"'.join(edit(part) if i % 2 == 0 else part for i, part in enumerate(parts))


def _parse(line: str) -> _Inst:
    m = _DEF.match(line)
    name, rhs = (m.group(1), m.group(2)) if m else (None, line.strip())
    uses = [u for part in rhs.split('"')[::2] for u in _USE.findall(part)]  # outside strings
    return _Inst(line, name, _opcode(rhs), uses)


def _pure(inst: _Inst) -> bool:
    if inst.op in PURE_OPS:
        return True
    return inst.op == "call" and any(c in inst.line for c in PURE_CALLS)


def _fp_work(inst: _Inst) -> bool:
    return inst.op in FP_OPS or (inst.op == "call" and any(c in inst.line for c in FP_CALLS))


def name_locals(params: str, body: list[str]) -> tuple[str, list[str]]:
    """The function with every numbered local value and block named ``%u.N`` (so instructions
    can move: numbered values must appear in order), the entry block labelled."""
    unnamed_params = sum(1 for p in irtext.split_top_level(params) if _LOCAL.search(p.split()[-1]))
    out = [] if body and _LABEL.match(body[0]) else [f"u.{unnamed_params}:"]

    def rename(text: str) -> str:
        return _unquoted(text, lambda part: _LOCAL.sub(r"%u.\1", part))

    for line in body:
        out.append(_LABEL.sub(lambda m: f"u.{m.group(1)}:", rename(line)))
    return rename(params), out


def _blocks(body: list[str]) -> list[tuple[str, list[str]]]:
    blocks: list[tuple[str, list[str]]] = []
    for line in body:
        label = re.match(r'^([-\w.$]+):', line)
        if label:
            blocks.append((label.group(1), []))
        elif line.strip() and not line.lstrip().startswith(";"):
            blocks[-1][1].append(line)
    return blocks


def _cone(insts: list[_Inst], users: dict[str, set[int]], select: int, root: str) -> set[int]:
    """Indices of the instructions of the block computing ``root`` only for ``select``."""
    index = {inst.name: i for i, inst in enumerate(insts) if inst.name}
    if root not in index or index[root] > select:
        return set()
    reach, todo = set(), [index[root]]
    while todo:
        i = todo.pop()
        if i in reach or insts[i].op == "phi":
            continue
        reach.add(i)
        todo.extend(index[u] for u in insts[i].uses if u in index and index[u] < i)
    cone = set(reach)
    changed = True
    while changed:
        changed = False
        for i in sorted(cone):
            inside = users.get(insts[i].name, set()) <= (cone | {select})
            if not inside or not _pure(insts[i]):
                cone.discard(i)
                changed = True
    # Only what stays connected to the root.
    keep, todo = set(), [index[root]] if index[root] in cone else []
    while todo:
        i = todo.pop()
        if i in keep:
            continue
        keep.add(i)
        todo.extend(index[u] for u in insts[i].uses if u in index and index[u] in cone)
    return keep


def _candidates(insts: list[_Inst]) -> list[_Candidate]:
    users: dict[str, set[int]] = {}
    for i, inst in enumerate(insts):
        for u in inst.uses:
            users.setdefault(u, set()).add(i)
    found = []
    for i, inst in enumerate(insts):
        rhs = _DEF.match(inst.line)
        if not rhs or inst.op != "select":
            continue
        m = _SELECT.match(rhs.group(2))
        if not m:
            continue
        args = irtext.split_top_level(m.group(2))
        if len(args) != 3:
            continue
        mask = args[0].rsplit(" ", 1)[-1]
        if not mask.startswith("%"):  # a constant mask: nothing to decide at run time
            continue
        ops = [a.rsplit(" ", 1)[-1] for a in args[1:]]
        best = None
        for arm, all_true in ((1, True), (0, False)):  # the rare side: false arm, then true arm
            cone = _cone(insts, users, i, ops[arm])
            work = sum(_fp_work(insts[j]) for j in cone)
            if work and (best is None or work > best[0]):
                best = (work, _Candidate(i, ops[1 - arm], mask, int(m.group(1)), all_true, cone))
        if best:
            found.append(best[1])
    # Outermost only: a select inside another's cone moves with it.
    inner = set().union(*(c.cone for c in found)) if found else set()
    return [c for c in found if c.select not in inner]


def _rewrite_block(label: str, lines: list[str], tag: int
                   ) -> tuple[list[str], list[str], list[str], str] | None:
    """The block split as the module docstring says: its lines up to the join block's label, the
    join block's phis, the rest, and the join block's label (where its terminator now is); None
    when nothing qualifies."""
    insts = [_parse(line) for line in lines]
    cands = _candidates(insts)
    while cands:
        moved = set().union(*(c.cone | {c.select} for c in cands))
        names = {insts[i].name for i in moved}
        first_use = min((i for i, inst in enumerate(insts) if i not in moved and names & set(inst.uses)),
                        default=len(insts) - 1)
        index = {inst.name: i for i, inst in enumerate(insts) if inst.name}
        # What moves must come before the first use of what moves, and use nothing defined
        # after it; the guard's mask and the kept value must be there before the branch.
        bad = [c for c in cands
               if any(j >= first_use for j in c.cone | {c.select})
               or any(v in index and (index[v] in moved or index[v] >= first_use) for v in (c.kept, c.mask))
               or any(u in index and index[u] >= first_use and index[u] not in moved
                      for j in c.cone | {c.select} for u in insts[j].uses)]
        if not bad:
            break
        cands = [c for c in cands if c not in bad]
    if not cands:
        return None
    slow, join = f"{label}.slow{tag}", f"{label}.join{tag}"
    selects = {insts[c.select].name: f"{insts[c.select].name}.slow" for c in cands}
    head = [insts[i].line for i in range(first_use) if i not in moved]
    guards, seen = [], set()
    for k, c in enumerate(cands):
        if (c.mask, c.all_true) in seen:
            continue
        seen.add((c.mask, c.all_true))
        bits = f"%g{tag}.{k}"
        head.append(f"  {bits}.m = bitcast <{c.lanes} x i1> {c.mask} to i{c.lanes}")
        head.append(f"  {bits} = icmp eq i{c.lanes} {bits}.m, {-1 if c.all_true else 0}")
        guards.append(bits)
    guard = guards[0]
    for k, g in enumerate(guards[1:]):
        head.append(f"  %g{tag}.and{k} = and i1 {guard}, {g}")
        guard = f"%g{tag}.and{k}"
    head.append(f"  br i1 {guard}, label %{join}, label %{slow}")

    def slow_name(line: str) -> str:
        return _USE.sub(lambda m: selects.get(m.group(0), m.group(0)), line)

    body = [slow_name(insts[i].line) for i in sorted(moved)] + [f"  br label %{join}"]
    phis = []
    for c in cands:
        name = insts[c.select].name
        ty = _DEF.match(insts[c.select].line).group(2)
        ty = irtext.split_top_level(_SELECT.match(ty).group(2))[1].rsplit(" ", 1)[0]
        phis.append(f"  {name} = phi {ty} [ {c.kept}, %{label} ], [ {selects[name]}, %{slow} ]")
    rest = [insts[i].line for i in range(first_use, len(insts)) if i not in moved]
    return [f"{label}:", *head, f"{slow}:", *body, f"{join}:"], phis, rest, join


def rewrite(params: str, body: list[str]) -> tuple[str, list[str], int]:
    """The function (parameters, body lines) with qualifying selects behind branches, and how
    many blocks were split."""
    named_params, named = name_locals(params, body)
    blocks = _blocks(named)
    done = {label: _rewrite_block(label, lines, tag) for tag, (label, lines) in enumerate(blocks)}
    moved = {label: d[3] for label, d in done.items() if d}
    if not moved:
        return params, body, 0
    params = named_params

    def edges(line: str) -> str:
        """A phi naming a split block as its predecessor: the edge now leaves its join block."""
        if " = phi " not in line:
            return line
        for old, new in moved.items():
            line = re.sub(rf"(\[ [^\[\]]*, )%{re.escape(old)} \]", rf"\1%{new} ]", line)
        return line

    out: list[str] = []
    for label, lines in blocks:
        d = done[label]
        if d is None:
            out += [f"{label}:", *map(edges, lines)]
        else:
            out += [*map(edges, d[0]), *d[1], *map(edges, d[2])]
    return params, out, len(moved)
