"""pusa-mini networks: causal video VAE (Wan layout), small text encoder, Wan-structured DiT.

All three are written with plain ops (conv, matmul, softmax, layer norm) so the legacy ONNX exporter
turns them into graphs that onnxruntime's CPU provider runs at opset 17.
"""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

Z = 16  # latent channels, as Wan


# ----------------------------------------------------------------------------------------------- VAE
VAE_NORM = True  # GroupNorm in residual blocks (Wan uses RMS norms); set before building the VAE


class Res(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a, self.b = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)
        self.n1 = nn.GroupNorm(8, c) if VAE_NORM else nn.Identity()
        self.n2 = nn.GroupNorm(8, c) if VAE_NORM else nn.Identity()
        nn.init.zeros_(self.b.weight)  # identity at init
        nn.init.zeros_(self.b.bias)

    def forward(self, x):
        return x + self.b(F.silu(self.n2(self.a(F.silu(self.n1(x))))))


class VAEEncoder(nn.Module):
    """Wan layout: latent 0 <- frame 0 alone, latent k <- frames 4k-3..4k. Frame 0 is encoded as a group of
    four copies of itself, so a single image and a still 4-frame group share one code (keyframes placed at any
    latent index are therefore in-distribution for the decoder). Output is the raw latent mean."""

    def __init__(self, c=(32, 64, 128), mid=192):
        super().__init__()
        c1, c2, c3 = c
        self.frame = nn.Sequential(  # per-frame 2D trunk, 128 -> 16
            nn.Conv2d(3, c1, 3, padding=1), Res(c1),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), Res(c2),
            nn.Conv2d(c2, c3, 4, stride=2, padding=1), Res(c3),
            nn.Conv2d(c3, c3, 4, stride=2, padding=1), Res(c3))
        self.group = nn.Sequential(  # 4 frames' features -> one latent
            nn.Conv2d(4 * c3, mid, 1), Res(mid), Res(mid), nn.SiLU(), nn.Conv2d(mid, Z, 3, padding=1))

    def forward(self, video):  # [B,3,T,H,W], T = 1+4k
        B, C, T, H, W = video.shape
        first = video[:, :, :1].expand(B, C, 4, H, W)
        g = torch.cat([first, video[:, :, 1:]], 2)  # [B,3,4(k+1),H,W]
        n = g.shape[2] // 4
        f = g.transpose(1, 2).reshape(B * 4 * n, C, H, W)
        f = self.frame(f)
        c, h, w = f.shape[1], f.shape[2], f.shape[3]
        f = f.reshape(B * n, 4 * c, h, w)
        z = self.group(f)
        return z.reshape(B, n, Z, h, w).transpose(1, 2)  # [B,16,n,h,w]


class VAEDecoder(nn.Module):
    """Latent k (with latent k-1 as causal context; latent 0 uses itself) -> 4 frames; latent 0 keeps only the
    last of its 4, so frame 0 depends on latent 0 alone and T = 1+4(F-1)."""

    def __init__(self, mid=192, c=(64, 48, 24)):
        super().__init__()
        c1, c2, c3 = c
        self.c1 = c1
        self.trunk = nn.Sequential(
            nn.Conv2d(2 * Z, mid, 3, padding=1), Res(mid), Res(mid),
            nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(mid, 4 * c1, 3, padding=1))
        self.frame = nn.Sequential(  # per output frame, 32 -> 128
            Res(c1), nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(c1, c2, 3, padding=1), Res(c2),
            nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(c2, c3, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c3, 3, 3, padding=1))

    def forward(self, z, clamp=True):  # [B,16,F,h,w] raw latents
        B, C, n, h, w = z.shape
        prev = torch.cat([z[:, :, :1], z[:, :, :-1]], 2)
        x = torch.cat([z, prev], 1).transpose(1, 2).reshape(B * n, 2 * C, h, w)
        x = self.trunk(x)
        x = x.reshape(B * n * 4, self.c1, 2 * h, 2 * w)
        x = self.frame(x)  # [B*n*4,3,H,W]
        H, W = x.shape[2], x.shape[3]
        x = x.reshape(B, n * 4, 3, H, W).transpose(1, 2)  # [B,3,4n,H,W]
        x = x[:, :, 3:]  # drop the 3 extra copies produced by latent 0
        return x.clamp(-1, 1) if clamp else x


# ---------------------------------------------------------------------------------------- text encoder
class TextEncoder(nn.Module):
    def __init__(self, vocab, dim=128, layers=2, heads=4, max_len=32):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(1, max_len, dim) * 0.02)
        self.layers = nn.ModuleList([nn.TransformerEncoderLayer(dim, heads, 4 * dim, 0.0, activation="gelu",
                                                                batch_first=True, norm_first=True)
                                     for _ in range(layers)])
        self.heads = heads
        self.norm = nn.LayerNorm(dim)

    def forward(self, input_ids, attention_mask):
        x = self.emb(input_ids) + self.pos[:, : input_ids.shape[1]]
        m = attention_mask.to(x.dtype)
        for l in self.layers:  # hand-written pre-LN block (nn.MultiheadAttention exports poorly with masks)
            x = x + self._attn(l, l.norm1(x), m)
            x = x + l.linear2(F.gelu(l.linear1(l.norm2(x))))
        # zero the rows at and beyond the true length inside the graph (Wan/umT5 semantics, spec B.3)
        return self.norm(x) * m.unsqueeze(-1)

    def _attn(self, l, x, m):
        B, L, D = x.shape
        a = l.self_attn
        qkv = F.linear(x, a.in_proj_weight, a.in_proj_bias).reshape(B, L, 3, self.heads, D // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D // self.heads) + (1.0 - m)[:, None, None, :] * -1e4
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, L, D)
        return a.out_proj(o)


# ------------------------------------------------------------------------------------------------- DiT
def sinusoid(t, dim=256):
    """Wan's sinusoidal embedding: cat(cos, sin) of t * 10000^(-i/(dim/2))."""
    half = dim // 2
    freq = torch.pow(10000.0, -torch.arange(half, device=t.device, dtype=torch.float32) / half)
    a = t.float().unsqueeze(-1) * freq
    return torch.cat([torch.cos(a), torch.sin(a)], -1)


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.w, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w


def rope_tables(nf, nh, nw, head_dim, device):
    """3D RoPE as Wan: head_dim split frame/row/col = d-4(d//6), 2(d//6), 2(d//6); adjacent pairs rotate."""
    d6 = head_dim // 6
    dims = [head_dim - 4 * d6, 2 * d6, 2 * d6]
    angs = []
    for n, d, shape in ((nf, dims[0], (-1, 1, 1)), (nh, dims[1], (1, -1, 1)), (nw, dims[2], (1, 1, -1))):
        freq = 1.0 / torch.pow(10000.0, torch.arange(0, d, 2, device=device, dtype=torch.float32) / d)
        pos = torch.arange(n, device=device).to(torch.float32)
        a = pos.view(-1, 1) * freq  # [n, d/2]
        angs.append(a.view(*shape, d // 2))
    full = torch.cat([angs[0].expand(nf, nh, nw, -1), angs[1].expand(nf, nh, nw, -1),
                      angs[2].expand(nf, nh, nw, -1)], -1).reshape(nf * nh * nw, head_dim // 2)
    return torch.cos(full), torch.sin(full)  # [L, d/2]


def apply_rope(x, cos, sin):  # x [B,heads,L,d]
    B, Hh, L, d = x.shape
    x = x.reshape(B, Hh, L, d // 2, 2)
    x0, x1 = x[..., 0], x[..., 1]
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], -1).reshape(B, Hh, L, d)


class Attn(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.nq, self.nk = RMSNorm(dim), RMSNorm(dim)
        self.heads = heads

    def forward(self, x, ctx=None, rope=None):
        B, L, D = x.shape
        src = x if ctx is None else ctx
        S, hd = src.shape[1], D // self.heads
        q = self.nq(self.q(x)).view(B, L, self.heads, hd).transpose(1, 2)
        k = self.nk(self.k(src)).view(B, S, self.heads, hd).transpose(1, 2)
        v = self.v(src).view(B, S, self.heads, hd).transpose(1, 2)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        o = F.scaled_dot_product_attention(q, k, v)
        return self.o(o.transpose(1, 2).reshape(B, L, D))


class Block(nn.Module):
    def __init__(self, dim, heads, ffn):
        super().__init__()
        self.mod = nn.Parameter(torch.randn(1, 1, 6, dim) / dim ** 0.5)
        self.n1 = nn.LayerNorm(dim, eps=1e-6, elementwise_affine=False)
        self.n2 = nn.LayerNorm(dim, eps=1e-6, elementwise_affine=False)
        self.n3 = nn.LayerNorm(dim, eps=1e-6)  # cross_attn_norm
        self.sa, self.ca = Attn(dim, heads), Attn(dim, heads)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.GELU(approximate="tanh"), nn.Linear(ffn, dim))

    def forward(self, x, e, ctx, rope):  # x [B,F,P,D]; e [B,F,6,D] per-frame modulation
        B, Fr, P, D = x.shape
        m = (self.mod + e).unsqueeze(3)  # [B,F,6,1,D] -> broadcast over that frame's tokens
        sh1, sc1, g1, sh2, sc2, g2 = (m[:, :, i] for i in range(6))
        a = (self.n1(x) * (1 + sc1) + sh1).reshape(B, Fr * P, D)
        x = x + g1 * self.sa(a, rope=rope).reshape(B, Fr, P, D)
        x = x + self.ca(self.n3(x).reshape(B, Fr * P, D), ctx=ctx).reshape(B, Fr, P, D)
        x = x + g2 * self.ffn(self.n2(x) * (1 + sc2) + sh2)
        return x


class DiT(nn.Module):
    def __init__(self, dim=256, layers=6, heads=4, ffn=1024, text_dim=128, freq_dim=256):
        super().__init__()
        self.dim, self.heads, self.freq_dim = dim, heads, freq_dim
        self.patch = nn.Conv3d(Z, dim, (1, 2, 2), stride=(1, 2, 2))
        self.text = nn.Sequential(nn.Linear(text_dim, dim), nn.GELU(approximate="tanh"), nn.Linear(dim, dim))
        self.time = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.time_proj = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.blocks = nn.ModuleList([Block(dim, heads, ffn) for _ in range(layers)])
        self.head_mod = nn.Parameter(torch.randn(1, 1, 2, dim) / dim ** 0.5)
        self.head_norm = nn.LayerNorm(dim, eps=1e-6, elementwise_affine=False)
        self.head = nn.Linear(dim, 4 * Z)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x, timestep, context):  # x [B,16,F,h,w]; timestep [B,F] (1000*sigma); context [B,L,Dt]
        B, C, Fr, h, w = x.shape
        hp, wp = h // 2, w // 2
        t = self.time(sinusoid(timestep, self.freq_dim))  # [B,F,D]
        e = self.time_proj(t).reshape(B, Fr, 6, self.dim)
        ctx = self.text(context)
        tok = self.patch(x).flatten(3).transpose(1, 2).transpose(2, 3)  # [B,F,P,D]
        rope = rope_tables(Fr, hp, wp, self.dim // self.heads, x.device)
        for blk in self.blocks:
            tok = blk(tok, e, ctx, rope)
        hm = (self.head_mod + t.unsqueeze(2)).unsqueeze(3)  # [B,F,2,1,D]
        y = self.head(self.head_norm(tok) * (1 + hm[:, :, 1]) + hm[:, :, 0])  # [B,F,P,64]
        # unpatchify: 64 = (pt=1, py=2, px=2, c=16), c fastest (Wan)
        y = y.reshape(B, Fr, hp, wp, 2, 2, C).permute(0, 6, 1, 2, 4, 3, 5)
        return y.reshape(B, C, Fr, h, w)
