"""The task graph for other tools: ``python -m fluidbuild.export FORMAT [options]``.

Formats (written into the build directory unless ``-o`` says otherwise;
``-o -`` prints):

- ``ninja``: ``build/build.ninja`` (:mod:`fluidbuild.ninja`), ``ninja -f build/build.ninja``;
- ``make``: ``build/Makefile`` (:mod:`fluidbuild.makefile`), ``make -r -f build/Makefile``;
- ``compdb``: ``build/compile_commands.json`` (:mod:`fluidbuild.compdb`; clangd finds it
  in ``build/``);
- ``dot``: ``build/graph.dot`` (:mod:`fluidbuild.dot`; ``--group``: one node per target).

The graph is the one ``doit`` builds, loaded by the same steps (manifest,
plugins, CPU profile, toolchain); ``manifest=FILE`` and the other
``NAME=VALUE`` variables of the doit command line are accepted. Run it from
the project folder.
"""

from __future__ import annotations

import argparse
import os
import sys

from fluidbuild.atomic import write_text
from fluidbuild.errors import FluidError
from fluidbuild.model import Manifest, TaskSpec

DEFAULT_NAMES = {"ninja": "build.ninja", "make": "Makefile", "compdb": "compile_commands.json",
                 "dot": "graph.dot"}


def load_graph(root: str, manifest_path: str = "manifest.yaml",
               variables: dict[str, str] | None = None) -> tuple[Manifest, list[TaskSpec]]:
    """The manifest and the task graph ``doit`` would build in ``root`` (the current
    folder): the same steps as :func:`fluidbuild.doit_tasks.load`, without doit, the
    tree lock or the ``plugins`` task."""
    from fluidbuild import cpuprofile
    from fluidbuild.graph import build
    from fluidbuild.manifest import load
    from fluidbuild.toolchain import Toolbox

    variables = dict(variables or {})
    disabled = tuple(name for name in variables.get("disable", "").split(",") if name)
    manifest, plugins = load(manifest_path, root, disabled)
    toolbox = Toolbox(plugins.tools(), manifest.toolchain,
                      os.path.join(root, manifest.build_dir, ".fluidbuild", "tools.json"))
    profile = cpuprofile.resolve(manifest, plugins, toolbox)
    ctx = plugins.context(manifest, profile, toolbox, variables)
    graph = build(manifest, plugins, ctx)
    toolbox.save()
    return manifest, graph.tasks


def render(fmt: str, tasks: list[TaskSpec], manifest: Manifest, root: str, grouped: bool = False) -> str:
    """The text of the export ``fmt`` (the make and ninja exports also write their
    pickled Python actions under the build directory)."""
    if fmt == "ninja":
        from fluidbuild import ninja

        return ninja.render(tasks, manifest.build_dir)
    if fmt == "make":
        from fluidbuild import makefile

        return makefile.render(tasks, manifest.build_dir)
    if fmt == "compdb":
        from fluidbuild import compdb

        return compdb.render(tasks, root)
    if fmt == "dot":
        from fluidbuild import dot

        return dot.render(tasks, grouped)
    raise FluidError(f"unknown export format '{fmt}' (known: {', '.join(DEFAULT_NAMES)})")


def write(fmt: str, output: str | None = None, manifest_path: str = "manifest.yaml",
          variables: dict[str, str] | None = None, grouped: bool = False) -> str:
    """Export the graph of the project in the current folder as ``fmt``; return the
    path written (``-``: printed)."""
    root = os.getcwd()
    manifest, tasks = load_graph(root, manifest_path, variables)
    text = render(fmt, tasks, manifest, root, grouped)
    path = output or os.path.join(manifest.build_dir, DEFAULT_NAMES[fmt])
    if path == "-":
        sys.stdout.write(text)
    else:
        write_text(path, text)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fluidbuild.export",
                                     description="Export fluidbuild's task graph for other tools.")
    parser.add_argument("format", choices=sorted(DEFAULT_NAMES))
    parser.add_argument("variables", nargs="*", metavar="NAME=VALUE",
                        help="doit command-line variables (manifest=other.yaml)")
    parser.add_argument("-o", "--output", help="file to write (default: in the build directory; - prints)")
    parser.add_argument("--group", action="store_true", help="dot: one node per target")
    args = parser.parse_args(argv)
    variables: dict[str, str] = {}
    for item in args.variables:
        name, eq, value = item.partition("=")
        if not eq:
            parser.error(f"expected NAME=VALUE, got {item!r}")
        variables[name] = value
    try:
        path = write(args.format, args.output, variables.get("manifest", "manifest.yaml"), variables,
                     args.group)
    except FluidError as exc:
        print(f"fluidbuild: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fluidbuild: error: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 2
    if path != "-":
        print(f"fluidbuild: wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
