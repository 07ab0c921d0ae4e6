"""Wan2.1 VAE (Wan2.1_VAE.pth) with whole-clip encode/decode — spec §B.2, pack contract docs/model-pack.md.

Parameter names and shapes are those of the official file (the state dict of upstream `WanVAE_`: `encoder.*`,
`conv1.*`, `conv2.*`, `decoder.*`), so `load_state_dict(strict=True)` takes it as it is.  That is why the module tree
keeps upstream's Sequential indices (`residual.0/2/3/6`, `resample.1`, `head.0/2`, `middle.0/1/2`) and its
parameterless slots (SiLU, Dropout, Upsample/ZeroPad) as placeholders.

Upstream runs the encoder on frame 0, then on chunks of 4 frames, and the decoder on one latent frame at a time, with a
per-conv feature cache.  Here both run on the whole clip at once (no cache, no Python loop), which gives the same
numbers (tests/test_wan_vae.py proves it against both upstream modules):
  * a causal 3-tap time conv sees, at every frame, the two previous frames of its input or zeros before frame 0 — the
    cache holds exactly those two frames, so it equals one conv over the sequence with 2 zero frames in front;
  * time downsampling (encoder): frame 0 passes through (upstream's first chunk only fills the cache), later frames
    are the stride-2 conv over windows (s0,s1,s2), (s2,s3,s4), ... of the whole sequence (cache = last frame);
  * time upsampling (decoder): latent frame 0 passes through undoubled (upstream's 'Rep' marker), frames 1.. go through
    `time_conv` with zero history ('Rep' means: the first real chunk is zero-padded, frame 0 is never in the window),
    each output giving two frames.
The T = 1 case needs no branch: frame 0 is split off and the remainder is an (empty) slice, see `Resample`.

Numerics: RMS_norm's L2 norm is taken in fp32 (sum of squares over up to 384 channels overflows fp16); everything else
runs in the module's dtype.  2-D convs of upstream (spatial resample, attention 1x1) run as 3-D convs with a
(1,k,k) kernel on the 5-D tensor, which avoids folding time into batch (no reshape on the dynamic time axis).
"""
from __future__ import annotations

from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class VAEConfig:
    dim: int = 96
    z_dim: int = 16
    dim_mult: tuple = (1, 2, 4, 4)
    num_res_blocks: int = 2
    temporal_downsample: tuple = (False, True, True)

    def to_dict(self):
        return asdict(self)


WAN21_VAE = VAEConfig()


def small_vae_config(**kw) -> VAEConfig:
    """Same layout (dim_mult, time downsampling, attention in the middle), narrow channels: for tests."""
    return VAEConfig(**{"dim": 16, **kw})


# ---------------------------------------------------------------------------------------------------- layers


class CausalConv3d(nn.Conv3d):
    """Conv3d whose time padding is all in front (2·p_t zero frames), spatial padding symmetric."""

    def __init__(self, cin, cout, kernel, stride=1, padding=0):
        super().__init__(cin, cout, kernel, stride=stride, padding=0)
        p = (padding,) * 3 if isinstance(padding, int) else tuple(padding)
        self.pad = (p[2], p[2], p[1], p[1], 2 * p[0], 0)  # F.pad order: w, h, t

    def forward(self, x):
        if any(self.pad):
            x = F.pad(x, self.pad)
        return super().forward(x)


class RMSNorm(nn.Module):
    """x / ||x||_channels · √C · γ (F.normalize semantics: norm clamped at 1e-12).  `images` only sets γ's stored
    shape ((C,1,1) for the attention norm, (C,1,1,1) elsewhere) so the official tensors load; it always acts on 5-D."""

    def __init__(self, dim, images=False):
        super().__init__()
        self.scale = dim ** 0.5
        self.gamma = nn.Parameter(torch.ones((dim, 1, 1) if images else (dim, 1, 1, 1)))

    def forward(self, x):
        xf = x.float()
        n = xf.pow(2).sum(dim=1, keepdim=True).sqrt().clamp_min(1e-12)
        return (xf / n).to(x.dtype) * (self.gamma.view(-1, 1, 1, 1) * self.scale)


def conv2d_as_3d(conv: nn.Conv2d, x, stride=1, padding=0):
    """Apply a Conv2d to every frame of [B,C,T,H,W] as one Conv3d with a (1,kh,kw) kernel."""
    return F.conv3d(x, conv.weight.unsqueeze(2), conv.bias, stride=(1, stride, stride), padding=(0, padding, padding))


class ResidualBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        # indices as upstream: 0 norm, 1 SiLU, 2 conv, 3 norm, 4 SiLU, 5 dropout, 6 conv
        self.residual = nn.Sequential(RMSNorm(cin), nn.SiLU(), CausalConv3d(cin, cout, 3, padding=1),
                                      RMSNorm(cout), nn.SiLU(), nn.Identity(), CausalConv3d(cout, cout, 3, padding=1))
        self.shortcut = CausalConv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        return self.residual(x) + self.shortcut(x)


class AttentionBlock(nn.Module):
    """Single-head self-attention over the h·w positions of each frame (frames do not attend to each other)."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.norm = RMSNorm(dim, images=True)
        self.to_qkv = nn.Conv2d(dim, dim * 3, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        c = self.dim
        h, w = x.shape[3], x.shape[4]
        qkv = conv2d_as_3d(self.to_qkv, self.norm(x))                  # [B,3C,T,H,W]
        qkv = qkv.permute(0, 2, 3, 4, 1).flatten(2, 3)                  # [B,T,HW,3C]
        q, k, v = qkv[..., :c], qkv[..., c:2 * c], qkv[..., 2 * c:]
        a = torch.softmax((q * c ** -0.5) @ k.transpose(-1, -2), dim=-1) @ v  # [B,T,HW,C]
        a = a.unflatten(2, (h, w)).permute(0, 4, 1, 2, 3)               # [B,C,T,H,W]
        return x + conv2d_as_3d(self.proj, a)


class Resample(nn.Module):
    """Spatial ×2 / ÷2 (per frame) with optional time ×2 / ÷2.  `resample.1` is upstream's Conv2d (index 0 was the
    parameterless Upsample / ZeroPad2d); `time_conv` exists only in the 3-D modes."""

    def __init__(self, dim, mode):
        super().__init__()
        self.mode = mode
        self.dim = dim
        if mode in ("upsample2d", "upsample3d"):
            self.resample = nn.Sequential(nn.Identity(), nn.Conv2d(dim, dim // 2, 3, padding=1))
            if mode == "upsample3d":
                self.time_conv = CausalConv3d(dim, dim * 2, (3, 1, 1), padding=(1, 0, 0))
        elif mode in ("downsample2d", "downsample3d"):
            self.resample = nn.Sequential(nn.Identity(), nn.Conv2d(dim, dim, 3, stride=2))
            if mode == "downsample3d":
                self.time_conv = CausalConv3d(dim, dim, (3, 1, 1), stride=(2, 1, 1))
        else:
            raise ValueError(mode)

    def forward(self, x):
        if self.mode == "upsample3d":
            x = self._time_up(x)
        if self.mode.startswith("upsample"):
            # nearest ×2 in h, w ('nearest-exact' upstream: identical for an integer factor)
            x = F.interpolate(x, scale_factor=(1.0, 2.0, 2.0), mode="nearest")
            x = conv2d_as_3d(self.resample[1], x, padding=1)
        else:
            x = conv2d_as_3d(self.resample[1], F.pad(x, (0, 1, 0, 1)), stride=2)  # ZeroPad2d((0,1,0,1))
            if self.mode == "downsample3d":
                x = self._time_down(x)
        return x

    def _time_down(self, x):
        # causal stride-2 conv over [0,0,s0,s1,...]: output 0 is the window (0,0,s0) -> replaced by s0 itself; the
        # others are (s0,s1,s2), (s2,s3,s4), ...  T=1 leaves an empty slice, so the result is just s0.
        y = F.conv3d(F.pad(x, (0, 0, 0, 0, 2, 0)), self.time_conv.weight, self.time_conv.bias, stride=(2, 1, 1))
        return torch.cat([x[:, :, :1], y[:, :, 1:]], dim=2)

    def _time_up(self, x):
        # frames 1.. with zero history: zero frame 0 out (so it is no one's history), run the causal conv over all F
        # frames (always >= 1, so no empty conv), drop frame 0's two outputs, put the untouched frame 0 in front.
        c = self.dim
        z = torch.cat([torch.zeros_like(x[:, :, :1]), x[:, :, 1:]], dim=2)
        y = self.time_conv(z)                                           # [B,2C,F,H,W]
        y = torch.stack([y[:, :c], y[:, c:]], dim=3).flatten(2, 3)      # [B,C,2F,H,W]: 2 frames per input frame
        return torch.cat([x[:, :, :1], y[:, :, 2:]], dim=2)


class Encoder3d(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        dims = [cfg.dim * m for m in (1,) + tuple(cfg.dim_mult)]
        self.conv1 = CausalConv3d(3, dims[0], 3, padding=1)
        blocks = []
        for i, (cin, cout) in enumerate(zip(dims[:-1], dims[1:])):
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResidualBlock(cin, cout))
                cin = cout
            if i != len(cfg.dim_mult) - 1:
                blocks.append(Resample(cout, "downsample3d" if cfg.temporal_downsample[i] else "downsample2d"))
        self.downsamples = nn.Sequential(*blocks)
        d = dims[-1]
        self.middle = nn.Sequential(ResidualBlock(d, d), AttentionBlock(d), ResidualBlock(d, d))
        self.head = nn.Sequential(RMSNorm(d), nn.SiLU(), CausalConv3d(d, cfg.z_dim * 2, 3, padding=1))

    def forward(self, x):
        return self.head(self.middle(self.downsamples(self.conv1(x))))


class Decoder3d(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        mult = tuple(cfg.dim_mult)
        dims = [cfg.dim * m for m in (mult[-1],) + mult[::-1]]
        up = tuple(cfg.temporal_downsample)[::-1]
        self.conv1 = CausalConv3d(cfg.z_dim, dims[0], 3, padding=1)
        self.middle = nn.Sequential(ResidualBlock(dims[0], dims[0]), AttentionBlock(dims[0]),
                                    ResidualBlock(dims[0], dims[0]))
        blocks = []
        for i, (cin, cout) in enumerate(zip(dims[:-1], dims[1:])):
            if i > 0:
                cin //= 2  # the previous Resample halved the channels
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResidualBlock(cin, cout))
                cin = cout
            if i != len(mult) - 1:
                blocks.append(Resample(cout, "upsample3d" if up[i] else "upsample2d"))
        self.upsamples = nn.Sequential(*blocks)
        self.head = nn.Sequential(RMSNorm(dims[-1]), nn.SiLU(), CausalConv3d(dims[-1], 3, 3, padding=1))

    def forward(self, x):
        return self.head(self.upsamples(self.middle(self.conv1(x))))


class WanVAE(nn.Module):
    """encode: video [B,3,1+4k,H,W] in [-1,1] -> raw mean μ [B,16,1+k,H/8,W/8] (no sampling, no normalisation).
    decode: raw latents [B,16,F,h,w] -> video [B,3,1+4(F-1),8h,8w], clamped to [-1,1] unless clamp=False."""

    def __init__(self, cfg: VAEConfig = WAN21_VAE):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder3d(cfg)
        self.conv1 = CausalConv3d(cfg.z_dim * 2, cfg.z_dim * 2, 1)  # -> (μ, log σ²); only μ is used
        self.conv2 = CausalConv3d(cfg.z_dim, cfg.z_dim, 1)
        self.decoder = Decoder3d(cfg)

    def encode(self, video):
        return self.conv1(self.encoder(video))[:, :self.cfg.z_dim]

    def decode(self, z, clamp=True):
        x = self.decoder(self.conv2(z))
        return x.clamp(-1, 1) if clamp else x


def official_key_shapes(cfg: VAEConfig = WAN21_VAE) -> dict:
    """{key: shape} of Wan2.1_VAE.pth for `cfg`, derived on the meta device (no memory)."""
    with torch.device("meta"):
        m = WanVAE(cfg)
    return {k: tuple(v.shape) for k, v in m.state_dict().items()}


@torch.no_grad()
def randomize_(model: WanVAE, seed: int = 0):
    """Random weights at trained-like scales: convs ~ N(0, 1/fan_in) (residual-branch output convs ×0.5 so the
    stream stays O(1) through ~30 blocks), γ ≈ 1, small biases, decoder head scaled so few pixels hit the clamp."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if name.endswith("gamma"):
            v = 1 + 0.1 * torch.randn(p.shape, generator=g)
        elif p.ndim >= 2:
            v = torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5
            if name.endswith("residual.6.weight") or name.endswith("proj.weight"):
                v *= 0.5
            if name == "decoder.head.2.weight":
                v *= 0.3
        else:
            v = 0.02 * torch.randn(p.shape, generator=g)
        p.copy_(v.to(p.dtype))
    return model
