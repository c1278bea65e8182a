"""infer: the ``infer`` manifest section and the settings module the kernel generates text with.

The kernel's inference workload (``workload=infer`` on its boot command line,
``doit run profile=llama``) reads three boot modules: the checkpoint
(``model``), the tokenizer (``tokenizer``) and these settings (``infer``). The
section says what to generate::

    infer:
      prompt: "Once upon a time"
      tokens: 64          # generated after the prompt
      temperature: 0      # 0: greedy decoding
      topp: 0.9           # nucleus sampling when the temperature is above 0
      seed: 1             # the sampler's xorshift64* seed

A target with ``plugin: infer`` and one dependency, the ``plugin: model``
target whose checkpoint the kernel runs, writes ``build/<target>/infer.bin``:
the spec's ``infer_settings`` header (src/protocol/protocol.toml), the
checkpoint's and the tokenizer's project-relative paths (the kernel's
FLUID-INFER ``model`` and ``tokenizer``), then the prompt. Its task also
checks the settings against the model (``tokens`` must fit its seq_len), the
error naming the manifest line. The image's ``model`` and ``tokenizer``
modules must then be that model's checkpoint and tokenizer, so that the paths
the kernel reports are the files it ran: the plugin checks it while the
graph is declared, naming the ``image.modules`` line.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from fluidbench import protocol
from fluidbuild.atomic import write_bytes
from fluidbuild.hookspecs import hookimpl
from fluidbuild.manifest import where_in
from fluidbuild.model import BuildContext, Manifest, PyAction, Target, TargetResult, TaskSpec
from fluidbuild.schema import Checked, Field, Float, Int, Map, Schema, Str, Where

PLUGIN = "infer"  # this plugin's entry-point name (pyproject.toml)
MODEL_PLUGIN = "model"  # the dependency's plugin: outputs checkpoint, tokenizer, model.json
MODULE_FILE = "infer.bin"
U64_MAX = (1 << 64) - 1
HEADER = struct.Struct(protocol.INFER_SETTINGS_FORMAT)
MODULES = {  # image module name -> which output of the model target it must be
    protocol.INFER_MODULE_MODEL.decode(): 0,
    protocol.INFER_MODULE_TOKENIZER.decode(): 1,
}
SETTINGS_MODULE = protocol.INFER_MODULE_SETTINGS.decode()


def _check_section(section: dict[str, Any], where: Where) -> None:
    prompt = section["prompt"]
    if "\0" in prompt:
        raise where.child("prompt", None).fail("the prompt may not hold a NUL character")
    size = len(prompt.encode())
    if size > protocol.INFER_SETTINGS_MAX_PROMPT:
        raise where.child("prompt", None).fail(
            f"the prompt is {size} bytes (UTF-8); at most {protocol.INFER_SETTINGS_MAX_PROMPT}")


SECTION = Checked(Map({
    "prompt": Field(Str(), default="", doc="the text generation starts from (UTF-8)"),
    "tokens": Field(Int(minimum=1, maximum=protocol.INFER_SETTINGS_MAX_TOKENS), default=64,
                    doc="tokens to generate after the prompt"),
    "temperature": Field(Float(minimum=0.0, maximum=1e30), default=0.0,
                         doc="sampling temperature; 0: greedy decoding"),
    "topp": Field(Float(minimum=0.0, maximum=1.0), default=0.9,
                  doc="top-p (nucleus) threshold with a temperature above 0; 0 or 1: all tokens"),
    "seed": Field(Int(minimum=0, maximum=U64_MAX), default=1, doc="the sampler's seed"),
}), _check_section)


@hookimpl
def fluidbuild_manifest_sections() -> dict[str, Schema]:
    return {"infer": SECTION}


@hookimpl
def fluidbuild_options_schema() -> None:
    return None


@hookimpl
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    model = _model_of(target, ctx.manifest)
    checkpoint, tokenizer, meta = inputs[:3]
    for path in (checkpoint, tokenizer):
        if len(path.encode()) > protocol.INFER_SETTINGS_MAX_PATH:
            raise where_in(ctx.manifest, "targets", target.name, "deps").fail(
                f"{path}: the path is longer than the settings' {protocol.INFER_SETTINGS_MAX_PATH} bytes")
    out = ctx.out(target.name, MODULE_FILE)
    settings = dict(ctx.manifest.sections["infer"])
    params = {"checkpoint": checkpoint, "tokenizer": tokenizer, "settings": settings}
    task = TaskSpec(
        name=target.name,
        doc=target.doc or f"write {out}: the inference settings for {model}",
        actions=[PyAction(write_settings, {**params, "meta": meta, "output": out,
                                           "manifest": [ctx.manifest.path, ctx.manifest.root]})],
        file_dep=[meta],
        targets=[out],
        config=params,
    )
    return TargetResult([task], [out])


def _model_of(target: Target, manifest: Manifest) -> str:
    """The one dependency of ``target``, a ``plugin: model`` target."""
    deps = target.deps
    if len(deps) != 1 or manifest.targets[deps[0]].plugin != MODEL_PLUGIN:
        raise where_in(manifest, "targets", target.name, "deps").fail(
            f"target '{target.name}' (plugin {PLUGIN}) depends on exactly one 'plugin: {MODEL_PLUGIN}' "
            f"target, the model the settings go with; it has {list(deps)}")
    return deps[0]


@hookimpl
def fluidbuild_tasks(manifest: Manifest, outputs: dict[str, list[str]]) -> list[TaskSpec]:
    """No task: checks that the image's ``model`` and ``tokenizer`` modules are the files
    of the model its ``infer`` settings module was written for."""
    image = manifest.sections.get("image")
    if not image:
        return []
    modules = image.get("modules") or []
    settings = [m for m in modules if m["name"] == SETTINGS_MODULE and m["target"] is not None
                and manifest.targets[m["target"]].plugin == PLUGIN]
    if not settings:
        return []
    files = outputs.get(_model_of(manifest.targets[settings[0]["target"]], manifest)) or []
    if len(files) < len(MODULES):
        return []  # the model target failed to declare its files: its own error says why
    for name, output in MODULES.items():
        index = next((i for i, m in enumerate(modules) if m["name"] == name), None)
        if index is None:
            raise where_in(manifest, "image", "modules").fail(
                f"the '{SETTINGS_MODULE}' module needs a '{name}' module too: {files[output]}")
        path = _module_path(modules[index], outputs)
        if path is not None and path != files[output]:
            raise where_in(manifest, "image", "modules", index).fail(
                f"module '{name}' is {path}, but the '{SETTINGS_MODULE}' module's model has {files[output]} "
                "(the kernel reports that path as the file it ran)")
    return []


def _module_path(module: dict[str, Any], outputs: dict[str, list[str]]) -> str | None:
    """The file an image module is (None when its target has no such output: the image
    plugin reports that)."""
    if module["target"] is None:
        return module["path"]
    files, pick = outputs.get(module["target"]) or [], module["output"] or 0
    return files[pick] if pick < len(files) else None


def settings_bytes(checkpoint: str, tokenizer: str, settings: dict[str, Any]) -> bytes:
    """The ``infer`` module: the spec's infer_settings header, the two paths, the prompt."""
    model, tok, prompt = checkpoint.encode(), tokenizer.encode(), settings["prompt"].encode()
    header = HEADER.pack(protocol.INFER_SETTINGS_MAGIC, protocol.INFER_SETTINGS_VERSION,
                         protocol.INFER_SETTINGS_SIZE, settings["tokens"], settings["temperature"],
                         settings["topp"], 0, settings["seed"], len(model), len(tok), len(prompt))
    return header + model + tok + prompt


def write_settings(checkpoint: str, tokenizer: str, settings: dict[str, Any], meta: str, output: str,
                   manifest: list[str]) -> None:
    """The task: check the settings against the model (its model.json), write the module.
    ``manifest``: the manifest's path and the project root, for the error's line."""
    with open(meta) as f:
        seq_len = json.load(f)["config"]["seq_len"]
    if settings["tokens"] > seq_len:
        where = where_in(Manifest(manifest[0], manifest[1], "", {}, {}, {}, {}), "infer", "tokens")
        raise where.fail(f"{settings['tokens']} tokens do not fit the {seq_len} positions of the model "
                         f"{checkpoint}: its prompt takes one at least")
    write_bytes(output, settings_bytes(checkpoint, tokenizer, settings))
