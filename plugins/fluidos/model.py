"""model: a llama2.c checkpoint and tokenizer for the inference engine (src/infer/).

Either generated: deterministic random weights of a published shape
(``shape: stories260k`` or ``stories15m``) or of ``shape: custom`` with
``dims``, from a fixed ``seed``, written to ``build/<target>/model.bin`` and
``tokenizer.bin``; nothing is downloaded. Or named: ``checkpoint`` and
``tokenizer``, a user's own files (project-relative), checked while the task
graph is declared (``doit list`` included), so a truncated file, a header
whose sizes disagree with the file, a zero or negative dimension or a vocab
size that disagrees with the tokenizer stops the build with a message naming
the manifest line. Every model target also writes ``build/<target>/model.json``
(the two paths and the configuration); its outputs are the checkpoint, the
tokenizer and that file, in this order.

Formats (little-endian; the engine's header, src/infer/infer.h, says the same):
the checkpoint is seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
vocab_size, negative when the classifier is not shared, seq_len), then float32
tensors: token embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3,
rms_final, two RoPE tables (unused by readers; the generator writes zeros),
the classifier when unshared. The tokenizer is int32 max_token_length, then
per token float32 score, int32 length, the bytes.

Generated weights: each tensor k draws element i from
``mix64(mix64(seed + (k + 1) * G) + (i + 1) * G)`` (splitmix64's mixer, G the
64-bit golden ratio), whose top 24 bits give u in [0, 1); the weight is
``(2 u - 1 + 2^-24) * scale``: 0.25 for the token embedding and an unshared
classifier (logits of standard deviation about 1), sqrt(3 / fan_in) for the
matrices (unit-variance outputs), and 1 + 0.2 (2 u - 1 + 2^-24) for the
RMSNorm weights. Integer arithmetic only,
so the files are identical on every machine and numpy version.

Generated tokenizer: 0 ``<unk>``, 1 ``\\n<s>\\n``, 2 ``\\n</s>\\n``, the 256 byte
tokens ``<0xXX>`` (3 to 258), the 95 printable ASCII characters, then merge
tokens: every prefix (two characters or more) of the words of WORDS with a
leading space, then concatenations of two earlier tokens drawn with
``random.Random(seed)`` until ``vocab_size`` tokens. Each merge token is one
earlier token plus another, so BPE encoding merges; scores decrease with the
id (-id for characters and merges, 0 for the special and byte tokens), as in
sentencepiece vocabularies: earlier merges win.
"""

from __future__ import annotations

import json
import math
import os
import random
import struct
from typing import Any

from fluidbuild.atomic import atomic_output, write_text
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.manifest import where_in
from fluidbuild.model import BuildContext, PyAction, Target, TargetResult, TaskSpec
from fluidbuild.schema import Bool, Checked, Field, Int, Map, RelPath, Str, Where

__version__ = "1"

HEADER = struct.Struct("<7i")
FIELDS = ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len")
SHAPES: dict[str, dict[str, int]] = {
    # The smallest published llama2.c shapes (Karpathy's TinyStories models).
    "stories260k": {"dim": 64, "hidden_dim": 172, "n_layers": 5, "n_heads": 8, "n_kv_heads": 4,
                    "vocab_size": 512, "seq_len": 512},
    "stories15m": {"dim": 288, "hidden_dim": 768, "n_layers": 6, "n_heads": 6, "n_kv_heads": 6,
                   "vocab_size": 32000, "seq_len": 256},
}
# The engine's limits (src/infer/infer.h: INFER_MAX_DIM, INFER_MAX_SEQ_LEN, INFER_MAX_TOKEN_BYTES).
MAX_DIM = 1 << 20
MAX_SEQ_LEN = 1 << 20
MAX_TOKEN_BYTES = 65536
SPECIAL_TOKENS = ("<unk>", "\n<s>\n", "\n</s>\n")
MIN_GENERATED_VOCAB = len(SPECIAL_TOKENS) + 256 + 95
MAX_MERGE_BYTES = 16  # generated merge tokens are at most this long
CHUNK = 1 << 20  # floats generated per numpy step
GOLDEN = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1
RMS_SPREAD = 0.2
EMBEDDING_SCALE = 0.25
_WORD_TEXT = (
    "the and was to he she it they a day Once upon time there little girl boy named Lily Tim Ben Sue "
    "Tom Mia Max Sam big happy sad play played wanted saw said mom dad friend friends park ball tree "
    "dog cat bird sun fun very with her his one went home had in on of for not but so you we can help "
    "look looked found new good nice toy red blue car house water food cake smile smiled laughed ran "
    "run jump fly sky flower garden box book story learned together always every loved love best kind "
    "shared share careful scared brave strong small bear fish duck rabbit frog king queen magic star "
    "moon night morning school teacher hug thank sorry please yes no what where why how come came "
    "make made see go going at is are be all up out then when from this that them would could "
    "know like thing things something wanted started began felt feel think thought"
)
WORDS = tuple(_WORD_TEXT.split())

DIMS = Map({name: Field(Int(), required=True) for name in FIELDS})


def _check_options(options: dict[str, Any], where: Where) -> None:
    """Rules across keys: a generated shape or a user's files, not both."""
    named = options["checkpoint"] is not None or options["tokenizer"] is not None
    if named:
        if options["checkpoint"] is None or options["tokenizer"] is None:
            raise where.fail("a user's model needs both 'checkpoint' and 'tokenizer'")
        if options["shape"] is not None or options["dims"] is not None:
            raise where.fail("'checkpoint' names a user's model: 'shape' and 'dims' are for generated ones")
        return
    if options["shape"] is None:
        raise where.fail("expected 'shape' (stories260k, stories15m, custom) or 'checkpoint' and 'tokenizer'")
    if (options["shape"] == "custom") != (options["dims"] is not None):
        raise where.fail("'dims' goes with 'shape: custom', and only with it")


@hookimpl
def fluidbuild_options_schema() -> Checked:
    return Checked(Map({
        "shape": Field(Str(choices=(*SHAPES, "custom")), doc="a generated model's shape"),
        "dims": Field(DIMS, doc="shape custom: the seven header sizes (vocab_size positive)"),
        "seed": Field(Int(minimum=0, maximum=MASK64), default=1, doc="generated weights and tokenizer"),
        "unshared": Field(Bool(), default=False, doc="a separate classifier (negative vocab_size)"),
        "checkpoint": Field(RelPath(), doc="a user's checkpoint (instead of shape)"),
        "tokenizer": Field(RelPath(), doc="a user's tokenizer, with checkpoint"),
    }), _check_options)


@hookimpl
def fluidbuild_target_tasks(target: Target, ctx: BuildContext) -> TargetResult:
    opts = target.options
    meta = ctx.out(target.name, "model.json")
    if opts["checkpoint"] is not None:
        ckpt, tok = opts["checkpoint"], opts["tokenizer"]
        for key, path in (("checkpoint", ckpt), ("tokenizer", tok)):
            if not os.path.isfile(os.path.join(ctx.root, path)):
                raise _where(ctx, target.name, key).fail(f"{path}: no such file")
        try:
            config = check_files(os.path.join(ctx.root, ckpt), os.path.join(ctx.root, tok))
        except FluidError as exc:
            key = "tokenizer" if str(exc).startswith("tokenizer") else "checkpoint"
            raise _where(ctx, target.name, key).fail(f"{opts[key]}: {exc}") from None
        task = TaskSpec(
            name=target.name,
            doc=target.doc or f"check {ckpt} and {tok}",
            actions=[PyAction(check_and_describe, {"checkpoint": ckpt, "tokenizer": tok, "meta": meta})],
            file_dep=[ckpt, tok],
            targets=[meta],
            config={"checkpoint": ckpt, "tokenizer": tok, "config": config},
        )
        return TargetResult([task], [ckpt, tok, meta])
    dims = dict(SHAPES[opts["shape"]]) if opts["shape"] != "custom" else dict(opts["dims"])
    problem = dims_problem(dims)
    if not problem and dims["vocab_size"] < MIN_GENERATED_VOCAB:
        problem = (f"vocab_size {dims['vocab_size']} is below {MIN_GENERATED_VOCAB}: a generated "
                   "tokenizer holds 3 special, 256 byte and 95 character tokens")
    if problem:
        raise _where(ctx, target.name, "dims").fail(problem)
    ckpt, tok = ctx.out(target.name, "model.bin"), ctx.out(target.name, "tokenizer.bin")
    params = {"dims": dims, "seed": opts["seed"], "unshared": opts["unshared"]}
    task = TaskSpec(
        name=target.name,
        doc=target.doc or f"generate a random-weight {opts['shape']} model (seed {opts['seed']})",
        actions=[PyAction(generate, {**params, "checkpoint": ckpt, "tokenizer": tok, "meta": meta})],
        targets=[ckpt, tok, meta],
        config=params,
    )
    return TargetResult([task], [ckpt, tok, meta])


def _where(ctx: BuildContext, target: str, key: str) -> Where:
    """Where ``targets.<target>.options.<key>`` is written."""
    return where_in(ctx.manifest, "targets", target, "options", key)


# -- checks ------------------------------------------------------------------------------------


def dims_problem(dims: dict[str, int]) -> str | None:
    """Why the engine would refuse these header sizes (vocab_size positive), or None."""
    bad = [name for name in FIELDS if dims[name] <= 0]
    if bad:
        return f"zero or negative dimension: {', '.join(f'{n} = {dims[n]}' for n in bad)}"
    big = [name for name in FIELDS if dims[name] > (MAX_SEQ_LEN if name == "seq_len" else MAX_DIM)]
    if big:
        return f"dimension above the engine's limit of {MAX_DIM}: {', '.join(big)}"
    if dims["dim"] % dims["n_heads"]:
        return f"n_heads {dims['n_heads']} does not divide dim {dims['dim']}"
    if dims["n_kv_heads"] > dims["n_heads"] or dims["n_heads"] % dims["n_kv_heads"]:
        return f"n_kv_heads {dims['n_kv_heads']} does not divide n_heads {dims['n_heads']}"
    if (dims["dim"] // dims["n_heads"]) % 2:
        return f"head size {dims['dim'] // dims['n_heads']} is odd (RoPE rotates pairs)"
    return None


def tensor_shapes(dims: dict[str, int], unshared: bool) -> list[tuple[str, int, int]]:
    """The checkpoint's tensors after the header: (name, floats, fan-in)."""
    d, h, n = dims["dim"], dims["hidden_dim"], dims["n_layers"]
    hs = d // dims["n_heads"]
    kv = hs * dims["n_kv_heads"]
    v, s = dims["vocab_size"], dims["seq_len"]
    shapes = [("token_embedding", v * d, 0), ("rms_att", n * d, 0), ("wq", n * d * d, d),
              ("wk", n * kv * d, d), ("wv", n * kv * d, d), ("wo", n * d * d, d), ("rms_ffn", n * d, 0),
              ("w1", n * h * d, d), ("w2", n * d * h, h), ("w3", n * h * d, d), ("rms_final", d, 0),
              ("freq_cis_real", s * hs // 2, 0), ("freq_cis_imag", s * hs // 2, 0)]
    if unshared:
        shapes.append(("classifier", v * d, 0))
    return shapes


def checkpoint_bytes(dims: dict[str, int], unshared: bool) -> int:
    return HEADER.size + 4 * sum(n for _, n, _ in tensor_shapes(dims, unshared))


def read_header(path: str) -> tuple[dict[str, int], bool, int]:
    """The header of the checkpoint at ``path`` (vocab_size made positive), whether
    its classifier is unshared, and the file's size; FluidError if it is unusable."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(HEADER.size)
    if len(head) < HEADER.size:
        raise FluidError(f"truncated checkpoint: {size} bytes, shorter than the {HEADER.size}-byte header")
    values = dict(zip(FIELDS, HEADER.unpack(head), strict=True))
    unshared = values["vocab_size"] < 0
    values["vocab_size"] = abs(values["vocab_size"])
    problem = dims_problem(values)
    if problem:
        raise FluidError(f"bad checkpoint header: {problem}")
    return values, unshared, size


def count_tokens(path: str) -> int:
    """Tokens in the tokenizer file at ``path``; FluidError if it is malformed."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise FluidError("tokenizer truncated: shorter than its 4-byte header")
    (max_len,) = struct.unpack_from("<i", data)
    if not 0 < max_len <= MAX_TOKEN_BYTES:
        raise FluidError(f"tokenizer max_token_length {max_len} out of range (1 to {MAX_TOKEN_BYTES})")
    at, count = 4, 0
    while at < len(data):
        if len(data) - at < 8:
            raise FluidError(f"tokenizer truncated inside token {count}")
        (length,) = struct.unpack_from("<i", data, at + 4)
        if not 0 <= length <= max_len:
            raise FluidError(f"tokenizer token {count} has length {length} (max_token_length {max_len})")
        at += 8 + length
        if at > len(data):
            raise FluidError(f"tokenizer truncated inside token {count}")
        count += 1
    return count


def check_files(checkpoint: str, tokenizer: str) -> dict[str, Any]:
    """Check a checkpoint and its tokenizer as the engine will; their configuration."""
    dims, unshared, size = read_header(checkpoint)
    need = checkpoint_bytes(dims, unshared)
    if size < need:
        raise FluidError(f"truncated checkpoint: {size} bytes, its header's sizes need {need}")
    if size > need:
        raise FluidError(f"checkpoint header sizes disagree with the file: it has {size} bytes, "
                         f"the header's sizes need {need}")
    count = count_tokens(tokenizer)
    if count != dims["vocab_size"]:
        raise FluidError(f"tokenizer has {count} tokens, the checkpoint's vocab_size is {dims['vocab_size']}")
    return {**dims, "shared_classifier": not unshared, "bytes": size}


def check_and_describe(checkpoint: str, tokenizer: str, meta: str) -> None:
    """The task of a user's model: check both files again (they may have changed since
    the graph was declared) and describe them."""
    config = check_files(checkpoint, tokenizer)
    write_text(meta, json.dumps({"checkpoint": checkpoint, "tokenizer": tokenizer, "config": config},
                                indent=2, sort_keys=True) + "\n")


# -- generation ------------------------------------------------------------------------------------


def _mix64(z: Any) -> Any:
    """splitmix64's finaliser on a uint64 numpy array (wrapping arithmetic)."""
    import numpy as np

    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform(seed: int, stream: int, count: int) -> Any:
    """``count`` float32 values in (-1, 1), symmetric: element i of stream ``stream``."""
    import numpy as np

    base = int(_mix64(np.array([(seed + (stream + 1) * GOLDEN) & MASK64], dtype=np.uint64))[0])
    out = np.empty(count, dtype=np.float32)
    with np.errstate(over="ignore"):
        for start in range(0, count, CHUNK):
            idx = np.arange(start + 1, min(count, start + CHUNK) + 1, dtype=np.uint64)
            z = _mix64(np.uint64(base) + idx * np.uint64(GOLDEN))
            u = (z >> np.uint64(40)).astype(np.float64) * 2.0 ** -24  # exact
            out[start:start + len(idx)] = (2.0 * u - 1.0 + 2.0 ** -24).astype(np.float32)
    return out


def write_checkpoint(path: str, dims: dict[str, int], seed: int, unshared: bool) -> None:
    import numpy as np

    vocab = -dims["vocab_size"] if unshared else dims["vocab_size"]
    header = HEADER.pack(*(vocab if name == "vocab_size" else dims[name] for name in FIELDS))
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(header)
        for stream, (name, count, fan_in) in enumerate(tensor_shapes(dims, unshared)):
            if name.startswith("freq_cis"):
                values = np.zeros(count, dtype=np.float32)
            elif name.startswith("rms"):
                values = np.float32(1.0) + np.float32(RMS_SPREAD) * uniform(seed, stream, count)
            elif fan_in:
                values = uniform(seed, stream, count) * np.float32(math.sqrt(3.0 / fan_in))
            else:  # token embedding, classifier
                values = uniform(seed, stream, count) * np.float32(EMBEDDING_SCALE)
            f.write(values.astype("<f4").tobytes())


def tokenizer_pieces(vocab_size: int, seed: int) -> list[tuple[bytes, float]]:
    """The generated vocabulary: (bytes, score) per token id."""
    pieces = [s.encode() for s in SPECIAL_TOKENS] + [f"<0x{b:02X}>".encode() for b in range(256)]
    scores = [0.0] * len(pieces)
    seen = set(pieces)
    mergeable: list[bytes] = []  # characters and merges: what further merges combine

    def add(piece: bytes) -> None:
        if len(pieces) < vocab_size and piece not in seen:
            scores.append(-float(len(pieces)))
            pieces.append(piece)
            seen.add(piece)
            mergeable.append(piece)

    for c in range(32, 127):
        add(bytes([c]))
    for word in WORDS:
        spaced = (" " + word).encode()
        for end in range(2, len(spaced) + 1):
            add(spaced[:end])
    rng = random.Random(seed)
    tries = 0
    while len(pieces) < vocab_size:
        tries += 1
        if tries > 100 * vocab_size:
            raise FluidError(f"cannot generate {vocab_size} distinct tokens")
        a, b = rng.choice(mergeable), rng.choice(mergeable)
        if len(a) + len(b) <= MAX_MERGE_BYTES:
            add(a + b)
    return list(zip(pieces[:vocab_size], scores[:vocab_size], strict=True))


def write_tokenizer(path: str, vocab_size: int, seed: int) -> None:
    pieces = tokenizer_pieces(vocab_size, seed)
    out = [struct.pack("<i", max(len(p) for p, _ in pieces))]
    for piece, score in pieces:
        out.append(struct.pack("<fi", score, len(piece)) + piece)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(b"".join(out))


def generate(dims: dict[str, int], seed: int, unshared: bool, checkpoint: str, tokenizer: str,
             meta: str) -> None:
    """The task of a generated model: checkpoint, tokenizer, description."""
    write_checkpoint(checkpoint, dims, seed, unshared)
    write_tokenizer(tokenizer, dims["vocab_size"], seed)
    config = {**dims, "shared_classifier": not unshared, "bytes": checkpoint_bytes(dims, unshared),
              "seed": seed}
    write_text(meta, json.dumps({"checkpoint": checkpoint, "tokenizer": tokenizer, "config": config},
                                indent=2, sort_keys=True) + "\n")
