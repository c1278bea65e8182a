"""Resolving the CPU profile the tuned code is built for.

Producing a profile asks LLVM (llvmlite) and clang about the CPU, which costs
far more than a no-op build may spend, so the result is cached under
``build/.fluidbuild/`` and reused while the request, the host CPU and the
compiler are unchanged. The ``cpu_profile`` task (plugin ``cpu_flags``)
publishes it as ``build/cpu_profile.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import Any

from fluidbuild.atomic import write_text
from fluidbuild.errors import FluidError
from fluidbuild.fingerprint import canonical
from fluidbuild.model import Manifest
from fluidbuild.plugin import Plugins
from fluidbuild.toolchain import Toolbox


def host_signature() -> str:
    """What identifies this machine's CPU: its model name and flags."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [line for line in f if line.startswith(("model name", "flags"))][:2]
    except OSError:
        lines = []
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def resolve(manifest: Manifest, plugins: Plugins, toolbox: Toolbox) -> dict[str, Any]:
    """The profile for ``manifest.cpu_profile``, from the cache when still valid."""
    request = manifest.cpu_profile
    try:
        compiler = toolbox("clang").identity()
    except FluidError:
        compiler = {}
    versions = {name: info.version for name, info in plugins.info.items()}
    key = hashlib.sha256(canonical({"request": request, "host": host_signature(),
                                    "compiler": compiler, "plugins": versions}).encode()).hexdigest()
    cache = os.path.join(manifest.root, manifest.build_dir, ".fluidbuild", "cpu_profile.json")
    try:
        with open(cache) as f:
            cached = json.load(f)
        if cached.get("cache_key") == key:
            return cached["profile"]
    except (OSError, ValueError, KeyError):
        pass
    profile = plugins.cpu_profile(request, toolbox)
    with contextlib.suppress(OSError):  # a cache: a read-only tree resolves the profile again next time
        write_text(cache, json.dumps({"cache_key": key, "profile": profile}, indent=1, sort_keys=True))
    return profile
