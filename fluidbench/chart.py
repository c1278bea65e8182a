"""``results.png``: one panel per benchmark and size comparing variants and environments.

Bars on a logarithmic axis (the in-kernel figures under TCG are orders of
magnitude below the native ones), coloured by environment. matplotlib is
optional: without it no chart is written.
"""

from __future__ import annotations

import math
from typing import Any

from fluidbench.report import rows
from fluidbuild.atomic import atomic_output

COLUMNS = 3
PANEL_INCHES = (5.2, 2.6)
COLOURS = {"native": "tab:blue", "kernel": "tab:red", "host": "tab:green"}  # also the bar order


def write(doc: dict[str, Any], path: str) -> bool:
    """Draw the chart into ``path``; False (and nothing written) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter
    except ImportError:
        return False
    groups = rows(doc)
    nrows = math.ceil(len(groups) / COLUMNS)
    fig, axes = plt.subplots(nrows, COLUMNS, squeeze=False,
                             figsize=(PANEL_INCHES[0] * COLUMNS, PANEL_INCHES[1] * nrows))
    for ax, ((name, size), entries) in zip(axes.flat, groups.items(), strict=False):
        shown = sorted((e for e in entries if "throughput" in e), key=lambda e: list(COLOURS).index(e["env"]))
        bars = [(_label(e, doc), e["throughput"], COLOURS[e["env"]]) for e in shown]
        ax.barh([b[0] for b in bars], [b[1] for b in bars], color=[b[2] for b in bars])
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # decades only: narrow ranges stay legible
        ax.invert_yaxis()
        ax.set_title(f"{name}, n={size}", fontsize=10)
        ax.set_xlabel(f"{entries[0]['unit']}/s", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    accel = doc["accelerator"]
    fig.suptitle(f"Fluid OS benchmarks: {doc['machine']['cpu_model']}, profile {doc['cpu_profile']['tag']}, "
                 f"kernel under {accel['chosen'].upper()}{' (emulated)' if accel['emulated'] else ''}",
                 fontsize=11)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return True


def _label(entry: dict[str, Any], doc: dict[str, Any]) -> str:
    if entry["env"] == "native":
        return f"{entry['arch']} {entry['variant']}"
    if entry["env"] == "kernel":
        emulated = " emulated" if doc["accelerator"]["emulated"] else ""
        return f"kernel {entry['variant']}{emulated}"
    return entry["label"]
