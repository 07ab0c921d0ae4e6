"""The Wan2.1 VAE computed with time folded into the batch axis: every tensor is [T, C, H, W] and every convolution
is a 2-D one.  Same parameters as `wan_vae.WanVAE` (it reads them from that module), same numbers (tests prove it).

Why: onnxruntime's CUDA provider runs 5-D (NCDHW) convolutions through cuDNN's legacy algorithm search, where the
fp16 3-D kernels it finds are several times slower than the 2-D ones (docs/vae-notes.md has the measurements).  A
causal 3x3x3 convolution over frames is one 2-D convolution over the three time taps stacked as channels:

    y[t] = sum_k W[:, :, k] * x[t - 2 + k]      (x[<0] = 0)
         = Conv2d(concat_c(xp[t], xp[t+1], xp[t+2]), W')     with xp = [0, 0, x0, x1, ...],  W' = W as [Cout, 3C, kh, kw]

so the work and the numbers are those of the 3-D convolution (im2col over the same 27·C values), at the price of one
3x copy of its input.  The time resamplers become reshapes and strided slices on the batch axis.  All slices use
static bounds (negative ends), so one traced graph serves every T = 1 + 4k, the image case T = 1 included.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from wan_vae import AttentionBlock, CausalConv3d, Decoder3d, Encoder3d, Resample, ResidualBlock, RMSNorm, WanVAE


# False: the graph measured on 2026-12-04 (three Slices and a Concat per tap; RMSNorm as Pow, ReduceSum, Sqrt and an
# fp32 Div), kept so one GPU session can time both (vae_variants.py export --layouts chunked,chunked-v1)
FAST_TAPS_AND_NORM = True
# True: the norm's ReduceL2 reads the activations in their own dtype (no Cast of them to fp32; onnxruntime's CUDA
# reductions accumulate in fp32, and the norm of 384 channels stays below fp16's 65,504 while |x| < 3,300) — layout
# chunked-v3 of vae_variants.py, to be measured against chunked before it becomes the default
NORM_IN_MODEL_DTYPE = False


def rms_norm(norm: RMSNorm, x):
    """RMSNorm over the channel axis of [T,C,H,W]: the L2 norm in fp32 as in the 5-D module, then one multiply of the
    activations by its reciprocal in the model dtype.  Pow + ReduceSum + Sqrt + an fp32 Div over the activations + a
    Cast of them back cost about 39 ms of a 126 ms decoder chunk on the H200 (docs/vae-notes.md); here the only fp32
    pass over the activations is the Cast feeding one ReduceL2.  The reciprocal, not the norm, is rounded to the model
    dtype: it stays representable for norms far past fp16's 65504."""
    if not FAST_TAPS_AND_NORM:
        xf = x.float()
        n = xf.pow(2).sum(dim=1, keepdim=True).sqrt().clamp_min(1e-12)
        return (xf / n).to(x.dtype) * (norm.gamma.view(1, -1, 1, 1) * norm.scale)
    return x * _InvChannelNorm.apply(x) * (norm.gamma.view(1, -1, 1, 1) * norm.scale).to(x.dtype)


class _InvChannelNorm(torch.autograd.Function):
    """1 / max(‖x‖₂ over the channel axis, 1e-12) in fp32, rounded to x's dtype: [T,C,H,W] -> [T,1,H,W].  Exported as
    one fp32 `ReduceL2` (the tracer writes `linalg.vector_norm` as Abs, Pow, ReduceSum and Pow, or worse, depending
    on the torch version)."""

    @staticmethod
    def forward(ctx, x):
        return x.float().pow(2).sum(dim=1, keepdim=True).sqrt().clamp_min(1e-12).reciprocal().to(x.dtype)

    @staticmethod
    def symbolic(g, x):
        to = x.type().scalarType()
        onnx_to = {"Half": 10, "Float": 1, "BFloat16": 16}[to]
        if NORM_IN_MODEL_DTYPE:
            n = g.op("Cast", g.op("ReduceL2", x, axes_i=[1], keepdims_i=1), to_i=1)
        else:
            n = g.op("ReduceL2", g.op("Cast", x, to_i=1), axes_i=[1], keepdims_i=1)
        n = g.op("Max", n, g.op("Constant", value_t=torch.tensor(1e-12, dtype=torch.float32)))
        return g.op("Cast", g.op("Reciprocal", n), to_i=onnx_to)


def _two_zero_frames_before(x):
    # x[:1] twice, not x[:2]: a one-frame input (an image) must get two zero frames too
    zero = torch.zeros_like(x[:1])
    return torch.cat([zero, zero, x], dim=0)


def causal_conv(conv: CausalConv3d, x):
    """A CausalConv3d on [T,C,H,W]: kernel depth 1 is a plain Conv2d; depth 3 stacks the taps (t-2, t-1, t)."""
    kt, kh, kw = conv.weight.shape[2:]
    ph, pw = conv.pad[2], conv.pad[0]
    if kt == 1:
        return F.conv2d(x, conv.weight[:, :, 0], conv.bias, padding=(ph, pw))
    assert kt == 3 and conv.pad[4] == 2 and conv.stride[0] == 1, "only the VAE's causal 3-tap convolutions"
    xp = _two_zero_frames_before(x)
    taps = torch.cat([xp[:-2], xp[1:-1], xp[2:]], dim=1)
    w = conv.weight.permute(0, 2, 1, 3, 4).reshape(conv.weight.shape[0], 3 * conv.weight.shape[1], kh, kw)
    return F.conv2d(taps, w, conv.bias, padding=(ph, pw))


def residual(block: ResidualBlock, x):
    r = block.residual
    h = causal_conv(r[2], F.silu(rms_norm(r[0], x)))
    h = causal_conv(r[6], F.silu(rms_norm(r[3], h)))
    s = x if isinstance(block.shortcut, torch.nn.Identity) else causal_conv(block.shortcut, x)
    return h + s


def attention(block: AttentionBlock, x):
    """Per-frame single-head attention over the h·w positions ([T,C,H,W] is already one batch entry per frame)."""
    c = block.dim
    t, _, h, w = x.shape
    qkv = F.conv2d(rms_norm(block.norm, x), block.to_qkv.weight, block.to_qkv.bias)   # [T,3C,H,W]
    qkv = qkv.flatten(2).transpose(1, 2)                                                # [T,HW,3C]
    q, k, v = qkv[..., :c], qkv[..., c:2 * c], qkv[..., 2 * c:]
    a = torch.softmax((q * c ** -0.5) @ k.transpose(-1, -2), dim=-1) @ v               # [T,HW,C]
    a = a.transpose(1, 2).unflatten(2, (h, w))                                          # [T,C,H,W]
    return x + F.conv2d(a, block.proj.weight, block.proj.bias)


def resample(block: Resample, x):
    if block.mode == "upsample3d":
        x = _time_up(block, x)
    if block.mode.startswith("upsample"):
        x = F.interpolate(x, scale_factor=(2.0, 2.0), mode="nearest")
        return F.conv2d(x, block.resample[1].weight, block.resample[1].bias, padding=1)
    x = F.conv2d(F.pad(x, (0, 1, 0, 1)), block.resample[1].weight, block.resample[1].bias, stride=2)
    return _time_down(block, x) if block.mode == "downsample3d" else x


def _time_down(block: Resample, x):
    # windows (xp[2s], xp[2s+1], xp[2s+2]) of xp = [0,0,x0,...] as in the 5-D module: output 0 (window 0,0,x0) is
    # replaced by x0 itself, so the windows' conv result is used from 1 on; for T = 1 that slice is empty
    xp = _two_zero_frames_before(x)
    taps = torch.cat([xp[0:-2:2], xp[1:-1:2], xp[2::2]], dim=1)
    wt = block.time_conv.weight                                                          # [C,C,3,1,1]
    y = F.conv2d(taps, wt.permute(0, 2, 1, 3, 4).reshape(wt.shape[0], 3 * wt.shape[1], 1, 1), block.time_conv.bias)
    return torch.cat([x[:1], y[1:]], dim=0)


def _time_up(block: Resample, x):
    # as the 5-D module: frame 0 passes through; frames 1.. with zero history give two frames each (the conv's first
    # and second halves of channels), frame 0's two outputs dropped
    c = block.dim
    z = torch.cat([torch.zeros_like(x[:1]), x[1:]], dim=0)
    y = causal_conv(block.time_conv, z)                                                  # [F,2C,H,W]
    y = y.unflatten(1, (2, c)).flatten(0, 1)                                             # [2F,C,H,W]
    return torch.cat([x[:1], y[2:]], dim=0)


def _run(seq, x):
    for m in seq:
        if isinstance(m, ResidualBlock):
            x = residual(m, x)
        elif isinstance(m, AttentionBlock):
            x = attention(m, x)
        elif isinstance(m, Resample):
            x = resample(m, x)
        else:
            raise TypeError(type(m))
    return x


def _head(head, x):
    return causal_conv(head[2], F.silu(rms_norm(head[0], x)))


def encoder(enc: Encoder3d, x):
    return _head(enc.head, _run(enc.middle, _run(enc.downsamples, causal_conv(enc.conv1, x))))


def decoder(dec: Decoder3d, x):
    return _head(dec.head, _run(dec.upsamples, _run(dec.middle, causal_conv(dec.conv1, x))))


def encode(vae: WanVAE, video):
    """[1,3,T,H,W] -> raw μ [1,16,F,h,w], as `WanVAE.encode`."""
    x = video[0].transpose(0, 1)                                                         # [T,3,H,W]
    mu = causal_conv(vae.conv1, encoder(vae.encoder, x))[:, :vae.cfg.z_dim]
    return mu.transpose(0, 1).unsqueeze(0)


def decode(vae: WanVAE, z, clamp=True):
    """Raw latents [1,16,F,h,w] -> video [1,3,1+4(F-1),8h,8w], as `WanVAE.decode`."""
    x = causal_conv(vae.conv2, z[0].transpose(0, 1))
    x = decoder(vae.decoder, x).transpose(0, 1).unsqueeze(0)
    return x.clamp(-1, 1) if clamp else x


# ---------------------------------------------------------------------------------------------------- chunked decode
#
# The decoder is causal in time, so the clip can be decoded one latent frame at a time with the last two input frames
# of every causal convolution carried over — the reference's feature cache, and the same numbers as the whole clip.
# That bounds every tensor by one chunk (4 output frames) instead of 81: onnxruntime's CUDA kernels index with 32-bit
# integers and refuse tensors past 2^31 elements (an 81-frame 480p decode has 3.1e9 in its last stage), and the
# memory peak no longer grows with the clip's length.  export_vae.py runs the chunks in one ONNX Loop, so the caches
# never leave the GPU.


class _Caches:
    """The causal convolutions' carried frames, in the order the decoder meets them.  `given` None: the first chunk
    (zero history, and the time upsamplers pass latent frame 0 through undoubled)."""

    def __init__(self, given=None):
        self.given = None if given is None else list(given)
        self.out = []

    @property
    def first(self):
        return self.given is None

    def history(self, x):
        if self.given is None:
            zero = torch.zeros_like(x[:1])
            return torch.cat([zero, zero], dim=0)
        return self.given[len(self.out)]

    def keep(self, xp):
        self.out.append(xp[-2:])


def _taps(xp):
    """[T+2, C, H, W] (two frames of history first) -> [T, 3C, H, W], output t = (xp[t], xp[t+1], xp[t+2]) on channels,
    as one Gather on the time axis and a reshape.  Three Slices and a Concat copy the activations twice (onnxruntime
    materialises every Slice: 33 ms of a 126 ms chunk on the H200).  In a chunk graph every convolution sees a fixed
    frame count (1, 2 or 4: one latent frame per chunk), so the indices are constants."""
    return _Taps.apply(xp, int(xp.shape[0]) - 2, int(xp.shape[1]))


class _Taps(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp, t: int, c: int):
        idx = torch.tensor([i + k for i in range(t) for k in range(3)], dtype=torch.int64, device=xp.device)
        return xp.index_select(0, idx).reshape(t, 3 * c, *xp.shape[2:])

    @staticmethod
    def symbolic(g, xp, t: int, c: int):
        # written by hand: the tracer's own reshape either bakes the example's height and width or computes them
        # with a dozen shape ops per convolution, depending on the torch version; Reshape's 0 keeps them dynamic
        idx = g.op("Constant", value_t=torch.tensor([i + k for i in range(t) for k in range(3)], dtype=torch.int64))
        shape = g.op("Constant", value_t=torch.tensor([t, -1, 0, 0], dtype=torch.int64))
        return g.op("Reshape", g.op("Gather", xp, idx, axis_i=0), shape)


def _cconv(conv: CausalConv3d, x, st: _Caches):
    kt, kh, kw = conv.weight.shape[2:]
    ph, pw = conv.pad[2], conv.pad[0]
    if kt == 1:
        return F.conv2d(x, conv.weight[:, :, 0], conv.bias, padding=(ph, pw))
    xp = torch.cat([st.history(x), x], dim=0)
    st.keep(xp)
    taps = _taps(xp) if FAST_TAPS_AND_NORM else torch.cat([xp[:-2], xp[1:-1], xp[2:]], dim=1)
    w = conv.weight.permute(0, 2, 1, 3, 4).reshape(conv.weight.shape[0], 3 * conv.weight.shape[1], kh, kw)
    return F.conv2d(taps, w, conv.bias, padding=(ph, pw))


def _residual_c(block: ResidualBlock, x, st):
    r = block.residual
    h = _cconv(r[2], F.silu(rms_norm(r[0], x)), st)
    h = _cconv(r[6], F.silu(rms_norm(r[3], h)), st)
    s = x if isinstance(block.shortcut, torch.nn.Identity) else _cconv(block.shortcut, x, st)
    return h + s


def _resample_c(block: Resample, x, st):
    if block.mode == "upsample3d":
        c = block.dim
        if st.first:  # the clip's first chunk is latent frame 0 alone: it passes through, and is no one's history
            zero = torch.zeros_like(x[:1])
            st.keep(torch.cat([zero, zero], dim=0))
        else:  # later chunks: every latent frame gives two frames
            x = _cconv(block.time_conv, x, st).unflatten(1, (2, c)).flatten(0, 1)
    assert block.mode.startswith("upsample"), "the chunked path is the decoder's"
    x = F.interpolate(x, scale_factor=(2.0, 2.0), mode="nearest")
    return F.conv2d(x, block.resample[1].weight, block.resample[1].bias, padding=1)


def decode_chunk(vae: WanVAE, z, caches=None, clamp=True):
    """Raw latents of one chunk [1,16,Fc,h,w] and the previous chunk's caches (None for the clip's first chunk) ->
    (video [1,3,T,8h,8w], caches for the next chunk).  Chunks decoded in order and concatenated on time equal
    `decode` of the whole clip; the first chunk gives 1 + 4(Fc-1) frames, every later one 4·Fc."""
    # one frame in the first chunk: its time upsamplers would otherwise trace empty slices, which the exporter bakes
    # into constants of the traced spatial size
    assert caches is not None or z.shape[2] == 1, "the first chunk is latent frame 0 alone"
    st = _Caches(caches)
    dec = vae.decoder
    x = causal_conv(vae.conv2, z[0].transpose(0, 1))
    x = _cconv(dec.conv1, x, st)
    for m in dec.middle:
        x = _residual_c(m, x, st) if isinstance(m, ResidualBlock) else attention(m, x)
    for m in dec.upsamples:
        x = _residual_c(m, x, st) if isinstance(m, ResidualBlock) else _resample_c(m, x, st)
    x = _cconv(dec.head[2], F.silu(rms_norm(dec.head[0], x)), st)
    x = x.transpose(0, 1).unsqueeze(0)
    return (x.clamp(-1, 1) if clamp else x), st.out


def decode_chunked(vae: WanVAE, z, clamp=True):
    """`decode` one latent frame at a time through `decode_chunk` (what the exported Loop does)."""
    video, caches = decode_chunk(vae, z[:, :, :1], None, clamp)
    parts = [video]
    for f in range(1, z.shape[2]):
        video, caches = decode_chunk(vae, z[:, :, f:f + 1], caches, clamp)
        parts.append(video)
    return torch.cat(parts, dim=2)
