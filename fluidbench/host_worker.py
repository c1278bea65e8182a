"""``python -m fluidbench.host_worker NAME SIZE DUMP REPEAT [MODULE:FUNCTION LABEL WORK UNIT]``:
time the host peers of one benchmark (or a package's reference function) on a
runner dump and print the throughputs as JSON.

Run by :func:`fluidbench.host.measure_host` in a subprocess whose thread
pools are pinned to one thread before numpy is imported.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fluidbench.host import Throughput, best_seconds, import_reference, peers
from fluidbench.oracle import read_dump


def measure(name: str, size: int, dump_path: Path, repeat: int,
            reference: list[str] | None = None) -> list[Throughput]:
    """Best-of-``repeat`` throughput of each host peer of ``name``, or of the reference
    ``[module:function, label, work, unit]``."""
    dump = read_dump(dump_path)
    if reference:
        path, label, work, unit = reference
        function = import_reference(path)
        return [Throughput(label, float(work) / best_seconds(lambda: function(dump.input, size), repeat),
                           unit)]
    return [Throughput(label, work / best_seconds(fn, repeat), unit)
            for label, fn, work, unit in peers(name, size, dump)]


def main(argv: list[str]) -> int:
    name, size, dump, repeat, *reference = argv
    throughputs = measure(name, int(size), Path(dump), int(repeat), reference)
    print(json.dumps([t.__dict__ for t in throughputs]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
