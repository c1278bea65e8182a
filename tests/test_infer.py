"""The inference engine (src/infer/) against an independent numpy reference.

Unit tier: the ``model`` plugin (options, the checks of a user's checkpoint
while the graph is declared, the generated files: deterministic, pinned, with
merge tokens). Integration tier (marked on each test): the native runners
(``doit infer_x86_64 infer_i386``, both variants) on the generated models
against tests/infer_reference.py: the prompt's BPE tokens, the logits of every
position within LOGIT_TOLERANCE, the greedy and the sampled tokens; bad input
ending in a clear error; kmath's accuracy. The engine under the user-space
JIT (``python -m fluidjit infer``, ``doit jit_infer``): the reference's and the
native runner's tokens, the forward pass swapped to its tuned variant at tier
2, bad arguments and models ending in one error line. Unit tier too: how the
JIT pairs the engine's two kernel tables.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import infer_reference as ref
import numpy as np
import pytest
from conftest import copy_project, doit

from fluidbench import lines
from fluidbuild.errors import ManifestError
from fluidbuild.testing import PluginTest
from fluidbuild_plugins.fluidos import model as model_plugin

ARCHES = ("x86_64", "i386")
VARIANTS = ("generic", "tuned")
MODELS = ("model_260k", "model_test_unshared")
STEPS = 64
# A prompt the generated tokenizers merge: 41 characters, 11 tokens with BOS.
PROMPT = "Once upon a time, there was a little girl"
# Every position's logits: |engine - reference| <= LOGIT_TOLERANCE * max(1, max |reference|).
# The reference computes in float64; the engine's float32 error measured here is
# below 1e-6 of the largest logit (x87 and SSE/AVX-512 builds alike).
LOGIT_TOLERANCE = 1e-4
RUN_TIMEOUT_S = 60
JIT_TIMEOUT_S = 120
# The generated stories260K files (seed 7, the manifest's model_260k): pinned, so any
# change to the generator is seen (the numbers depend on integer arithmetic only).
PINNED_DIGESTS = {
    "model.bin": "a1e72915cd5f38fd798f89877c8f751faca99642468a1a0ba0098e2363e87f88",
    "tokenizer.bin": "823e5b7ebcc360b72ef95e8575d2416fb1719f38d9e02776df86848bef35f331",
}


def runner(tree: Path, arch: str) -> Path:
    return tree / "build" / f"infer_{arch}.elf"


def model_files(tree: Path, name: str) -> tuple[Path, Path]:
    return tree / "build" / name / "model.bin", tree / "build" / name / "tokenizer.bin"


def infer(tree: Path, arch: str, checkpoint: Path | str, tokenizer: Path | str,
          *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(runner(tree, arch)), str(checkpoint), str(tokenizer), "--quiet", *args],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False, cwd=tree)


def infer_line(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("FLUID-INFER ")]
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0].split(" ", 1)[1])


def assert_logits_close(got: np.ndarray, want: np.ndarray) -> float:
    """Max error over positions, relative to each position's largest logit."""
    assert got.shape == want.shape
    scale = np.maximum(1.0, np.abs(want).max(axis=1))
    err = np.abs(got.astype(np.float64) - want).max(axis=1) / scale
    assert err.max() <= LOGIT_TOLERANCE, f"position {err.argmax()}: relative error {err.max():.3g}"
    return float(err.max())


# -- unit: the model plugin ------------------------------------------------------------------------


def kit(tmp_path: Path, options: str, files: dict[str, str | bytes] | None = None) -> PluginTest:
    return PluginTest(tmp_path, f"""
        targets:
          mymodel:
            plugin: model
            options: {options}
        """, plugins={"model": model_plugin}, files=files)


def test_generated_model_tasks(tmp_path: Path) -> None:
    result = kit(tmp_path, "{shape: stories260k, seed: 3}").target_tasks("mymodel")
    assert result.outputs == ["build/mymodel/model.bin", "build/mymodel/tokenizer.bin",
                              "build/mymodel/model.json"]
    (task,) = result.tasks
    assert task.targets == result.outputs
    assert task.config["seed"] == 3 and task.config["dims"] == model_plugin.SHAPES["stories260k"]


@pytest.mark.parametrize(("options", "message"), [
    ("{seed: 1}", "expected 'shape'"),
    ("{shape: custom}", "'dims' goes with 'shape: custom'"),
    ("{shape: stories15m, dims: {dim: 8, hidden_dim: 8, n_layers: 1, n_heads: 1, n_kv_heads: 1, "
     "vocab_size: 400, seq_len: 8}}", "'dims' goes with 'shape: custom'"),
    ("{checkpoint: a.bin}", "needs both 'checkpoint' and 'tokenizer'"),
    ("{shape: stories260k, checkpoint: a.bin, tokenizer: b.bin}", "'shape' and 'dims' are for generated"),
    ("{shape: stories1b}", "expected one of stories260k, stories15m, custom"),
])
def test_bad_options_name_the_line(tmp_path: Path, options: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message) as err:
        kit(tmp_path, options)
    assert "manifest.yaml:4" in str(err.value) or "manifest.yaml:5" in str(err.value)


@pytest.mark.parametrize(("dims", "message"), [
    ({"dim": 0}, "zero or negative dimension: dim = 0"),
    ({"hidden_dim": -5}, "zero or negative dimension: hidden_dim = -5"),
    ({"n_heads": 5}, "n_heads 5 does not divide dim 64"),
    ({"n_kv_heads": 3}, "n_kv_heads 3 does not divide n_heads 8"),
    ({"dim": 24, "n_heads": 8, "n_kv_heads": 8}, "head size 3 is odd"),
    ({"vocab_size": 300}, "vocab_size 300 is below 354"),
])
def test_bad_custom_dims_name_the_line(tmp_path: Path, dims: dict[str, int], message: str) -> None:
    full = {**model_plugin.SHAPES["stories260k"], **dims}
    text = "{shape: custom, dims: {" + ", ".join(f"{k}: {v}" for k, v in full.items()) + "}}"
    test = kit(tmp_path, text)
    with pytest.raises(ManifestError, match=message) as err:
        test.target_tasks("mymodel")
    assert "targets.mymodel.options.dims" in str(err.value) and "manifest.yaml:5" in str(err.value)


def generated(tmp_path: Path, dims: dict[str, int], seed: int, unshared: bool = False) -> tuple[Path, Path]:
    ckpt, tok, meta = tmp_path / "model.bin", tmp_path / "tokenizer.bin", tmp_path / "model.json"
    model_plugin.generate(dims, seed, unshared, str(ckpt), str(tok), str(meta))
    return ckpt, tok


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generated_model_is_deterministic(tmp_path: Path) -> None:
    a = generated(tmp_path / "a", model_plugin.SHAPES["stories260k"], 7)
    b = generated(tmp_path / "b", model_plugin.SHAPES["stories260k"], 7)
    c = generated(tmp_path / "c", model_plugin.SHAPES["stories260k"], 8)
    assert [digest(p) for p in a] == [digest(p) for p in b]
    assert digest(a[0]) != digest(c[0])
    assert a[0].stat().st_size == 1_056_540  # "about 1.06 MB"
    assert [digest(p) for p in a] == [PINNED_DIGESTS["model.bin"], PINNED_DIGESTS["tokenizer.bin"]]
    cfg, weights = ref.read_checkpoint(a[0])
    assert (cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, cfg.vocab_size,
            cfg.seq_len, cfg.shared) == (64, 172, 5, 8, 4, 512, 512, True)
    assert abs(weights["wq"].std() - 1 / np.sqrt(64)) < 0.01
    pieces, _ = ref.read_tokenizer(a[1])
    assert len(pieces) == 512 and len(set(pieces)) == 512
    assert pieces[:3] == [b"<unk>", b"\n<s>\n", b"\n</s>\n"] and pieces[3 + 0x41] == b"<0x41>"


def test_generated_tokenizer_merges(tmp_path: Path) -> None:
    _, tok = generated(tmp_path, model_plugin.SHAPES["stories260k"], 7)
    tokenizer = ref.Tokenizer(tok)
    tokens = tokenizer.encode(PROMPT)
    assert tokens[0] == ref.BOS and len(tokens) == 11 < len(PROMPT)
    merged = [tokenizer.pieces[t] for t in tokens if len(tokenizer.pieces[t]) > 1]
    assert b" upon" in merged and b" time" in merged
    # scores decrease with the id: earlier merges win
    assert all(np.diff(tokenizer.scores[259:]) < 0)
    # bytes outside the vocabulary's characters fall back to byte tokens
    assert tokenizer.encode("é", bos=False) == [tokenizer.ids[b" "], 0xC3 + 3, 0xA9 + 3]
    assert b"".join(tokenizer.decode(p, t) for p, t in itertools.pairwise(tokens)) == PROMPT.encode()


def user_files(ckpt: bytes, tok: bytes) -> dict[str, bytes]:
    return {"models/user.bin": ckpt, "models/user_tok.bin": tok}


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """A valid small checkpoint and tokenizer (the unshared test shape)."""
    folder = tmp_path_factory.mktemp("small")
    dims = {"dim": 48, "hidden_dim": 128, "n_layers": 3, "n_heads": 6, "n_kv_heads": 6, "vocab_size": 400,
            "seq_len": 160}
    ckpt, tok = generated(folder, dims, 4, unshared=True)
    return ckpt.read_bytes(), tok.read_bytes()


def header(data: bytes, **fields: int) -> bytes:
    values = dict(zip(model_plugin.FIELDS, struct.unpack_from("<7i", data), strict=True))
    values.update(fields)
    return struct.pack("<7i", *values.values()) + data[28:]


def bad_inputs(ckpt: bytes, tok: bytes) -> dict[str, tuple[bytes, bytes, str, str]]:
    """name -> (checkpoint, tokenizer, plugin message, engine message)."""
    other_vocab = model_plugin.tokenizer_pieces(512, 1)
    other_tok = struct.pack("<i", 16) + b"".join(struct.pack("<fi", s, len(p)) + p for p, s in other_vocab)
    return {
        "truncated": (ckpt[:-1000], tok, r"truncated checkpoint: \d+ bytes, its header's sizes need \d+",
                      "checkpoint truncated"),
        "header_too_small": (ckpt[:20], tok, "shorter than the 28-byte header",
                             "shorter than its 28-byte header"),
        "sizes_disagree": (header(ckpt, dim=24, n_heads=6, n_kv_heads=6), tok,
                           "header sizes disagree with the file", "header sizes disagree with the file"),
        "vocab_mismatch": (ckpt, other_tok, "tokenizer has 512 tokens, the checkpoint's vocab_size is 400",
                           "the tokenizer has 512 tokens, the checkpoint's vocab_size is 400"),
        "zero_dim": (header(ckpt, dim=0), tok, "zero or negative dimension: dim = 0", "zero or negative"),
        "negative_layers": (header(ckpt, n_layers=-3), tok, "zero or negative dimension: n_layers = -3",
                            "zero or negative"),
        "bad_heads": (header(ckpt, n_kv_heads=4), tok, "n_kv_heads 4 does not divide n_heads 6",
                      "kv heads do not divide heads"),
        "huge_dims": (header(ckpt, dim=1 << 30), tok, "above the engine's limit",
                      "above the engine's limits"),
        # every size at the limit: 4 bytes per weight pass 2^64, the sum must not wrap
        "wrapping_sizes": (header(ckpt, dim=1 << 20, hidden_dim=1 << 20, n_layers=1 << 20, n_heads=1 << 19,
                                  n_kv_heads=1 << 19, vocab_size=1 << 20, seq_len=1 << 20), tok,
                           "truncated checkpoint", "above the engine's limits"),
        "tokenizer_truncated": (ckpt, tok[:-3], "tokenizer truncated", "tokenizer truncated"),
        "tokenizer_bad_length": (ckpt, tok[:4] + struct.pack("<fi", 0.0, -7) + tok[12:], "has length -7",
                                 "a token length negative or above it"),
    }


BAD_CASES = ("truncated", "header_too_small", "sizes_disagree", "vocab_mismatch", "zero_dim",
             "negative_layers", "bad_heads", "huge_dims", "wrapping_sizes", "tokenizer_truncated",
             "tokenizer_bad_length")


def test_user_model_is_checked(tmp_path: Path, small_model: tuple[bytes, bytes]) -> None:
    test = kit(tmp_path, "{checkpoint: models/user.bin, tokenizer: models/user_tok.bin}",
               user_files(*small_model))
    result = test.target_tasks("mymodel")
    assert result.outputs == ["models/user.bin", "models/user_tok.bin", "build/mymodel/model.json"]
    assert result.tasks[0].config["config"]["shared_classifier"] is False


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_user_model_stops_the_build(tmp_path: Path, small_model: tuple[bytes, bytes], case: str) -> None:
    ckpt, tok, message, _ = bad_inputs(*small_model)[case]
    test = kit(tmp_path, "{checkpoint: models/user.bin, tokenizer: models/user_tok.bin}",
               user_files(ckpt, tok))
    with pytest.raises(ManifestError, match=message) as err:
        test.target_tasks("mymodel")
    key = "tokenizer" if case.startswith("tokenizer") or case == "vocab_mismatch" else "checkpoint"
    assert f"manifest.yaml:5: manifest error at 'targets.mymodel.options.{key}'" in str(err.value)


def test_missing_user_file(tmp_path: Path, small_model: tuple[bytes, bytes]) -> None:
    test = kit(tmp_path, "{checkpoint: models/none.bin, tokenizer: models/user_tok.bin}",
               user_files(*small_model))
    with pytest.raises(ManifestError, match=r"models/none\.bin: no such file"):
        test.target_tasks("mymodel")


# Two kernel tables as build/infer_module.bc links them: the tuned half's static functions
# renamed by llvm-link, a file-local callee of its own.
KERNEL_TABLES_IR = """
%k = type { ptr, ptr, ptr, ptr }
@.g = private constant [9 x i8] c"_generic\\00"
@.t = private constant [7 x i8] c"_tuned\\00"
@infer_kernels_generic = constant %k { ptr @.g, ptr @forward, ptr @matvec, ptr @stream_sum }
@infer_kernels_tuned = constant %k { ptr @.t, ptr @forward.1, ptr @matvec.2, ptr @stream_sum.3 }
define internal void @forward(ptr %m, i32 %t, i32 %p) { ret void }
define internal void @matvec(ptr %o, ptr %w, ptr %x, i64 %r, i64 %c) { ret void }
define internal float @stream_sum(ptr %p, i64 %n) { ret float 0.0 }
define internal void @forward.1(ptr %m, i32 %t, i32 %p) {
  call void @rows(ptr %m)
  ret void
}
define internal void @matvec.2(ptr %o, ptr %w, ptr %x, i64 %r, i64 %c) {
  call void @rows(ptr %o)
  ret void
}
define internal float @stream_sum.3(ptr %p, i64 %n) { ret float 0.0 }
define internal void @rows(ptr %o) { ret void }
define i32 @infer_generate(ptr %m, ptr %r) { ret i32 0 }
"""


def test_jit_pairs_the_engine_kernel_tables() -> None:
    """Tier 2 compiles a kernel from the tuned table's function in the same field; tier 0
    leaves the tuned half out."""
    import llvmlite.binding as llvm

    from fluidjit import irtext, variants

    found = variants.find(irtext.Module.parse(str(llvm.parse_assembly(KERNEL_TABLES_IR))))
    assert found.units == {"infer": {"forward": ("forward", "forward.1"), "matvec": ("matvec", "matvec.2"),
                                     "stream_sum": ("stream_sum", "stream_sum.3")}}
    assert found.tuned_only == {"infer_kernels_tuned", ".t", "forward.1", "matvec.2", "stream_sum.3", "rows"}
    assert variants.REPEATED_ROLES & found.units["infer"].keys() == {"forward"}


def test_reference_float32_agrees_with_float64(tmp_path: Path) -> None:
    """The reference's own precision: float32 within the tolerance of float64."""
    ckpt, tok = generated(tmp_path, model_plugin.SHAPES["stories260k"], 7)
    tokens = ref.Tokenizer(tok).encode(PROMPT)
    out64, logits64 = ref.generate(ckpt, tokens, 8)
    out32, logits32 = ref.generate(ckpt, tokens, 8, dtype=np.float32)
    assert out32 == out64
    assert_logits_close(np.array(logits32), np.array(logits64))


# -- integration: the native runners -----------------------------------------------------------------


@pytest.fixture(scope="module")
def infer_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project with the inference runners and the test models built."""
    tree = copy_project(tmp_path_factory.mktemp("infer") / "fluid")
    doit(tree, "-n", "2", "infer_x86_64", "infer_i386", "infer_module", "cpu_profile", *MODELS)
    return tree


@pytest.fixture(scope="module")
def references(infer_tree: Path) -> dict[str, tuple[list[int], list[int], np.ndarray]]:
    """Per model: the reference's prompt tokens, greedy tokens and logits."""
    out = {}
    for name in MODELS:
        ckpt, tok = model_files(infer_tree, name)
        prompt = ref.Tokenizer(tok).encode(PROMPT)
        tokens, logits = ref.generate(ckpt, prompt, STEPS)
        out[name] = (prompt, tokens, np.array(logits))
    return out


@pytest.mark.integration
@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("arch", ARCHES)
def test_greedy_matches_reference(infer_tree: Path, references: dict, tmp_path: Path, arch: str, variant: str,
                                  name: str) -> None:
    ckpt, tok = model_files(infer_tree, name)
    logits_file = tmp_path / "logits.bin"
    rel = ckpt.relative_to(infer_tree)
    line = infer_line(infer(infer_tree, arch, rel, tok.relative_to(infer_tree), "--prompt", PROMPT,
                            "--steps", str(STEPS), "--variant", variant, "--logits-file", str(logits_file)))
    prompt, tokens, logits = references[name]
    assert lines.line_errors("FLUID-INFER", line) == [], "the kernel's line schema (protocol.toml)"
    assert line["model"] == str(rel) and line["arch"] == arch and line["variant"] == variant
    assert line["prompt_tokens"] == prompt
    assert line["tokens"] == tokens and line["n"] == STEPS == len(tokens)
    assert line["forwards"] == len(prompt) + STEPS - 1 and line["ns"] > 0 and line["tok_per_s"] > 0
    assert lines.line_errors("FLUID-INFER", line) == []
    got = np.fromfile(logits_file, dtype="<f4").reshape(logits.shape)
    assert_logits_close(got, logits)
    assert len(set(tokens)) >= 20  # the seeds are chosen so that greedy decoding does not settle


@pytest.mark.integration
@pytest.mark.parametrize(("temperature", "topp"), [("0.8", "0.9"), ("1", "0"), ("1.3", "0.5")])
def test_sampling_matches_reference(infer_tree: Path, temperature: str, topp: str) -> None:
    ckpt, tok = model_files(infer_tree, "model_260k")
    prompt = ref.Tokenizer(tok).encode(PROMPT)
    want, _ = ref.generate(ckpt, prompt, STEPS, float(temperature), float(topp), seed=42)
    for arch in ARCHES:
        for variant in VARIANTS:
            line = infer_line(infer(infer_tree, arch, ckpt, tok, "--prompt", PROMPT, "--steps", str(STEPS),
                                    "--temperature", temperature, "--topp", topp, "--seed", "42",
                                    "--variant", variant))
            assert line["tokens"] == want, (arch, variant)
    assert len(set(want)) > 30


@pytest.mark.integration
def test_stop_ends_at_a_stop_token(infer_tree: Path) -> None:
    """--stop: the generation loop (src/infer/generate.c) ends after the first generated BOS
    or EOS, natively and under the JIT (seed 2 samples one at step 12)."""
    ckpt, tok = model_files(infer_tree, "model_260k")
    prompt = ref.Tokenizer(tok).encode(PROMPT)
    want, _ = ref.generate(ckpt, prompt, STEPS, 1.0, 0.0, seed=2)
    stop = next(i for i, t in enumerate(want) if t in (ref.BOS, ref.EOS)) + 1
    sampling = ("--prompt", PROMPT, "--steps", str(STEPS), "--temperature", "1", "--topp", "0", "--seed", "2",
                "--stop")
    lines = [infer_line(infer(infer_tree, arch, ckpt, tok, *sampling)) for arch in ARCHES]
    lines.append(infer_line(jit_infer(infer_tree, ckpt, tok, *sampling, "--quiet")))
    for line in lines:
        assert line["tokens"] == want[:stop] and line["n"] == stop < STEPS
        assert line["forwards"] == len(prompt) + stop - 1


ENCODE_PROMPTS = ["", "a", "Once", " the  the", "Lily and Tim played with the big red ball.\nThe end.",
                  "h\u00e9llo w\u00f6rld \u2713 \U0001f600 \u00ff", "\x01\x7f~",
                  ("Once upon a time, there was a little girl named Lily. She loved to play. " * 6)]


@pytest.mark.integration
@pytest.mark.parametrize("arch", ARCHES)
def test_encoding_matches_reference(infer_tree: Path, arch: str) -> None:
    ckpt, tok = model_files(infer_tree, "model_260k")
    tokenizer = ref.Tokenizer(tok)
    for prompt in ENCODE_PROMPTS:
        line = infer_line(infer(infer_tree, arch, ckpt, tok, "--prompt", prompt, "--steps", "1"))
        assert line["prompt_tokens"] == tokenizer.encode(prompt), prompt


@pytest.mark.integration
def test_long_prompt_is_refused_quickly(infer_tree: Path) -> None:
    """20,000 characters: encoded (the merge pass is quadratic in array steps only),
    then refused: too long for the model's 160 positions."""
    ckpt, tok = model_files(infer_tree, "model_test_unshared")
    proc = infer(infer_tree, "i386", ckpt, tok, "--prompt", (PROMPT + ". ") * 465)
    assert proc.returncode == 1 and "positions, the model has seq_len 160" in proc.stderr


@pytest.mark.integration
def test_text_output(infer_tree: Path) -> None:
    ckpt, tok = model_files(infer_tree, "model_260k")
    proc = subprocess.run([str(runner(infer_tree, "x86_64")), str(ckpt), str(tok), "--prompt", PROMPT,
                           "--steps", "8"], capture_output=True, timeout=RUN_TIMEOUT_S, check=True)
    tokenizer = ref.Tokenizer(tok)
    line = json.loads(proc.stdout.splitlines()[-1].split(b" ", 1)[1])
    ids = line["prompt_tokens"] + line["tokens"]
    text = b"".join(tokenizer.decode(p, t) for p, t in itertools.pairwise(ids))
    assert proc.stdout.startswith(PROMPT.encode()) and proc.stdout.startswith(text + b"\n")


@pytest.mark.integration
@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_a_clear_error(infer_tree: Path, small_model: tuple[bytes, bytes], tmp_path: Path,
                                    arch: str, case: str) -> None:
    ckpt, tok, _, message = bad_inputs(*small_model)[case]
    (tmp_path / "c.bin").write_bytes(ckpt)
    (tmp_path / "t.bin").write_bytes(tok)
    proc = infer(infer_tree, arch, tmp_path / "c.bin", tmp_path / "t.bin", "--steps", "4")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert message in proc.stderr and proc.stderr.startswith("infer: ") and proc.stdout == ""


@pytest.mark.integration
@pytest.mark.parametrize(("args", "status", "message"), [
    (["--steps", "160"], 1, "160 steps need 170 positions, the model has seq_len 160"),
    (["--steps", "0"], 2, "usage"),
    (["--temperature", "-1"], 2, "usage"),
    (["--variant", "fast"], 2, "usage"),
    (["--bogus"], 2, "usage"),
])
def test_bad_arguments(infer_tree: Path, args: list[str], status: int, message: str) -> None:
    ckpt, tok = model_files(infer_tree, "model_test_unshared")
    proc = infer(infer_tree, "x86_64", ckpt, tok, "--prompt", PROMPT, *args)
    assert proc.returncode == status and message in proc.stderr


@pytest.mark.integration
def test_missing_file(infer_tree: Path) -> None:
    _, tok = model_files(infer_tree, "model_260k")
    proc = infer(infer_tree, "i386", infer_tree / "nothing.bin", tok)
    assert proc.returncode == 1 and "nothing.bin: cannot read it (errno 2)" in proc.stderr


# -- integration: kmath -------------------------------------------------------------------------------

# Largest error in units in the last place of the float result (kmath.h).
MATH_ULPS = {"exp": 2.0, "log": 1.0, "sqrt": 0.5, "sin": 1.0, "cos": 1.0, "pow": 1.0}


def math_inputs(fn: str) -> tuple[np.ndarray, np.ndarray | None]:
    rng = np.random.default_rng(5)
    if fn == "exp":
        return np.concatenate([rng.uniform(-87.3, 88.7, 100_000), rng.uniform(-1, 1, 20_000),
                               np.linspace(-87.3, 88.72, 20_001)]).astype(np.float32), None
    if fn in ("log", "sqrt"):
        x = np.concatenate([np.exp(rng.uniform(-103, 88.7, 100_000)), rng.uniform(0, 4, 20_000)])
        return x.astype(np.float32), None
    if fn in ("sin", "cos"):
        k = np.arange(1, 20_001, dtype=np.float64)
        hard = (k * np.pi / 2).astype(np.float32)  # floats closest to multiples of pi/2
        wide = np.concatenate([rng.uniform(-10, 10, 40_000), rng.uniform(-1e6, 1e6, 40_000),
                               np.exp(rng.uniform(13, 88, 40_000)) * rng.choice([-1, 1], 40_000)])
        return np.concatenate([hard, wide]).astype(np.float32), None
    x = np.exp(rng.uniform(-20, 20, 100_000)).astype(np.float32)
    return x, rng.uniform(-4, 4, 100_000).astype(np.float32)


def run_math(tree: Path, arch: str, fn: str, x: np.ndarray, y: np.ndarray | None,
             tmp_path: Path) -> np.ndarray:
    data = x if y is None else np.stack([x, y], axis=1)
    data.astype("<f4").tofile(tmp_path / "in.bin")
    subprocess.run([str(runner(tree, arch)), "--math", fn, str(tmp_path / "in.bin"),
                    str(tmp_path / "out.bin")], check=True, timeout=RUN_TIMEOUT_S)
    return np.fromfile(tmp_path / "out.bin", dtype="<f4")


def ulps(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got - exact| in units of the float spacing at the rounded exact value."""
    spacing = np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)
    spacing = np.maximum(spacing, 2.0 ** -149)
    return np.abs(got.astype(np.float64) - exact) / spacing


@pytest.mark.integration
@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("fn", tuple(MATH_ULPS))
def test_kmath_accuracy(infer_tree: Path, tmp_path: Path, arch: str, fn: str) -> None:
    x, y = math_inputs(fn)
    got = run_math(infer_tree, arch, fn, x, y, tmp_path)
    xd = x.astype(np.float64)
    exact = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos}.get(fn)
    want = np.power(xd, y.astype(np.float64)) if fn == "pow" else exact(xd)
    keep = np.abs(want) < 3.4e38
    worst = ulps(got[keep], want[keep]).max()
    assert worst <= MATH_ULPS[fn], f"{fn}: {worst:.3f} ulp"


@pytest.mark.integration
@pytest.mark.parametrize("arch", ARCHES)
def test_kmath_special_values(infer_tree: Path, tmp_path: Path, arch: str) -> None:
    inf, nan = np.inf, np.nan
    exp = run_math(infer_tree, arch, "exp", np.array([0, -inf, inf, nan, 89, -104, -100], np.float32), None,
                   tmp_path)
    assert exp[0] == 1 and exp[1] == 0 and exp[2] == inf and np.isnan(exp[3]) and exp[4] == inf
    # a subnormal result: within one subnormal step
    assert exp[5] == 0 and 0 < exp[6] < 1.2e-38 and abs(exp[6] - np.exp(-100.0)) <= 2.0 ** -149
    log = run_math(infer_tree, arch, "log", np.array([0, -1, inf, nan, 1], np.float32), None, tmp_path)
    assert log[0] == -inf and np.isnan(log[1]) and log[2] == inf and np.isnan(log[3]) and log[4] == 0
    trig = run_math(infer_tree, arch, "sin", np.array([inf, -inf, nan, 0, -0.0], np.float32), None, tmp_path)
    assert np.isnan(trig[:3]).all() and trig[3] == 0 and np.signbit(trig[4])
    xs = np.array([0, -0.0, -2, -2, -8, 0, 2, nan, 1, -1, 0.5, 2, -inf], np.float32)
    ys = np.array([-1, -3, 3, 0.5, 1 / 3, 0, inf, 0, nan, inf, -inf, -inf, 3], np.float32)
    pw = run_math(infer_tree, arch, "pow", xs, ys, tmp_path)
    want = [inf, -inf, -8, nan, nan, 1, inf, 1, 1, 1, inf, 0, -inf]
    np.testing.assert_array_equal(pw, np.array(want, np.float32))


# -- integration: the engine under the JIT -----------------------------------------------------------


def jit_infer(tree: Path, checkpoint: Path | str, tokenizer: Path | str,
              *args: str) -> subprocess.CompletedProcess:
    """``python -m fluidjit infer`` in ``tree``, tier 2 for its CPU profile."""
    return subprocess.run([sys.executable, "-m", "fluidjit", "infer", str(checkpoint), str(tokenizer),
                           "--cpu-profile", "build/cpu_profile.json", *args],
                          capture_output=True, text=True, timeout=JIT_TIMEOUT_S, check=False, cwd=tree)


@pytest.fixture(scope="module")
def jit_runs(infer_tree: Path,
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, dict, Path]]:
    """Per model: the FLUID-INFER line, the report and the logits file of the test prompt's
    greedy generation under the JIT, after one warm-up generation."""
    out = {}
    folder = tmp_path_factory.mktemp("jit")
    for name in MODELS:
        ckpt, tok = (path.relative_to(infer_tree) for path in model_files(infer_tree, name))
        report, logits = folder / f"{name}.json", folder / f"{name}.logits"
        proc = jit_infer(infer_tree, ckpt, tok, "--prompt", PROMPT, "--steps", str(STEPS), "--warmup", "1",
                         "--report", str(report), "--logits-file", str(logits), "--quiet")
        out[name] = (infer_line(proc), json.loads(report.read_text()), logits)
    return out


@pytest.mark.integration
@pytest.mark.parametrize("name", MODELS)
def test_jit_greedy_matches_reference_and_native(infer_tree: Path, references: dict, jit_runs: dict,
                                                 name: str) -> None:
    """The engine under the JIT: the reference's and the native runner's prompt tokens and
    64 greedy tokens, the reference's logits at every position; one line schema for both."""
    line, _, logits_file = jit_runs[name]
    prompt, tokens, logits = references[name]
    ckpt, tok = model_files(infer_tree, name)
    native = infer_line(infer(infer_tree, "x86_64", ckpt.relative_to(infer_tree), tok.relative_to(infer_tree),
                              "--prompt", PROMPT, "--steps", str(STEPS)))
    assert line["prompt_tokens"] == prompt == native["prompt_tokens"]
    assert line["tokens"] == tokens == native["tokens"] and line["n"] == STEPS
    assert line["forwards"] == native["forwards"] == len(prompt) + STEPS - 1
    assert line["model"] == native["model"] == str(ckpt.relative_to(infer_tree)) and line["arch"] == "x86_64"
    assert lines.line_errors("FLUID-INFER", line) == lines.line_errors("FLUID-INFER", native) == []
    assert set(line) - set(native) == {"warmup_forwards", "tier2_forwards"}
    got = np.fromfile(logits_file, dtype="<f4").reshape(logits.shape)
    assert_logits_close(got, logits)


@pytest.mark.integration
@pytest.mark.parametrize("name", MODELS)
def test_jit_runs_the_tuned_forward_pass_at_tier_2(jit_runs: dict, name: str) -> None:
    """The forward pass went hot at tier 0 (generic kernels), tier 2 compiled its tuned
    variant and swapped it in: every forward pass of the counted generation ran it."""
    line, report, _ = jit_runs[name]
    [forward] = [f for f in report["functions"] if f["label"] == "infer.forward"]
    assert forward["state"] in ("measuring", "tier2") and forward["code"] == "tuned", forward
    kinds = [e["kind"] for e in report["events"] if e["function"] == "infer.forward"]
    assert kinds[:2] == ["hot", "swapped"] and "reverted" not in kinds
    *warmups, counted = report["generations"]
    assert len(warmups) in (1, 2), "one warm-up, and one more while the new code awaits its verdict"
    assert warmups[0]["tier0_tok_per_s"] > 0 and counted["tier2_forwards"] == counted["forwards"]
    assert all(g["same_tokens"] for g in report["generations"])
    assert line["variant"] == "tuned" and line["tier2_forwards"] == line["forwards"]
    assert line["warmup_forwards"] == sum(g["forwards"] for g in warmups) == len(warmups) * line["forwards"]
    assert report["config"]["kernels"] == "tuned"


@pytest.mark.integration
def test_jit_specialises_the_forward_pass_to_its_model(infer_tree: Path, references: dict) -> None:
    """Once its tuned tier-2 code is kept, the forward pass gets a clone compiled with the
    model's struct infer as constants; it gives the reference's tokens and logits, and
    another model (another struct) misses its guard and runs correct general code."""
    from fluidjit.config import JitConfig
    from fluidjit.inference import ENGINE_SYMBOLS, Inference, InferRequest, Model, generate
    from fluidjit.runtime import JitRuntime
    from fluidjit.tracked import State

    ckpt, tok = model_files(infer_tree, "model_test_unshared")
    prompt, tokens, logits = references["model_test_unshared"]
    build = infer_tree / "build"
    config = JitConfig(build / "infer_module.bc", cpu_profile=build / "cpu_profile.json",
                       cache_dir=build / "jit" / "cache", quiet=True)
    request = InferRequest(ckpt, tok, prompt=PROMPT, steps=STEPS)
    rt = JitRuntime(config, need=ENGINE_SYMBOLS)
    try:
        run = Inference(rt, request, monitor=False)
        forward, deadline = run.forward, time.monotonic() + JIT_TIMEOUT_S
        while (forward.spec is None or forward.state is not State.MEASURING) and time.monotonic() < deadline:
            assert run.generate().tokens == tokens
            run.settle()
        assert forward.spec is not None and forward.spec.objects, [e.detail for e in forward.events]
        [pinned] = forward.spec.objects
        assert pinned.content == bytes(run.model.state)
        assert len(pinned.content) == run.model.engine.struct_bytes
        clone = run.generate(keep_logits=True)
        assert clone.tokens == tokens
        assert_logits_close(np.ctypeslib.as_array(clone.logits).reshape(logits.shape), logits)
        misses = rt.executor.read_counters(forward.fn.id + 1)[forward.fn.id].guard_misses
        other = Model(run.model.engine, request)
        assert generate(other, prompt, request, False, rt.clock.tsc_hz).tokens == tokens
        after = rt.executor.read_counters(forward.fn.id + 1)[forward.fn.id].guard_misses
        assert after - misses == len(prompt) + STEPS - 1
    finally:
        rt.close()


@pytest.mark.integration
@pytest.mark.parametrize(("args", "message"), [
    (["--steps", "0"], "steps must be within 1..1048576, not 0"),
    (["--steps", "160"], "prompt: the prompt's 11 tokens and 160 steps need 170 positions, the model has "
                         "seq_len 160"),
    (["--temperature", "-1"], "temperature must be 0 (greedy) or positive, not -1.0"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--report", "no/such/dir/r.json"], "report no/such/dir/r.json: directory no/such/dir does not exist"),
])
def test_jit_bad_arguments(infer_tree: Path, args: list[str], message: str) -> None:
    ckpt, tok = model_files(infer_tree, "model_test_unshared")
    proc = jit_infer(infer_tree, ckpt, tok, "--prompt", PROMPT, *args)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr.startswith("fluidjit: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert message in proc.stderr


@pytest.mark.integration
@pytest.mark.parametrize("case", ["missing", "truncated", "vocab_mismatch", "tokenizer_bad_length"])
def test_jit_bad_model_is_a_clear_error(infer_tree: Path, small_model: tuple[bytes, bytes], tmp_path: Path,
                                        case: str) -> None:
    """The engine's own checks, with the native runner's words."""
    if case == "missing":
        ckpt, tok, message = small_model[0], small_model[1], "c.bin: cannot read it (no such file)"
    else:
        ckpt, tok, _, message = bad_inputs(*small_model)[case]
        (tmp_path / "c.bin").write_bytes(ckpt)
    (tmp_path / "t.bin").write_bytes(tok)
    proc = jit_infer(infer_tree, tmp_path / "c.bin", tmp_path / "t.bin", "--steps", "4")
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr.startswith("fluidjit: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert message in proc.stderr


@pytest.mark.integration
def test_doit_jit_infer(infer_tree: Path, references: dict) -> None:
    """``doit jit_infer``: the manifest's model and prompt, the text and the line printed,
    the report written."""
    proc = doit(infer_tree, "jit_infer")
    line = infer_line(proc)
    tokenizer = ref.Tokenizer(model_files(infer_tree, "model_260k")[1])
    assert line["prompt_tokens"] == tokenizer.encode("Once upon a time") and line["n"] == 256
    assert line["tier2_forwards"] == line["forwards"] and line["variant"] == "tuned"
    report = json.loads((infer_tree / "build/jit/infer-report.json").read_text())
    assert {g["forwards"] for g in report["generations"]} == {line["forwards"]}
    assert line["warmup_forwards"] == (len(report["generations"]) - 1) * line["forwards"]
    assert "Once upon a time" in proc.stdout
