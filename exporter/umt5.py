"""umT5-XXL text encoder (encoder only) as Wan2.1 / Pusa run it — spec §B.3.

Parameter names and shapes are those of the official `models_t5_umt5-xxl-enc-bf16.pth` (the state dict of Wan's
`T5Encoder`, no prefix), so `load_state_dict(strict=True)` takes that file as it is:

    token_embedding.weight                         [vocab, dim]
    blocks.N.norm1.weight / norm2.weight           [dim]
    blocks.N.attn.{q,k,v,o}.weight                 [dim, dim] (dim_attn = dim)
    blocks.N.ffn.gate.0.weight / ffn.fc1.weight    [dim_ffn, dim]
    blocks.N.ffn.fc2.weight                        [dim, dim_ffn]
    blocks.N.pos_embedding.embedding.weight        [num_buckets, num_heads]   (umT5: one bias table per layer)
    norm.weight                                    [dim]

umT5 is built with `shared_pos=False`: every layer has its own relative-position table (T5 v1.1 shares one table
across layers; umT5 does not).  The bucket indices depend only on the sequence length, so they are computed once per
forward and each layer only gathers its own table.

Numerics follow upstream: RMSNorm statistics in fp32, scores without 1/sqrt(d) scaling (T5), softmax in fp32, GELU
written out with tanh.  Differences are in *how*: no dropout modules, the padding mask and the position bias are merged
into one additive bias per layer, and the output rows at and past the true length are zeroed inside the module (the
pipeline does that in Python upstream, `wan_prompter.py`) so the ONNX graph gives the pack's `context` directly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn


@dataclass(frozen=True)
class UMT5Config:
    vocab: int = 256384
    dim: int = 4096
    dim_attn: int = 4096
    dim_ffn: int = 10240
    num_heads: int = 64
    num_layers: int = 24
    num_buckets: int = 32
    max_dist: int = 128
    eps: float = 1e-6
    text_len: int = 512  # Wan's text_len; the pack's text.maxLength

    @property
    def head_dim(self) -> int:
        return self.dim_attn // self.num_heads

    def to_dict(self):
        return asdict(self)


UMT5_XXL = UMT5Config()


def small_config(**kw) -> UMT5Config:
    """Reduced config for tests: tiny width/depth/vocab, the real bucket scheme (32 buckets, max_dist 128)."""
    base = dict(vocab=512, dim=64, dim_attn=64, dim_ffn=96, num_heads=4, num_layers=3, text_len=512)
    base.update(kw)
    return UMT5Config(**base)


# fp16 range guard, as upstream's fp16_clamp: umT5-XXL's residual stream exceeds 65504 with the real weights in a few
# channels, and without this the fp16 forward turns into inf/NaN.  Upstream clamps only when some value is inf; the
# `where` keeps that exact behaviour without a Python branch, so it survives tracing into ONNX.
FP16_CLAMP = torch.finfo(torch.float16).max - 1000


def fp16_clamp(x: torch.Tensor) -> torch.Tensor:
    if x.dtype != torch.float16:
        return x
    return torch.where(torch.isinf(x).any(), x.clamp(-FP16_CLAMP, FP16_CLAMP), x)


class RMSNorm(nn.Module):
    """T5 LayerNorm: no mean subtraction, no bias; statistics in fp32, result cast back to a half weight's dtype."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return self.weight * y.to(self.weight.dtype)


def gelu_tanh(x):
    # written out as upstream does (not F.gelu): opset 17 has no Gelu, and the formula is what the checkpoint saw
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def relative_buckets(pos: torch.Tensor, num_buckets: int, max_dist: int) -> torch.Tensor:
    """[L, L] int64 bucket of (key − query) for positions `pos` [L], bidirectional T5 scheme: half the buckets per
    direction, exact below max_exact = num_buckets/4, log-spaced up to max_dist, then saturated.  Same float ops in the
    same order as upstream so that boundary cases round identically; the log is taken of max(|rel|, max_exact) so it
    never sees 0 (that branch is discarded by the `where` anyway, but log(0) → −inf → int cast is undefined in ONNX)."""
    rel = pos.unsqueeze(0) - pos.unsqueeze(1)  # [q, k] = k − q
    half = num_buckets // 2
    base = (rel > 0).long() * half
    rel = rel.abs()
    max_exact = half // 2
    large = max_exact + (torch.log(rel.clamp(min=max_exact).float() / max_exact) / math.log(max_dist / max_exact)
                         * (half - max_exact)).long()
    large = large.clamp(max=half - 1)
    return base + torch.where(rel < max_exact, rel, large)


class RelativeBias(nn.Module):
    """One layer's position-bias table; `forward(buckets)` → [1, heads, L, L] in the table's dtype."""

    def __init__(self, num_buckets: int, num_heads: int):
        super().__init__()
        self.embedding = nn.Embedding(num_buckets, num_heads)

    def forward(self, buckets):
        return self.embedding(buckets).permute(2, 0, 1).unsqueeze(0)


class Attention(nn.Module):
    def __init__(self, dim: int, dim_attn: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim_attn, bias=False)
        self.k = nn.Linear(dim, dim_attn, bias=False)
        self.v = nn.Linear(dim, dim_attn, bias=False)
        self.o = nn.Linear(dim_attn, dim, bias=False)

    def forward(self, x, bias):
        b, l, _ = x.shape
        n = self.num_heads
        q = self.q(x).view(b, l, n, -1).transpose(1, 2)
        k = self.k(x).view(b, l, n, -1).transpose(1, 2)
        v = self.v(x).view(b, l, n, -1).transpose(1, 2)
        # T5: no 1/sqrt(head_dim) scaling (it is folded into the trained q weights)
        scores = torch.matmul(q, k.transpose(-1, -2)) + bias
        attn = torch.softmax(scores.float(), dim=-1).to(v.dtype)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, l, -1)
        return self.o(out)


class FeedForward(nn.Module):
    def __init__(self, dim: int, dim_ffn: int):
        super().__init__()
        # `gate` is a Sequential only for the official key name `ffn.gate.0.weight` (upstream: Linear + GELU module)
        self.gate = nn.Sequential(nn.Linear(dim, dim_ffn, bias=False))
        self.fc1 = nn.Linear(dim, dim_ffn, bias=False)
        self.fc2 = nn.Linear(dim_ffn, dim, bias=False)

    def forward(self, x):
        return self.fc2(self.fc1(x) * gelu_tanh(self.gate(x)))


class Block(nn.Module):
    def __init__(self, cfg: UMT5Config):
        super().__init__()
        self.norm1 = RMSNorm(cfg.dim, cfg.eps)
        self.attn = Attention(cfg.dim, cfg.dim_attn, cfg.num_heads)
        self.norm2 = RMSNorm(cfg.dim, cfg.eps)
        self.ffn = FeedForward(cfg.dim, cfg.dim_ffn)
        self.pos_embedding = RelativeBias(cfg.num_buckets, cfg.num_heads)

    def forward(self, x, buckets, key_pad):
        # one additive bias per layer: this layer's position bias, and the dtype's minimum on padded keys (upstream
        # masked_fill's the same minimum; exp of it is 0 in the fp32 softmax either way)
        pos = self.pos_embedding(buckets).to(x.dtype)
        bias = torch.where(key_pad, torch.finfo(x.dtype).min, pos)
        x = fp16_clamp(x + self.attn(self.norm1(x), bias))
        x = fp16_clamp(x + self.ffn(self.norm2(x)))
        return x


class UMT5Encoder(nn.Module):
    """ids [B, L] int64, attention_mask [B, L] (1 real, 0 pad) → [B, L, dim], rows ≥ the true length exactly 0.

    The true length is the count of mask > 0 (Wan's `seq_lens`), and rows from that index on are zeroed, as the
    reference does after the encoder (§B.3); upstream's attention still lets padded *queries* attend, so their rows
    are computed and then dropped."""

    def __init__(self, cfg: UMT5Config = UMT5_XXL):
        super().__init__()
        self.cfg = cfg
        self.token_embedding = nn.Embedding(cfg.vocab, cfg.dim)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.num_layers)])
        self.norm = RMSNorm(cfg.dim, cfg.eps)

    def forward(self, ids, attention_mask):
        b, l = ids.shape
        x = self.token_embedding(ids)
        # positions 0..L-1 derived from the input (not arange(L)): with L static, the exporter's constant folding would
        # otherwise bake every layer's [heads, L, L] bias into the file (0.8 GB in fp16); this way the buckets are
        # computed once per call in the graph and each layer gathers its own [buckets, heads] table
        pos = torch.ones_like(ids[0]).cumsum(0) - 1
        buckets = relative_buckets(pos, self.cfg.num_buckets, self.cfg.max_dist)
        key_pad = (attention_mask == 0).view(b, 1, 1, l)
        for block in self.blocks:
            x = block(x, buckets, key_pad)
        x = self.norm(x)
        seq_len = (attention_mask > 0).sum(dim=1, keepdim=True)  # [B, 1]
        keep = pos.unsqueeze(0) < seq_len  # [B, L]
        # `where`, not a multiply: gives +0.0 (never −0.0 or NaN·0) on the dropped rows
        return torch.where(keep.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype, device=x.device))


def official_key_shapes(cfg: UMT5Config = UMT5_XXL) -> dict:
    """{key: shape} of the official checkpoint layout, derived without allocating (meta device)."""
    with torch.device("meta"):
        m = UMT5Encoder(cfg)
    return {k: tuple(v.shape) for k, v in m.state_dict().items()}
