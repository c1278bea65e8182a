"""An independent numpy implementation of the llama2.c model the engine runs.

Written from the format description (README "Inference", NOTES "llama2.c
checkpoint format"), not from the engine's C: the files are read with numpy,
the forward pass works on whole tensors (all heads at once), in float64 by
default (the exact answer the engine's float32 is measured against) or in
float32 (``dtype=np.float32``: the speed peer of ``scripts/bench_infer.py``).

    checkpoint: int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads,
      vocab_size (negative: unshared classifier), seq_len; float32 token
      embedding (vocab, dim), rms_att (L, dim), wq (L, dim, dim), wk and wv
      (L, kv_dim, dim), wo (L, dim, dim), rms_ffn (L, dim), w1 (L, hidden,
      dim), w2 (L, dim, hidden), w3 (L, hidden, dim), rms_final (dim), two
      RoPE tables (seq_len * head_size / 2 each, unused), classifier (vocab,
      dim) if unshared. y = W x for a (rows, cols) matrix W.
    forward: x = embedding[token]; per layer: h = rmsnorm(x) * rms_att;
      q, k, v = wq h, wk h, wv h; rotate the pairs (2j, 2j+1) of every head of
      q and k by pos * 10000^(-2j / head_size); head i attends with the
      cached keys and values of kv head i // (n_heads / n_kv_heads) over
      positions 0..pos, scores / sqrt(head_size), softmax; x += wo (heads);
      h = rmsnorm(x) * rms_ffn; x += w2 (silu(w1 h) * (w3 h)); finally
      logits = classifier (rmsnorm(x) * rms_final). rmsnorm(x) =
      x / sqrt(mean(x^2) + 1e-5).
    tokenizer: int32 max_token_length; per token float32 score, int32 length,
      bytes. 0 unk, 1 BOS, 2 EOS, byte b is token b + 3.
    encode (llama2.c's BPE): BOS; the token " " if the text is not empty;
      each UTF-8 character (up to 4 bytes) as its token, else its bytes as
      byte tokens; then merge the adjacent pair whose concatenation is a token
      of highest score (leftmost on ties; scores must beat -1e10) until none.
    sample: temperature 0: first argmax; else softmax(logits / T) in float32
      and a coin from xorshift64* (state ^= state >> 12, << 25, >> 27;
      u32 = (state * 0x2545F4914F6CDD1D) >> 32; coin = (u32 >> 8) / 2^24):
      all tokens by cumulative sum if top-p is <= 0 or >= 1, else the tokens
      with probability >= (1 - p) / (n - 1), sorted by probability (then id),
      cut after the cumulative sum first passes p.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HEADER = struct.Struct("<7i")
BOS, EOS, BYTE_BASE = 1, 2, 3
MASK64 = (1 << 64) - 1


@dataclass
class Config:
    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    seq_len: int
    shared: bool

    @property
    def head_size(self) -> int:
        return self.dim // self.n_heads

    @property
    def kv_dim(self) -> int:
        return self.head_size * self.n_kv_heads


def read_checkpoint(path: str | Path, dtype: type = np.float64) -> tuple[Config, dict[str, np.ndarray]]:
    data = Path(path).read_bytes()
    dim, hidden, layers, heads, kv_heads, vocab, seq = HEADER.unpack_from(data)
    cfg = Config(dim, hidden, layers, heads, kv_heads, abs(vocab), seq, vocab > 0)
    flat = np.frombuffer(data, dtype="<f4", offset=HEADER.size)
    hs, kv = cfg.head_size, cfg.kv_dim
    shapes = [("embedding", (cfg.vocab_size, dim)), ("rms_att", (layers, dim)), ("wq", (layers, dim, dim)),
              ("wk", (layers, kv, dim)), ("wv", (layers, kv, dim)), ("wo", (layers, dim, dim)),
              ("rms_ffn", (layers, dim)), ("w1", (layers, hidden, dim)), ("w2", (layers, dim, hidden)),
              ("w3", (layers, hidden, dim)), ("rms_final", (dim,)), ("rope", (2, seq, hs // 2))]
    if not cfg.shared:
        shapes.append(("classifier", (cfg.vocab_size, dim)))
    weights, at = {}, 0
    for name, shape in shapes:
        count = int(np.prod(shape))
        weights[name] = flat[at:at + count].reshape(shape).astype(dtype)
        at += count
    if at != flat.size:
        raise ValueError(f"{path}: {flat.size} floats after the header, the header's sizes need {at}")
    if cfg.shared:
        weights["classifier"] = weights["embedding"]
    return cfg, weights


def read_tokenizer(path: str | Path) -> tuple[list[bytes], np.ndarray]:
    data = Path(path).read_bytes()
    at = 4
    pieces, scores = [], []
    while at < len(data):
        score, length = struct.unpack_from("<fi", data, at)
        pieces.append(data[at + 8:at + 8 + length])
        scores.append(score)
        at += 8 + length
    return pieces, np.array(scores, dtype=np.float32)


class Model:
    """The forward pass with a key/value cache; positions fed in order."""

    def __init__(self, checkpoint: str | Path, dtype: type = np.float64) -> None:
        self.cfg, self.w = read_checkpoint(checkpoint, dtype)
        self.dtype = dtype
        c = self.cfg
        self.keys = np.zeros((c.n_layers, c.seq_len, c.n_kv_heads, c.head_size), dtype=dtype)
        self.values = np.zeros_like(self.keys)
        pair = np.arange(c.head_size // 2, dtype=np.float64)
        self.freq = 10000.0 ** (-2.0 * pair / c.head_size)

    def _rmsnorm(self, x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        return weight * (x / np.sqrt(np.mean(x * x) + 1e-5))

    def _rotate(self, v: np.ndarray, pos: int) -> np.ndarray:
        """v: (heads, head_size); pairs (2j, 2j+1) turned by pos * freq[j]."""
        angle = pos * self.freq
        cos, sin = np.cos(angle).astype(self.dtype), np.sin(angle).astype(self.dtype)
        even, odd = v[:, 0::2], v[:, 1::2]
        out = np.empty_like(v)
        out[:, 0::2] = even * cos - odd * sin
        out[:, 1::2] = even * sin + odd * cos
        return out

    def forward(self, token: int, pos: int) -> np.ndarray:
        c, w = self.cfg, self.w
        group = c.n_heads // c.n_kv_heads
        x = w["embedding"][token].copy()
        for layer in range(c.n_layers):
            h = self._rmsnorm(x, w["rms_att"][layer])
            q = self._rotate((w["wq"][layer] @ h).reshape(c.n_heads, c.head_size), pos)
            self.keys[layer, pos] = self._rotate((w["wk"][layer] @ h).reshape(c.n_kv_heads, c.head_size), pos)
            self.values[layer, pos] = (w["wv"][layer] @ h).reshape(c.n_kv_heads, c.head_size)
            keys = np.repeat(self.keys[layer, :pos + 1], group, axis=1)  # (pos+1, heads, hs)
            values = np.repeat(self.values[layer, :pos + 1], group, axis=1)
            scores = np.einsum("hd,thd->ht", q, keys) * self.dtype(1.0 / np.sqrt(c.head_size))
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores /= scores.sum(axis=1, keepdims=True)
            attended = np.einsum("ht,thd->hd", scores, values).reshape(c.dim)
            x = x + w["wo"][layer] @ attended
            h = self._rmsnorm(x, w["rms_ffn"][layer])
            gate = w["w1"][layer] @ h
            x = x + w["w2"][layer] @ (gate / (1.0 + np.exp(-gate)) * (w["w3"][layer] @ h))
        return w["classifier"] @ self._rmsnorm(x, w["rms_final"])


class Tokenizer:
    def __init__(self, path: str | Path) -> None:
        self.pieces, self.scores = read_tokenizer(path)
        self.ids: dict[bytes, int] = {}
        for i, piece in enumerate(self.pieces):
            self.ids.setdefault(piece, i)  # the lowest id of a duplicated piece

    def encode(self, text: str | bytes, bos: bool = True, eos: bool = False) -> list[int]:
        data = text.encode() if isinstance(text, str) else text
        tokens = [BOS] if bos else []
        if data and b" " in self.ids:
            tokens.append(self.ids[b" "])
        # Characters: a lead byte and its continuation bytes, at most four bytes.
        chars: list[bytes] = []
        for byte in data:
            if byte & 0xC0 != 0x80 or not chars or len(chars[-1]) >= 4:
                chars.append(bytes([byte]))
            else:
                chars[-1] += bytes([byte])
        for ch in chars:
            if ch in self.ids:
                tokens.append(self.ids[ch])
            else:
                tokens.extend(b + BYTE_BASE for b in ch)
        while True:
            best, best_at = None, -1
            for i in range(len(tokens) - 1):
                merged = self.ids.get(self.pieces[tokens[i]] + self.pieces[tokens[i + 1]])
                if merged is not None and self.scores[merged] > -1e10 and (
                        best is None or self.scores[merged] > self.scores[best]):
                    best, best_at = merged, i
            if best is None:
                break
            tokens[best_at:best_at + 2] = [best]
        if eos:
            tokens.append(EOS)
        return tokens

    def decode(self, prev: int, token: int) -> bytes:
        piece = self.pieces[token]
        if prev == BOS and piece.startswith(b" "):
            piece = piece[1:]
        if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):
            try:
                return bytes([int(piece[3:5], 16)])
            except ValueError:
                pass
        return piece


class Sampler:
    def __init__(self, temperature: float, topp: float, seed: int) -> None:
        self.temperature = np.float32(temperature)
        self.topp = np.float32(topp)
        self.state = seed & MASK64 or 0x853C49E6748FEA9B

    def coin(self) -> np.float32:
        s = self.state
        s ^= s >> 12
        s ^= (s << 25) & MASK64
        s ^= s >> 27
        self.state = s
        u32 = ((s * 0x2545F4914F6CDD1D) & MASK64) >> 32
        return np.float32((u32 >> 8) / 16777216.0)

    def sample(self, logits: np.ndarray) -> int:
        if self.temperature == 0:
            return int(np.argmax(logits))
        z = logits.astype(np.float32) / self.temperature
        p = np.exp((z - z.max()).astype(np.float64))
        probs = (p / p.sum()).astype(np.float32)
        coin = self.coin()
        n = len(probs)
        if self.topp <= 0 or self.topp >= 1:
            below = np.nonzero(np.cumsum(probs, dtype=np.float64) > coin)[0]
            return int(below[0]) if len(below) else n - 1
        cutoff = (np.float32(1) - self.topp) / np.float32(n - 1)
        kept = np.nonzero(probs >= cutoff)[0]
        order = kept[np.lexsort((kept, -probs[kept]))]  # by probability, then id
        cumulative = np.cumsum(probs[order], dtype=np.float64)
        past = np.nonzero(cumulative > self.topp)[0]
        last = int(past[0]) if len(past) else len(order) - 1
        r = coin * cumulative[last]
        inside = np.nonzero(r < cumulative[:last + 1])[0]
        return int(order[inside[0]]) if len(inside) else int(order[last])


def generate(checkpoint: str | Path, prompt_tokens: list[int], steps: int, temperature: float = 0.0,
             topp: float = 0.9, seed: int = 1,
             dtype: type = np.float64) -> tuple[list[int], list[np.ndarray]]:
    """The engine's loop: feed the prompt, then sample ``steps`` tokens, feeding each
    back but the last. Returns the generated tokens and the logits of every forward."""
    model = Model(checkpoint, dtype)
    sampler = Sampler(temperature, topp, seed)
    token, out, logits = prompt_tokens[0], [], []
    for pos in range(len(prompt_tokens) + steps - 1):
        step = model.forward(token, pos)
        logits.append(step)
        if pos + 1 < len(prompt_tokens):
            token = prompt_tokens[pos + 1]
        else:
            token = sampler.sample(step)
            out.append(token)
    return out, logits
