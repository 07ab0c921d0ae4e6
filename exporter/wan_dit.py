"""Wan2.1 DiT with the Pusa per-frame ("vectorised") timestep forward — spec §B.1.

Parameter names and shapes are those of the official Wan2.1-T2V-14B checkpoint (the keys of
`diffusion_pytorch_model-0000N-of-00006.safetensors`, no prefix), so `load_state_dict(strict=True)` takes the official
shards as they are.  Buffers (RoPE tables) are non-persistent and never appear in the state dict.

Differences from the upstream Pusa module (`PusaV1/diffsynth/models/wan_video_pusa.py`) are in *how*, not *what*:
  * the per-frame modulation is broadcast as [B, F, 1, D] against tokens viewed as [B, F, h'w', D] instead of being
    materialised per token ([B, 6, L, D]);
  * attention goes through `attention()` below, which is SDPA in eager mode and a fused
    `com.microsoft.MultiHeadAttention` node when exported to ONNX (legacy TorchScript exporter, `dynamo=False`);
  * RMSNorm is exported as `SimplifiedLayerNormalization` (computed in fp32 inside onnxruntime, stash_type 1).
Numerics in eager mode: sinusoid and RoPE in float64 (cast back), RMSNorm in fp32, everything else in the module's dtype
(Pusa's choice, spec A.11.3: time MLP and modulation in the model dtype, not fp32 as upstream Wan).  During ONNX export
the sinusoid and the RoPE rotation use fp32 (float64 kernels are not on onnxruntime's CUDA provider); the difference is
below bf16 resolution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class WanConfig:
    dim: int = 5120
    ffn_dim: int = 13824
    num_heads: int = 40
    num_layers: int = 40
    in_dim: int = 16
    out_dim: int = 16
    patch_size: tuple = (1, 2, 2)
    freq_dim: int = 256
    text_dim: int = 4096
    eps: float = 1e-6
    qk_norm: bool = True
    cross_attn_norm: bool = True
    rope_max_pos: int = 1024  # Wan's rope_params(1024, ·)

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    def to_dict(self):
        return asdict(self)


WAN21_T2V_14B = WanConfig()
WAN21_T2V_1_3B = WanConfig(dim=1536, ffn_dim=8960, num_heads=12, num_layers=30)


def small_config(**kw) -> WanConfig:
    """Reduced config for tests: same code, tiny width/depth; head_dim stays 128 so RoPE keeps the real 44/42/42 split
    (Pusa and Wan split head_dim 64 differently, and Pusa's split breaks there)."""
    base = dict(dim=256, ffn_dim=512, num_heads=2, num_layers=2, text_dim=64, freq_dim=256)
    base.update(kw)
    return WanConfig(**base)


def _exporting() -> bool:
    return torch.onnx.is_in_onnx_export()


# --------------------------------------------------------------------------------------------------------------------
# fused-op hooks: eager = plain torch, export = one contrib node


class _MHA(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, num_heads: int):
        b, s, _ = q.shape
        l = k.shape[1]
        q = q.view(b, s, num_heads, -1).transpose(1, 2)
        k = k.view(b, l, num_heads, -1).transpose(1, 2)
        v = v.view(b, l, num_heads, -1).transpose(1, 2)
        o = F.scaled_dot_product_attention(q, k, v)
        return o.transpose(1, 2).reshape(b, s, -1)

    @staticmethod
    def symbolic(g, q, k, v, num_heads):
        # com.microsoft.MultiHeadAttention: Q [B,S,H*D], K/V [B,L,H*D] -> [B,S,H*D]; scale defaults to 1/sqrt(D)
        return g.op("com.microsoft::MultiHeadAttention", q, k, v, num_heads_i=num_heads).setType(q.type())


def attention(q, k, v, num_heads: int):
    """q [B,S,H*D], k/v [B,L,H*D] -> [B,S,H*D]; full attention, no mask, scale 1/sqrt(D)."""
    return _MHA.apply(q, k, v, num_heads)


class _RMS(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, eps: float):
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + eps)
        return y.type_as(x) * weight

    @staticmethod
    def symbolic(g, x, weight, eps):
        return g.op("SimplifiedLayerNormalization", x, weight, axis_i=-1, epsilon_f=eps, stash_type_i=1).setType(
            x.type())


class _RoPE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, cos, sin, pos, num_heads: int):
        return rope_apply(x, cos, sin, num_heads)

    @staticmethod
    def symbolic(g, x, cos, sin, pos, num_heads):
        # com.microsoft.RotaryEmbedding, interleaved = adjacent pairs (Wan's complex layout), one row of the tables
        # per token (pos = 0..L-1): one fused kernel in the model dtype instead of a dozen fp32 elementwise passes
        # over q and k (about 10 ms of a 480p guided block on an H100).
        return g.op("com.microsoft::RotaryEmbedding", x, pos, cos, sin, interleaved_i=1,
                    num_heads_i=num_heads).setType(x.type())


class _LinearFastGelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        return F.gelu(F.linear(x, weight, bias), approximate="tanh")

    @staticmethod
    def symbolic(g, x, weight, bias):
        # MatMul + com.microsoft.FastGelu(bias) (= GELU-tanh of x·Wᵀ + b): bias add and GELU in one kernel over the
        # [B, L, 13824] activations.  Traced, GELU-tanh is seven elementwise ops that onnxruntime's fusion does not
        # match in fp16, about 10 ms of a 480p guided block on an H100.
        mm = g.op("MatMul", x, g.op("Transpose", weight, perm_i=[1, 0]))
        return g.op("com.microsoft::FastGelu", mm, bias).setType(mm.type())


def linear_gelu(x, linear: nn.Linear):
    """GELU-tanh(linear(x)); one fused node when exporting."""
    if _exporting():
        return _LinearFastGelu.apply(x, linear.weight, linear.bias)
    return F.gelu(linear(x), approximate="tanh")


def rope(x, cos, sin, pos, num_heads: int):
    """x [B,L,H*D] rotated by per-token angles; `pos` (int64 [B,L] token indices) selects the fused export path."""
    if pos is not None and _exporting():
        return _RoPE.apply(x, cos, sin, pos, num_heads)
    return rope_apply(x, cos, sin, num_heads)


class WanRMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return _RMS.apply(x, self.weight, self.eps)


class WanLayerNorm(nn.LayerNorm):
    """LayerNorm in the module dtype (Pusa); exported as LayerNormalization (fp32 accumulation inside ORT)."""

    def __init__(self, dim, eps=1e-6, elementwise_affine=False):
        super().__init__(dim, eps=eps, elementwise_affine=elementwise_affine)


# --------------------------------------------------------------------------------------------------------------------
# timestep sinusoid and RoPE


def sinusoidal_embedding_1d(dim: int, position: torch.Tensor) -> torch.Tensor:
    """cat(cos, sin) of position·10000^(−i/half), i = 0..half−1; float64 in eager, fp32 when exporting."""
    half = dim // 2
    dt = torch.float32 if _exporting() else torch.float64
    pos = position.to(dt)
    d = pos.device
    freqs = torch.pow(torch.tensor(10000.0, dtype=dt, device=d), -torch.arange(half, dtype=dt, device=d) / half)
    s = pos.unsqueeze(-1) * freqs
    return torch.cat([torch.cos(s), torch.sin(s)], dim=-1)


def rope_axis_dims(head_dim: int):
    """Frame / row / column dims of Wan's RoPE: 128 -> (44, 42, 42), i.e. 22/21/21 frequencies."""
    d = head_dim
    return d - 4 * (d // 6), 2 * (d // 6), 2 * (d // 6)


def rope_table(max_pos: int, dim: int) -> torch.Tensor:
    """[max_pos, dim/2] angles pos·10000^(−2j/dim), float64 (Wan's rope_params without the polar())."""
    assert dim % 2 == 0
    freqs = 1.0 / torch.pow(10000.0, torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    return torch.outer(torch.arange(max_pos, dtype=torch.float64), freqs)


def rope_angles(tables, f: int, h: int, w: int) -> torch.Tensor:
    """[f*h*w, head_dim/2] angles for token order (f, h, w)."""
    tf, th, tw = tables
    a_f = tf[:f].view(f, 1, 1, -1).expand(f, h, w, -1)
    a_h = th[:h].view(1, h, 1, -1).expand(f, h, w, -1)
    a_w = tw[:w].view(1, 1, w, -1).expand(f, h, w, -1)
    return torch.cat([a_f, a_h, a_w], dim=-1).reshape(f * h * w, -1)


def rope_apply(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, num_heads: int) -> torch.Tensor:
    """x [B,L,H*D]; cos/sin [L, D/2]; rotates adjacent pairs (x[2j], x[2j+1]) as complex numbers."""
    b, l, _ = x.shape
    dt = cos.dtype
    xr = x.to(dt).view(b, l, num_heads, -1, 2)
    x0, x1 = xr[..., 0], xr[..., 1]
    c = cos.view(1, l, 1, -1)
    s = sin.view(1, l, 1, -1)
    out = torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], dim=-1)
    return out.view(b, l, -1).to(x.dtype)


# --------------------------------------------------------------------------------------------------------------------
# modules (names = official checkpoint)


class WanSelfAttention(nn.Module):
    def __init__(self, dim, num_heads, qk_norm=True, eps=1e-6):
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = WanRMSNorm(dim, eps) if qk_norm else nn.Identity()
        self.norm_k = WanRMSNorm(dim, eps) if qk_norm else nn.Identity()

    def forward(self, x, cos, sin, pos=None):
        q = rope(self.norm_q(self.q(x)), cos, sin, pos, self.num_heads)
        k = rope(self.norm_k(self.k(x)), cos, sin, pos, self.num_heads)
        v = self.v(x)
        return self.o(attention(q, k, v, self.num_heads))


class WanCrossAttention(WanSelfAttention):
    def forward(self, x, context):
        q = self.norm_q(self.q(x))
        k = self.norm_k(self.k(context))
        v = self.v(context)
        return self.o(attention(q, k, v, self.num_heads))


class WanAttentionBlock(nn.Module):
    def __init__(self, cfg: WanConfig):
        super().__init__()
        d = cfg.dim
        self.norm1 = WanLayerNorm(d, cfg.eps)
        self.self_attn = WanSelfAttention(d, cfg.num_heads, cfg.qk_norm, cfg.eps)
        self.norm3 = WanLayerNorm(d, cfg.eps, elementwise_affine=True) if cfg.cross_attn_norm else nn.Identity()
        self.cross_attn = WanCrossAttention(d, cfg.num_heads, cfg.qk_norm, cfg.eps)
        self.norm2 = WanLayerNorm(d, cfg.eps)
        self.ffn = nn.Sequential(nn.Linear(d, cfg.ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(cfg.ffn_dim, d))
        self.modulation = nn.Parameter(torch.randn(1, 6, d) / d ** 0.5)

    def forward(self, x, tm, context, cos, sin, s, pos=None):
        """x [B,L,D] with L = F·S (S = tokens per frame); tm [B,F,6,D] per-frame modulation; context [B,Lc,D]."""
        b, l, d = x.shape
        mod = (self.modulation.unsqueeze(1) + tm).unsqueeze(3)  # [B,F,6,1,D]
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mod.unbind(2)  # each [B,F,1,D]

        def modulate(h, shift, scale):
            return (h.view(b, -1, s, d) * (1 + scale) + shift).view(b, l, d)

        def gated(x, y, gate):
            return x + (y.view(b, -1, s, d) * gate).view(b, l, d)

        y = self.self_attn(modulate(self.norm1(x), shift_msa, scale_msa), cos, sin, pos)
        x = gated(x, y, gate_msa)
        x = x + self.cross_attn(self.norm3(x), context)
        y = self.ffn[2](linear_gelu(modulate(self.norm2(x), shift_mlp, scale_mlp), self.ffn[0]))
        x = gated(x, y, gate_mlp)
        return x


class Head(nn.Module):
    def __init__(self, cfg: WanConfig):
        super().__init__()
        self.norm = WanLayerNorm(cfg.dim, cfg.eps)
        self.head = nn.Linear(cfg.dim, cfg.out_dim * math.prod(cfg.patch_size))
        self.modulation = nn.Parameter(torch.randn(1, 2, cfg.dim) / cfg.dim ** 0.5)

    def forward(self, x, t, s):
        """x [B,L,D]; t [B,F,D] (time_embedding output, not the projection); S tokens per frame."""
        b, l, d = x.shape
        e = (self.modulation.unsqueeze(1) + t.unsqueeze(2)).unsqueeze(3)  # [B,F,2,1,D]
        shift, scale = e.unbind(2)
        h = (self.norm(x).view(b, -1, s, d) * (1 + scale) + shift).view(b, l, d)
        return self.head(h)


class WanDiT(nn.Module):
    def __init__(self, cfg: WanConfig = WAN21_T2V_14B):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.patch_embedding = nn.Conv3d(cfg.in_dim, d, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.text_embedding = nn.Sequential(nn.Linear(cfg.text_dim, d), nn.GELU(approximate="tanh"), nn.Linear(d, d))
        self.time_embedding = nn.Sequential(nn.Linear(cfg.freq_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(d, d * 6))
        self.blocks = nn.ModuleList([WanAttentionBlock(cfg) for _ in range(cfg.num_layers)])
        self.head = Head(cfg)
        self.fused_rope = True  # export RoPE as com.microsoft.RotaryEmbedding (False: plain fp32 ops)
        for i, dd in enumerate(rope_axis_dims(cfg.head_dim)):
            self.register_buffer(f"rope_{i}", rope_table(cfg.rope_max_pos, dd), persistent=False)

    def rope(self, f, h, w):
        ang = rope_angles((self.rope_0, self.rope_1, self.rope_2), f, h, w)
        if _exporting():
            ang = ang.float()
        return torch.cos(ang), torch.sin(ang)

    def embed_time(self, timestep):
        """timestep [B,F] -> t [B,F,D] and tm [B,F,6,D] (model dtype)."""
        dt = self.patch_embedding.weight.dtype
        e = sinusoidal_embedding_1d(self.cfg.freq_dim, timestep).to(dt)
        t = self.time_embedding(e)
        tm = self.time_projection(t)
        return t, tm.unflatten(-1, (6, self.cfg.dim))

    def forward(self, x, timestep, context):
        """x [B,16,F,h,w]; timestep [B,F]; context [B,Lc,text_dim] -> velocity [B,16,F,h,w]."""
        cfg = self.cfg
        pt, ph, pw = cfg.patch_size
        t, tm = self.embed_time(timestep)
        ctx = self.text_embedding(context)
        x = self.patch_embedding(x)  # [B,D,F',h',w']
        b, d, f, hh, ww = x.shape
        x = x.flatten(2).transpose(1, 2)  # [B,L,D], token order (f,h',w')
        cos, sin = self.rope(f, hh, ww)
        pos = None
        if _exporting() and self.fused_rope:
            # RotaryEmbedding wants tables in the activation dtype and one position id per token
            cos, sin = cos.to(x.dtype), sin.to(x.dtype)
            pos = torch.arange(f * hh * ww, device=x.device).unsqueeze(0).expand(b, -1)
        for blk in self.blocks:
            x = blk(x, tm, ctx, cos, sin, hh * ww, pos)
        y = self.head(x, t, hh * ww)  # [B,L,pt*ph*pw*C] with c fastest
        c = cfg.out_dim
        y = y.view(b, f, hh, ww, pt, ph, pw, c)
        y = y.permute(0, 7, 1, 4, 2, 5, 3, 6)  # b c f pt h ph w pw
        return y.reshape(b, c, f * pt, hh * ph, ww * pw)


def official_key_shapes(cfg: WanConfig = WAN21_T2V_14B):
    """{key: shape} of the official checkpoint, derived without allocating (meta device)."""
    with torch.device("meta"):
        m = WanDiT(cfg)
    return {k: tuple(v.shape) for k, v in m.state_dict().items()}
