"""Text generation in the kernel (``doit run profile=llama``; README "Inference in the kernel").

Unit tier: the ``infer`` plugin (the settings module's layout, its checks with the
manifest line: the model dependency, the image's modules, the prompt, tokens
against seq_len, a bad user model) and the run profiles' boot command line (the
kernel's options, QEMU's escaping). Boot tier: one image of the default manifest,
built once, and booted by ``doit run profile=llama`` (exit 0, the FLUID-INFER line,
the text) and with ``infer_logits`` (the logits of the first positions against
tests/infer_reference.py, float64 numpy); the second test shape in the kernel, on
a CPU without SSE (the x87 generic variant); modules the build cannot check (a
truncated checkpoint, sizes that disagree, a zero dimension, a tokenizer of
another vocabulary, a missing module, damaged settings) and a bad command line:
each a named kernel panic, never a hang.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import struct
from pathlib import Path
from typing import Any

import infer_reference as ref
import numpy as np
import pytest
import yaml
from bootkit import boot_image, built_copy, set_manifest
from conftest import ROOT, copy_project, doit
from test_infer import LOGIT_TOLERANCE, assert_logits_close, bad_inputs

from fluidbench import lines, protocol
from fluidbench.qemu import BootResult
from fluidbuild.errors import ManifestError
from fluidbuild.testing import PluginTest
from fluidbuild_plugins.fluidos import infer as infer_plugin
from fluidbuild_plugins.fluidos import qemu as qemu_plugin

MANIFEST = yaml.safe_load((ROOT / "manifest.yaml").read_text())
SETTINGS = MANIFEST["infer"]  # the default manifest's prompt and tokens
LOGITS = 8  # infer_logits: positions whose logits the kernel prints
# Every boot here loads the 1 MB model: under TCG the x87 generic variant needs
# about 0.1 s per forward pass of stories260K, the AVX2 one 3 ms.
BOOT_TIMEOUT_S = 60.0
SMALL = "model_test_unshared"


# -- unit: the infer plugin -------------------------------------------------------------------


def kit(tmp_path: Path, infer: str = "{prompt: Once upon a time, tokens: 16}", deps: str = "[m]",
        modules: str | None = None, files: dict[str, str | bytes] | None = None,
        model: str = "{shape: stories260k}") -> PluginTest:
    modules = modules if modules is not None else (
        "[{name: model, target: m, output: 0}, {name: tokenizer, target: m, output: 1}, "
        "{name: infer, target: s}]")
    return PluginTest(tmp_path, f"""
        targets:
          m: {{plugin: model, options: {model}}}
          s: {{plugin: infer, deps: {deps}}}
          k: {{plugin: model, options: {{shape: stories260k}}}}
        image:
          parts: {{stage1: m, stage2: m, kernel: m}}
          layout: [{{part: stage1, lba: 0, sectors: 1}}, {{part: stage2, lba: 1, sectors: 8}},
                   {{part: kernel, lba: 9}}]
          modules: {modules}
        infer: {infer}
        """, plugins={"infer": infer_plugin}, files=files)


def run_action(test: PluginTest, target: str, meta: dict[str, Any]) -> bytes:
    """Run the settings task's action with the model described by ``meta`` (model.json)."""
    (task,) = test.target_tasks(target).tasks
    action = task.actions[0]
    meta_path = test.root / action.kwargs["meta"]
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps({"config": meta}))
    kwargs = {**action.kwargs, "meta": str(meta_path), "output": str(test.root / action.kwargs["output"])}
    action.func(**kwargs)
    return Path(kwargs["output"]).read_bytes()


def test_settings_module_layout(tmp_path: Path) -> None:
    test = kit(tmp_path, "{prompt: \"Once upon a time, h\u00e9\", tokens: 16, temperature: 0.8, topp: 0.5, "
                         "seed: 18446744073709551615}")
    result = test.target_tasks("s")
    assert result.outputs == ["build/s/infer.bin"]
    assert result.tasks[0].file_dep == ["build/m/model.json"]
    data = run_action(test, "s", {"seq_len": 512})
    fields = dict(zip(protocol.INFER_SETTINGS_FIELDS,
                      struct.unpack_from(protocol.INFER_SETTINGS_FORMAT, data), strict=True))
    prompt = "Once upon a time, h\u00e9".encode()
    assert fields == {"magic": b"FINF", "version": 1, "header_size": protocol.INFER_SETTINGS_SIZE,
                      "tokens": 16, "temperature": np.float32(0.8), "topp": 0.5, "reserved": 0,
                      "seed": (1 << 64) - 1, "model_bytes": 17, "tokenizer_bytes": 21,
                      "prompt_bytes": len(prompt)}
    assert data[protocol.INFER_SETTINGS_SIZE:] == b"build/m/model.binbuild/m/tokenizer.bin" + prompt


def test_settings_are_checked_against_the_model(tmp_path: Path) -> None:
    test = kit(tmp_path, "{tokens: 200}")
    with pytest.raises(ManifestError, match=r"manifest.yaml:\d+: manifest error at 'infer.tokens': 200 "
                                            r"tokens do not fit the 160 positions of the model "
                                            r"build/m/model.bin"):
        run_action(test, "s", {"seq_len": 160})


@pytest.mark.parametrize(("infer", "deps", "message"), [
    ("{tokens: 0}", "[m]", "'infer.tokens': expected an integer"),
    ("{topp: 1.5}", "[m]", "'infer.topp': expected a number in"),
    ("{temperature: -1}", "[m]", "'infer.temperature': expected a number in"),
    ("{prompt: \"a\\0b\"}", "[m]", "'infer.prompt': the prompt may not hold a NUL"),
    ("{prompt: " + "x" * 4097 + "}", "[m]", "'infer.prompt': the prompt is 4097 bytes"),
    ("{}", "[]", "'targets.s.deps': target 's' \\(plugin infer\\) depends on exactly one 'plugin: model'"),
    ("{}", "[m, k]", "'targets.s.deps': target 's' \\(plugin infer\\) depends on exactly one"),
])
def test_bad_settings_name_the_line(tmp_path: Path, infer: str, deps: str, message: str) -> None:
    with pytest.raises(ManifestError, match=r"manifest.yaml:\d+: manifest error at " + message):
        kit(tmp_path, infer, deps).target_tasks("s")


@pytest.mark.parametrize(("modules", "message"), [
    ("[{name: model, target: k, output: 0}, {name: tokenizer, target: m, output: 1}, "
     "{name: infer, target: s}]",
     r"'image.modules\[0\]': module 'model' is build/k/model.bin, but the 'infer' module's model has "
     r"build/m/model.bin"),
    ("[{name: model, target: m, output: 0}, {name: tokenizer, target: m, output: 0}, "
     "{name: infer, target: s}]",
     r"'image.modules\[1\]': module 'tokenizer' is build/m/model.bin"),
    ("[{name: model, target: m}, {name: infer, target: s}]",
     r"'image.modules': the 'infer' module needs a 'tokenizer' module too: build/m/tokenizer.bin"),
])
def test_image_modules_must_be_the_settings_model(tmp_path: Path, modules: str, message: str) -> None:
    test = kit(tmp_path, modules=modules)
    for target in ("m", "k", "s"):
        test.target_tasks(target)
    with pytest.raises(ManifestError, match=r"manifest.yaml:\d+: manifest error at " + message):
        test.project_tasks(plugin="infer")


def test_settings_of_a_bad_user_model_stop_the_build(tmp_path: Path,
                                                     small_model: tuple[bytes, bytes]) -> None:
    ckpt, tok, message, _ = bad_inputs(*small_model)["truncated"]
    test = kit(tmp_path, model="{checkpoint: models/c.bin, tokenizer: models/t.bin}",
               files={"models/c.bin": ckpt, "models/t.bin": tok})
    with pytest.raises(ManifestError, match=r"manifest.yaml:\d+: manifest error at "
                                            r"'targets.m.options.checkpoint': models/c.bin: " + message):
        test.target_tasks("s")


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """The second test shape's files (the manifest's model_test_unshared), generated."""
    from fluidbuild_plugins.fluidos import model as model_plugin

    folder = tmp_path_factory.mktemp("small")
    spec = MANIFEST["targets"][SMALL]["options"]
    model_plugin.generate(spec["dims"], spec["seed"], spec["unshared"], str(folder / "c.bin"),
                          str(folder / "t.bin"), str(folder / "m.json"))
    return (folder / "c.bin").read_bytes(), (folder / "t.bin").read_bytes()


# -- unit: the boot command line ----------------------------------------------------------------


@pytest.mark.parametrize(("cmdline", "problem"), [
    ("", None),
    ("workload=infer", None),
    ("  workload=bench   infer_logits=64 ", None),
    ("workload=infer infer_logits=007", None),
    ("workload=fast", "workload=fast: expected bench or infer"),
    ("infer_logits=65", "infer_logits=65: expected an integer from 0 to 64"),
    ("infer_logits=-1", "infer_logits=-1: expected an integer from 0 to 64"),
    ("verbose", "'verbose' is not key=value"),
    ("colour=red", "unknown option 'colour' (the options are workload, infer_logits)"),
    ("workload=infer\tinfer_logits=1", "printable ASCII"),
    ("workload=infer " * 20, "is 300 bytes; the kernel reads at most 255"),
])
def test_cmdline_words_are_the_kernels(cmdline: str, problem: str | None) -> None:
    got = qemu_plugin.cmdline_problem(cmdline)
    assert (got is None) if problem is None else (got is not None and problem in got), got


def test_bad_cmdline_names_the_profile_line(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"manifest.yaml:\d+: manifest error at 'run.llama.cmdline': "
                                            r"workload=fast: expected bench or infer"):
        PluginTest(tmp_path, """
            targets: {}
            run:
              default: {cpu: max}
              llama: {cmdline: "workload=fast"}
            """)


def test_cmdline_reaches_the_guest_as_fw_cfg_with_commas_doubled() -> None:
    argv = qemu_plugin.qemu_argv("qemu-system-i386", "build/a,b.img", "floppy", cmdline="workload=infer")
    assert argv[argv.index("-fw_cfg") + 1] == "name=opt/fluidos/cmdline,string=workload=infer"
    assert "file=build/a,,b.img,format=raw,if=floppy,snapshot=on" in argv
    assert "-fw_cfg" not in qemu_plugin.qemu_argv("q", "i.img", "ide"), "no command line: no fw_cfg file"
    assert qemu_plugin._escaped("a=1,b") == "a=1,,b"  # what a comma would do to -fw_cfg's option list


# -- boot: the default manifest's image ------------------------------------------------------------


@pytest.fixture(scope="module")
def llama_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project after ``doit image``: the default image, model modules included."""
    tree = copy_project(tmp_path_factory.mktemp("llama") / "fluid")
    doit(tree, "-n", "2", "image")
    return tree


def reference(tree: Path, model: str, prompt: str, steps: int) -> tuple[list[int], list[int], np.ndarray]:
    """tests/infer_reference.py's encoding of ``prompt``, greedy tokens and logits."""
    ckpt, tok = tree / "build" / model / "model.bin", tree / "build" / model / "tokenizer.bin"
    prompt_tokens = ref.Tokenizer(tok).encode(prompt)
    tokens, logits = ref.generate(ckpt, prompt_tokens, steps)
    return prompt_tokens, tokens, np.array(logits)


@pytest.fixture(scope="module")
def expected(llama_tree: Path) -> tuple[list[int], list[int], np.ndarray]:
    return reference(llama_tree, "model_260k", SETTINGS["prompt"], SETTINGS["tokens"])


def the_line(serial: str, tag: str) -> dict[str, Any]:
    found = [json.loads(line.split(" ", 1)[1]) for line in serial.splitlines() if line.startswith(tag + " ")]
    assert len(found) == 1, f"expected one {tag} line:\n{serial[-3000:]}"
    assert lines.line_errors(tag, found[0]) == []
    return found[0]


def kernel_logits(result: BootResult, vocab: int) -> tuple[list[int], np.ndarray]:
    """The tokens fed and the logits of the FLUID-LOGITS lines, from their exact bits."""
    found = result.lines("FLUID-LOGITS")
    for line in found:
        assert lines.line_errors("FLUID-LOGITS", line) == []
    assert [line["pos"] for line in found] == list(range(len(found)))
    bits = [np.frombuffer(bytes.fromhex(line["bits"]), dtype=">u4").view(">f4") for line in found]
    assert all(len(b) == vocab for b in bits)
    return [line["token"] for line in found], np.array(bits, dtype=np.float64)


def decoded(tree: Path, model: str, ids: list[int]) -> bytes:
    """The text of ``ids`` as the kernel prints it: llama2.c's pieces, control bytes left out."""
    tokenizer = ref.Tokenizer(tree / "build" / model / "tokenizer.bin")
    pieces = (tokenizer.decode(p, t) for p, t in itertools.pairwise(ids))
    control = {*range(0x20), 0x7F} - {ord("\n"), ord("\t")}
    return b"".join(p for p in pieces if not (len(p) == 1 and p[0] in control))


@pytest.mark.boot
def test_doit_run_llama_generates_the_reference_tokens(llama_tree: Path, expected: tuple) -> None:
    proc = doit(llama_tree, "run", "profile=llama", timeout=300)
    serial = proc.stdout
    line = the_line(serial, "FLUID-INFER")
    prompt_tokens, tokens, _ = expected
    assert line["model"] == "build/model_260k/model.bin"
    assert line["tokenizer"] == "build/model_260k/tokenizer.bin"
    assert line["prompt_tokens"] == prompt_tokens and len(prompt_tokens) < len(SETTINGS["prompt"]) / 2, (
        "the prompt's words are merged")
    assert line["tokens"] == tokens and line["n"] == line["steps"] == SETTINGS["tokens"] >= 64
    assert line["forwards"] == len(prompt_tokens) + len(tokens) - 1 and line["seed"] == SETTINGS["seed"]
    assert line["ns"] > 0 and line["tok_per_s"] > 0 and line["cycles"] > 0 and line["arch"] == "i386"
    candidates = {c["variant"]: c for c in line["candidates"]}
    assert "generic" in candidates and not any("dropped" in c for c in candidates.values())
    fastest = min(candidates.values(), key=lambda c: c["cycles"])["variant"]
    assert line["variant"] == fastest and line["chosen_by"] == "measured" and len(candidates) >= 2
    jit = [json.loads(x.split(" ", 1)[1]) for x in serial.splitlines() if x.startswith("FLUID-JIT ")]
    assert line["phase"] == "boot" and jit == [{"event": "hello", "host": False, "reason": "no UART"}], (
        "without a link server: one generation, no JIT phase")
    assert the_line(serial, "FLUID-EXIT") == {"status": "ok"}
    text = decoded(llama_tree, "model_260k", prompt_tokens + tokens)
    assert text.startswith(SETTINGS["prompt"].encode())
    assert text.decode(errors="replace") in serial.replace("\r\n", "\n"), "the text is on the console"


@pytest.mark.boot
def test_llama_jit_swaps_the_matvec_and_generates_the_same_tokens(llama_tree: Path, expected: tuple) -> None:
    """``profile=llama_jit``: the boot choice's generation, the engine's matrix-vector product and
    forward pass offered to the link server (PROFILE, PATCH, swap, timed, kept or reverted), the
    same generation again on the code the slots hold then: the same tokens, the reference's."""
    report = llama_tree / "build/jit/kernel-report.json"
    report.unlink(missing_ok=True)
    proc = doit(llama_tree, "run", "profile=llama_jit", timeout=300)
    assert "ran successfully" in proc.stdout, proc.stdout + proc.stderr
    result = BootResult(0, (llama_tree / "build/serial-llama_jit.log").read_text(), 0.0)
    infer = result.lines("FLUID-INFER")
    assert [line["phase"] for line in infer] == ["boot", "jit"], result.serial[-3000:]
    assert all(lines.line_errors("FLUID-INFER", line) == [] for line in infer)
    _, tokens, _ = expected
    assert infer[0]["tokens"] == infer[1]["tokens"] == tokens
    assert infer[0]["variant"] == infer[1]["variant"] and all(line["tok_per_s"] > 0 for line in infer)
    events = result.lines("FLUID-JIT")
    assert all(lines.line_errors("FLUID-JIT", e) == [] for e in events)
    assert events[0]["event"] == "hello" and events[0]["host"] is True
    profiles = [e for e in events if e["event"] == "profile"]
    assert [e["function"] for e in profiles][:1] == ["infer.matvec"], "the hot function first"
    assert {e["function"] for e in profiles} == {"infer.matvec", "infer.forward"}
    assert all(e["variant"] == infer[0]["variant"] and e["calls"] > 0 for e in profiles)
    swaps = [e for e in events if e["event"] == "swap"]
    verdicts = [e for e in events if e["event"] in ("kept", "reverted")]
    assert swaps and len(verdicts) == len(swaps) == len([e for e in events if e["event"] == "patch"])
    assert all(e["checksum_before"] == e["checksum_after"] for e in verdicts), "the logits' very bits"
    assert all(e["cycles_before"] > 0 and e["cycles_after"] > 0 for e in verdicts)
    assert events[-1]["event"] == "bye" and events[-1]["patches"] == len(swaps)
    host = json.loads(report.read_text())
    rows = host["functions"]
    symbols = {"infer.matvec": "matvec_strided", "infer.forward": "forward"}
    assert rows and all(r["function"].startswith(symbols[r["benchmark"]]) for r in rows)
    assert all(r["boot_variant"] == infer[0]["variant"] and r["specialised"] == {} for r in rows), (
        "no argument of either function keeps its value")
    matvec = [r for r in rows if r["benchmark"] == "infer.matvec"]
    guest = [r for r in matvec if r["strategy"] and r["strategy"].startswith("guest-")]
    assert guest and all(r["llvm_cpu"] == host["guest"]["llvm_cpu"] == "x86-64-v3" for r in guest), (
        "compiled for the guest's CPUID")
    assert {r["verdict"] for r in rows} <= {"kept", "reverted"}
    assert the_line(result.serial, "FLUID-EXIT") == {"status": "ok"}


@pytest.mark.boot
def test_kernel_logits_agree_with_numpy(llama_tree: Path, expected: tuple) -> None:
    result = boot_image(llama_tree / "build/fluid.img", cmdline=f"workload=infer infer_logits={LOGITS}",
                        timeout_s=BOOT_TIMEOUT_S)
    assert result.ok, result.reason()
    prompt_tokens, tokens, logits = expected
    fed, got = kernel_logits(result, logits.shape[1])
    assert fed == (prompt_tokens + tokens)[:LOGITS] and len(fed) == LOGITS
    error = assert_logits_close(got, logits[:LOGITS])
    assert error <= LOGIT_TOLERANCE
    assert the_line(result.serial, "FLUID-INFER")["tokens"] == tokens


@pytest.fixture(scope="module")
def small_tree(llama_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image with the second test shape (unshared classifier, n_kv_heads = n_heads) as its
    model: the settings target and the modules switched to model_test_unshared."""
    tree = built_copy(llama_tree, tmp_path_factory.mktemp("small"))
    set_manifest(tree, ("targets", "infer_settings", "deps"), [SMALL])
    set_manifest(tree, ("image", "modules"), [{"name": "model", "target": SMALL, "output": 0},
                                              {"name": "tokenizer", "target": SMALL, "output": 1},
                                              {"name": "infer", "target": "infer_settings"}])
    doit(tree, "image")
    return tree


@pytest.mark.boot
def test_second_shape_on_the_x87_variant(small_tree: Path) -> None:
    """A CPU without SSE (pentium2): the x87 generic variant alone, on the other shape."""
    result = boot_image(small_tree / "build/fluid.img", cpu="pentium2",
                        cmdline=f"workload=infer infer_logits={LOGITS}", timeout_s=BOOT_TIMEOUT_S)
    assert result.ok, result.reason()
    line = the_line(result.serial, "FLUID-INFER")
    prompt_tokens, tokens, logits = reference(small_tree, SMALL, SETTINGS["prompt"], SETTINGS["tokens"])
    assert line["variant"] == "generic" and line["chosen_by"] == "only"
    assert line["model"] == f"build/{SMALL}/model.bin" and line["vocab_size"] == 400
    assert line["prompt_tokens"] == prompt_tokens and line["tokens"] == tokens
    fed, got = kernel_logits(result, 400)
    assert fed == (prompt_tokens + tokens)[:LOGITS]
    assert_logits_close(got, logits[:LOGITS])
    assert len(set(tokens)) >= 20, "greedy decoding does not settle on one token"


# -- boot: bad modules, a bad command line --------------------------------------------------------

PATH_MODULES = [{"name": "model", "path": "models/model.bin"},
                {"name": "tokenizer", "path": "models/tok.bin"},
                {"name": "infer", "path": "models/infer.bin"}]


def settings_module(**fields: Any) -> bytes:
    settings = {**SETTINGS, "tokens": 8, **fields}
    return infer_plugin.settings_bytes("models/model.bin", "models/tok.bin", settings)


def bad_module_cases(ckpt: bytes, tok: bytes) -> dict[str, tuple[bytes, bytes, bytes, str]]:
    """name -> (checkpoint, tokenizer, settings, what the panic says)."""
    bad = bad_inputs(ckpt, tok)
    cases = {name: (*bad[name][:2], settings_module(),
                    re.escape(f"infer: module '{module}' ({path}): ") + ".*" + message)
             for name, module, path, message in (
                 ("truncated", "model", "models/model.bin",
                  r"checkpoint truncated: shorter than its header's sizes need \(truncated\): \d+ bytes, "
                  r"its header's sizes need \d+"),
                 ("sizes_disagree", "model", "models/model.bin",
                  r"header sizes disagree with the file.*\(size_mismatch\)"),
                 ("zero_dim", "model", "models/model.bin", r"zero or negative \(bad_dimension\)"),
                 ("vocab_mismatch", "tokenizer", "models/tok.bin",
                  r"\(vocab_mismatch\): 512 tokens, the checkpoint's vocab_size is 400"))}
    damaged = bytearray(settings_module())
    damaged[0:4] = b"FINX"
    cases["settings_magic"] = (ckpt, tok, bytes(damaged), r"infer: module 'infer' is not version 1 inference")
    cases["prompt_too_long"] = (ckpt, tok, settings_module(tokens=155),
                                r"infer: the prompt's \d+ tokens and 155 steps need \d+ positions, the model "
                                r"\(models/model.bin\) has seq_len 160")
    return cases


BAD_CASES = ("truncated", "sizes_disagree", "zero_dim", "vocab_mismatch", "settings_magic", "prompt_too_long")


@pytest.fixture(scope="module")
def bad_images(llama_tree: Path, small_model: tuple[bytes, bytes],
               tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One image per bad case, built in one copy of the tree: modules from project files
    (``path:``), which the build places without reading."""
    tree = built_copy(llama_tree, tmp_path_factory.mktemp("bad"))
    keep = tree.parent / "images"
    keep.mkdir()
    (tree / "models").mkdir()
    set_manifest(tree, ("image", "modules"), PATH_MODULES)
    images = {}
    for name, (ckpt, tok, settings, _) in bad_module_cases(*small_model).items():
        for file, data in zip(("model.bin", "tok.bin", "infer.bin"), (ckpt, tok, settings), strict=True):
            (tree / "models" / file).write_bytes(data)
        doit(tree, "image")
        images[name] = keep / f"{name}.img"
        shutil.copyfile(tree / "build/fluid.img", images[name])
    set_manifest(tree, ("image", "modules"), PATH_MODULES[:1] + PATH_MODULES[2:])
    doit(tree, "image")
    images["missing_tokenizer"] = keep / "missing_tokenizer.img"
    shutil.copyfile(tree / "build/fluid.img", images["missing_tokenizer"])
    return images


def assert_panic(result: BootResult, pattern: str) -> None:
    assert result.status is not None, f"the guest hung: {result.serial[-2000:]}"
    exit_line = the_line(result.serial, "FLUID-EXIT")
    assert exit_line["status"] == "panic", result.serial[-2000:]
    assert re.search(pattern, exit_line["message"]), exit_line["message"]
    assert "FLUID-INFER" not in result.serial


@pytest.mark.boot
@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_module_is_a_named_panic(bad_images: dict[str, Path], small_model: tuple[bytes, bytes],
                                     case: str) -> None:
    pattern = bad_module_cases(*small_model)[case][3]
    assert_panic(boot_image(bad_images[case], cmdline="workload=infer", timeout_s=BOOT_TIMEOUT_S), pattern)


@pytest.mark.boot
def test_missing_module_is_a_named_panic(bad_images: dict[str, Path]) -> None:
    result = boot_image(bad_images["missing_tokenizer"], cmdline="workload=infer", timeout_s=BOOT_TIMEOUT_S)
    assert_panic(result, r"infer: no boot module 'tokenizer' \(workload=infer needs the modules 'model', "
                         r"'tokenizer' and 'infer'")


@pytest.mark.boot
def test_bad_cmdline_is_a_named_panic(llama_tree: Path) -> None:
    """Past the manifest's check (a command line given to QEMU by hand)."""
    result = boot_image(llama_tree / "build/fluid.img", cmdline="workload=infer colour=red")
    assert_panic(result, r"cmdline: unknown option 'colour' \(the options are workload, infer_logits\)")
    result = boot_image(llama_tree / "build/fluid.img", cmdline="workload=bench infer_logits=99")
    assert_panic(result, r"cmdline: infer_logits=99: expected an integer from 0 to 64")

