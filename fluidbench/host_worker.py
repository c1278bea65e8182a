"""``python -m fluidbench.host_worker NAME SIZE DUMP REPEAT``: time the host peers of
one benchmark on a runner dump and print the throughputs as JSON.

Run by :func:`fluidbench.host.measure_host` in a subprocess whose thread
pools are pinned to one thread before numpy is imported.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fluidbench.host import Throughput, best_seconds, peers
from fluidbench.oracle import read_dump


def measure(name: str, size: int, dump_path: Path, repeat: int) -> list[Throughput]:
    """Best-of-``repeat`` throughput of each host peer of ``name``."""
    dump = read_dump(dump_path)
    return [Throughput(label, work / best_seconds(fn, repeat), unit)
            for label, fn, work, unit in peers(name, size, dump)]


def main(argv: list[str]) -> int:
    name, size, dump, repeat = argv
    print(json.dumps([t.__dict__ for t in measure(name, int(size), Path(dump), int(repeat))]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
