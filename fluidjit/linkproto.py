"""The live re-JIT link's frames (docs/kernel-jit.md), host side.

Layouts, opcodes and limits are the boot protocol's (src/protocol/protocol.toml,
``jit_*`` structures and ``JIT_*`` constants, generated into
:mod:`fluidbench.protocol`): the kernel's C and this module read the same
definition. A frame is a 16-byte header (magic, opcode, flags, sequence
number, payload size) and the payload.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from fluidbench import protocol as P

HEADER = struct.Struct(P.JIT_HEADER_FORMAT)
OPCODES = dict(P.JIT_HEADER_OPCODE_VALUES)  # value -> "HELLO"
EVENTS = dict(P.JIT_VERDICT_EVENT_VALUES)  # value -> "kept"
REASONS = dict(P.JIT_VERDICT_REASON_VALUES)  # value -> "digest"
_MAGIC = struct.pack("<I", P.JIT_MAGIC)


@dataclass(frozen=True)
class Frame:
    opcode: int
    seq: int
    payload: bytes

    @property
    def name(self) -> str:
        return OPCODES.get(self.opcode, f"opcode {self.opcode}")


def frame(opcode: int, seq: int, payload: bytes = b"") -> bytes:
    """The bytes of one frame."""
    if len(payload) > P.JIT_MAX_PAYLOAD:
        raise ValueError(f"a {len(payload)}-byte payload is over JIT_MAX_PAYLOAD ({P.JIT_MAX_PAYLOAD})")
    return HEADER.pack(P.JIT_MAGIC, opcode, 0, seq, len(payload)) + payload


class FrameReader:
    """Frames out of a byte stream, the way the kernel reads them: bytes before a magic are
    skipped (``garbage``), and so is a header with an unknown opcode, nonzero flags or an
    oversized payload."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage = 0

    def feed(self, data: bytes) -> list[Frame]:
        """The frames complete after ``data``."""
        self._buf += data
        out = []
        while True:
            at = self._buf.find(_MAGIC)
            if at < 0:
                keep = len(_MAGIC) - 1  # a magic may be split across reads
                self.garbage += max(0, len(self._buf) - keep)
                del self._buf[:max(0, len(self._buf) - keep)]
                return out
            if at:
                self.garbage += at
                del self._buf[:at]
            if len(self._buf) < HEADER.size:
                return out
            _, opcode, flags, seq, size = HEADER.unpack_from(self._buf)
            if opcode not in OPCODES or flags or size > P.JIT_MAX_PAYLOAD:
                self.garbage += len(_MAGIC)
                del self._buf[:len(_MAGIC)]
                continue
            if len(self._buf) < HEADER.size + size:
                return out
            out.append(Frame(opcode, seq, bytes(self._buf[HEADER.size:HEADER.size + size])))
            del self._buf[:HEADER.size + size]


def _unpack(struct_name: str, payload: bytes) -> dict[str, Any]:
    fmt = getattr(P, f"{struct_name}_FORMAT")
    fields = getattr(P, f"{struct_name}_FIELDS")
    size = struct.calcsize(fmt)
    if len(payload) < size:
        raise ValueError(f"{struct_name.lower()}: {len(payload)} bytes, expected {size}")
    return dict(zip(fields, struct.unpack_from(fmt, payload), strict=True))


def _pack(struct_name: str, **values: Any) -> bytes:
    fields = getattr(P, f"{struct_name}_FIELDS")
    return struct.pack(getattr(P, f"{struct_name}_FORMAT"), *(values.get(f, 0) for f in fields))


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", errors="replace")


def parse_hello(payload: bytes) -> dict[str, Any]:
    """A HELLO payload; ``leaves`` as {(leaf, subleaf): (eax, ebx, ecx, edx)}, ``slots`` as a list
    of addresses."""
    m = _unpack("JIT_HELLO", payload)
    m["slots"] = list(struct.unpack(f"<{P.JIT_MAX_SLOTS}I", m["slots"]))
    leaves = {}
    raw = m["leaves"]
    for i in range(min(m["leaf_count"], P.JIT_CPUID_LEAVES)):
        leaf, subleaf, regs = struct.unpack_from(P.JIT_CPUID_FORMAT, raw, i * P.JIT_CPUID_SIZE)
        leaves[leaf, subleaf] = struct.unpack("<4I", regs)
    m["leaves"] = leaves
    return m


def hello(build_id: int, arena_addr: int, leaves: dict[tuple[int, int], tuple[int, int, int, int]],
          xcr0: int = 0, cr4: int = 0, bench_count: int = 0, tsc_khz: int = 0, usable: int = 0,
          arena_bytes: int = P.JIT_ARENA_BYTES, slots: list[int] | None = None) -> bytes:
    """A HELLO payload (what the kernel sends; for tests)."""
    addresses = (list(slots or []) + [0] * P.JIT_MAX_SLOTS)[:P.JIT_MAX_SLOTS]
    raw = b"".join(struct.pack(P.JIT_CPUID_FORMAT, leaf, sub, struct.pack("<4I", *regs))
                   for (leaf, sub), regs in list(leaves.items())[:P.JIT_CPUID_LEAVES])
    raw = raw.ljust(P.JIT_CPUID_LEAVES * P.JIT_CPUID_SIZE, b"\0")
    return _pack("JIT_HELLO", build_id=build_id, arena_addr=arena_addr, arena_bytes=arena_bytes,
                 bench_count=bench_count, tsc_khz=tsc_khz, usable=usable, cr4=cr4,
                 leaf_count=min(len(leaves), P.JIT_CPUID_LEAVES), xcr0=xcr0, leaves=raw,
                 slots=struct.pack(f"<{P.JIT_MAX_SLOTS}I", *addresses))


def welcome(build_id: int) -> bytes:
    return _pack("JIT_WELCOME", build_id=build_id)


def parse_profile(payload: bytes) -> dict[str, Any]:
    """A PROFILE payload; ``args`` as [(seen, value, changes)] per argument position."""
    m = _unpack("JIT_PROFILE", payload)
    words = struct.unpack("<12Q", m["args"])
    m["args"] = [tuple(words[3 * i:3 * i + 3]) for i in range(4)]
    m["name"], m["variant"] = _text(m["name"]), _text(m["variant"])
    return m


def profile(slot: int, fn_addr: int, size: int, calls: int, cycles: int, name: str, variant: str,
            args: list[tuple[int, int, int]] | None = None) -> bytes:
    """A PROFILE payload (what the kernel sends; for tests)."""
    words = [w for arg in (args or [(0, 0, 0)] * 4) for w in arg]
    words += [0] * (12 - len(words))
    return _pack("JIT_PROFILE", slot=slot, fn_addr=fn_addr, size=size, calls=calls, cycles=cycles,
                 self_cycles=cycles, args=struct.pack("<12Q", *words), name=name.encode()[:16],
                 variant=variant.encode()[:16])


def patch(build_id: int, slot: int, replaces: int, addr: int, entry: int, digest: int,
          code: bytes, last: bool = False) -> bytes:
    """A PATCH payload: its header, then the code (``last``: no other candidate follows)."""
    return _pack("JIT_PATCH", build_id=build_id, slot=slot, replaces=replaces, addr=addr,
                 bytes=len(code), entry=entry, digest=digest,
                 flags=P.JIT_PATCH_LAST if last else 0) + code


def parse_patch(payload: bytes) -> tuple[dict[str, Any], bytes]:
    m = _unpack("JIT_PATCH", payload)
    return m, payload[P.JIT_PATCH_SIZE:]


def decline(slot: int, reason: str) -> bytes:
    return _pack("JIT_DECLINE", slot=slot, reason=reason.encode("ascii", errors="replace")[:P.JIT_REASON_LEN])


def parse_decline(payload: bytes) -> dict[str, Any]:
    m = _unpack("JIT_DECLINE", payload)
    m["reason"] = _text(m["reason"])
    return m


def parse_verdict(payload: bytes) -> dict[str, Any]:
    """A VERDICT payload; ``event`` and ``reason`` by their names."""
    m = _unpack("JIT_VERDICT", payload)
    m["event"] = EVENTS.get(m["event"], f"event {m['event']}")
    m["reason"] = REASONS.get(m["reason"], f"reason {m['reason']}")
    return m


def verdict(slot: int, event: int, reason: int = 0, addr: int = 0, cycles_before: int = 0,
            cycles_after: int = 0, checksum_before: int = 0, checksum_after: int = 0) -> bytes:
    """A VERDICT payload (what the kernel sends; for tests)."""
    return _pack("JIT_VERDICT", slot=slot, event=event, reason=reason, addr=addr,
                 cycles_before=cycles_before, cycles_after=cycles_after,
                 checksum_before=checksum_before, checksum_after=checksum_after)
