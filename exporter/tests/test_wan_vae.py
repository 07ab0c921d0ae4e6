"""Wan VAE (spec §B.2): whole-clip module vs the unmodified upstream chunked modules, ONNX parity, official key set.
Run where torch exists:  python3 -m pytest -q -s exporter/tests/test_wan_vae.py  (oracle tests need exporter/.oracles/)."""
import os

import pytest

torch = pytest.importorskip("torch")

import oracles  # noqa: E402
from wan_vae import WAN21_VAE, WanVAE, official_key_shapes, randomize_, small_vae_config  # noqa: E402
from export_vae import ALLOWED_OPS, LAYOUTS, build_vae, export_vae, load_vae_state, verify  # noqa: E402
import wan_vae_frames  # noqa: E402

DEV = "cuda" if torch.cuda.is_available() else "cpu"
torch.backends.cudnn.allow_tf32 = False  # fp32 comparisons: TF32 convs would differ by ~1e-3 between two code paths
torch.backends.cuda.matmul.allow_tf32 = False

HAVE_WAN = oracles.available("wan_vae.py")
HAVE_PUSA = oracles.available("wan_video_vae_pusa.py")
NO_SCALE = [torch.zeros(16), torch.ones(16)]  # upstream encode/decode take (mean, 1/std): identity here


def _oracle(kind, cfg):
    kw = dict(dim=cfg.dim, z_dim=cfg.z_dim, dim_mult=list(cfg.dim_mult), num_res_blocks=cfg.num_res_blocks,
              attn_scales=[], temperal_downsample=list(cfg.temporal_downsample), dropout=0.0)
    return oracles.wan_vae_module().WanVAE_(**kw) if kind == "wan" else oracles.pusa_vae_module().VideoVAE_(**kw)


def _pair(kind):
    cfg = small_vae_config()
    ours = randomize_(WanVAE(cfg)).to(DEV).eval()
    ref = _oracle(kind, cfg)
    ref.load_state_dict(ours.state_dict(), strict=True)  # same names and shapes as the official file
    return ours, ref.to(DEV).eval()


@pytest.mark.parametrize("kind", [pytest.param("wan", marks=pytest.mark.skipif(not HAVE_WAN, reason="no Wan2.1 oracle")),
                                  pytest.param("pusa", marks=pytest.mark.skipif(not HAVE_PUSA, reason="no Pusa oracle"))])
def test_whole_clip_equals_chunked_reference(kind):
    """Upstream encode = frame 0 then chunks of 4 with a feature cache; decode = one latent frame at a time (+ the
    'Rep' marker for time upsampling).  Ours runs each over the whole clip.  Same state dict, strict load in both."""
    ours, ref = _pair(kind)
    g = torch.Generator().manual_seed(3)
    worst = 0.0
    with torch.no_grad():
        for t, h, w in [(1, 32, 48), (5, 32, 48), (9, 24, 40), (17, 16, 16)]:
            x = (torch.rand(1, 3, t, h, w, generator=g) * 2 - 1).to(DEV)
            a = ours.encode(x)
            b = ref.encode(x, [s.to(DEV) for s in NO_SCALE])
            assert a.shape == b.shape == (1, 16, 1 + (t - 1) // 4, h // 8, w // 8)
            err = (a - b).abs().max().item()
            worst = max(worst, err)
            print(f"{kind} encode T={t} {h}x{w}: max abs err {err:.3e} (|ref| max {b.abs().max().item():.2f})")
            assert err < 1e-4
        for f, h, w in [(1, 4, 6), (2, 4, 6), (3, 3, 5), (5, 4, 4), (17, 2, 3)]:
            z = (torch.randn(1, 16, f, h, w, generator=g) * 2).to(DEV)
            a = ours.decode(z, clamp=False)
            b = ref.decode(z, [s.to(DEV) for s in NO_SCALE])
            assert a.shape == b.shape == (1, 3, 1 + 4 * (f - 1), 8 * h, 8 * w)
            err = (a - b).abs().max().item()
            worst = max(worst, err)
            frac = (b.abs() >= 1).float().mean().item()
            print(f"{kind} decode F={f} {h}x{w}: max abs err {err:.3e} (|ref| max {b.abs().max().item():.2f}, "
                  f"{100 * frac:.1f}% beyond the clamp)")
            assert err < 1e-4
            assert (ours.decode(z) - a.clamp(-1, 1)).abs().max().item() < 1e-6
    print(f"{kind}: worst max abs err {worst:.3e}")


def test_decoder_causality():
    """Contract (docs/model-pack.md): decoded frame 0 depends on latent 0 only; latent k's 4 frames on latents <= k
    (the whole-clip form must not leak the future)."""
    cfg = small_vae_config()
    m = randomize_(WanVAE(cfg)).to(DEV).eval()
    z = torch.randn(1, 16, 4, 3, 3, device=DEV)
    z2 = z.clone()
    z2[:, :, 2:] += 1.0
    with torch.no_grad():
        a, b = m.decode(z, clamp=False), m.decode(z2, clamp=False)
    assert (a[:, :, :5] - b[:, :, :5]).abs().max().item() < 1e-5  # frames of latents 0, 1 (tolerance: conv algos)
    assert (a[:, :, 5:9] - b[:, :, 5:9]).abs().max().item() > 1e-2
    with torch.no_grad():
        one = m.decode(z[:, :, :1], clamp=False)
    assert (one - a[:, :, :1]).abs().max().item() < 1e-5  # latent 0 alone = frame 0 of the clip


@pytest.mark.skipif(not HAVE_WAN, reason="no Wan2.1 oracle")
def test_full_size_key_set_matches_official_layout():
    ours = official_key_shapes(WAN21_VAE)
    with torch.device("meta"):
        ref = oracles.wan_vae_module().WanVAE_(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                                                attn_scales=[], temperal_downsample=[False, True, True], dropout=0.0)
    want = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert ours == want
    n = sum(torch.Size(s).numel() for s in ours.values())
    print(f"full-size VAE: {len(ours)} keys, {n / 1e6:.2f} M params")
    for k, s in {"encoder.conv1.weight": (96, 3, 3, 3, 3), "conv1.weight": (32, 32, 1, 1, 1),
                 "conv2.weight": (16, 16, 1, 1, 1), "encoder.head.2.weight": (32, 384, 3, 3, 3),
                 "decoder.conv1.weight": (384, 16, 3, 3, 3), "decoder.head.2.weight": (3, 96, 3, 3, 3),
                 "encoder.middle.1.norm.gamma": (384, 1, 1), "decoder.upsamples.3.time_conv.weight": (768, 384, 3, 1, 1),
                 "encoder.downsamples.5.time_conv.weight": (192, 192, 3, 1, 1)}.items():
        assert ours[k] == s, k


def test_official_layout_pth_loads_through_exporter(tmp_path):
    """A state dict saved like Wan2.1_VAE.pth (bare dict, torch.save) goes through load_vae_state/build_vae with a
    strict load (small width; the layout is the same).  Uses the upstream module's own state dict when available."""
    cfg = small_vae_config()
    src = _oracle("wan", cfg) if HAVE_WAN else WanVAE(cfg)
    sd = {k: torch.randn_like(v) * 0.1 for k, v in src.state_dict().items()}
    p = tmp_path / "Wan2.1_VAE.pth"
    torch.save(sd, p)
    m = build_vae(load_vae_state(str(p)))
    assert m.cfg == cfg
    for k, v in m.state_dict().items():
        assert torch.equal(v, sd[k]), k
    torch.save({"model_state": {"model." + k: v for k, v in sd.items()}}, tmp_path / "wrapped.pth")
    assert set(load_vae_state(str(tmp_path / "wrapped.pth"))) == set(sd)
    sd.pop("conv2.bias")
    torch.save(sd, p)
    with pytest.raises(RuntimeError):
        build_vae(load_vae_state(str(p)))


@pytest.mark.parametrize("cfg", [small_vae_config(), small_vae_config(dim=32, z_dim=16)], ids=["dim16", "dim32"])
def test_frames_layout_equals_5d_module(cfg):
    """Time folded into the batch axis, 2-D convolutions only (wan_vae_frames.py): the same numbers as the 5-D
    module, same parameters, for the image case T = 1, odd clip lengths and one latent frame."""
    m = randomize_(WanVAE(cfg), seed=3).to(DEV).eval()
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for t, h, w in [(1, 16, 24), (5, 16, 24), (9, 32, 16), (17, 8, 8)]:
            x = (torch.rand(1, 3, t, h, w, generator=g) * 2 - 1).to(DEV)
            want, got = m.encode(x), wan_vae_frames.encode(m, x)
            assert got.shape == want.shape
            assert (got - want).abs().max().item() < 1e-5 * max(1.0, want.abs().max().item()), ("encode", t, h, w)
        for f, h, w in [(1, 4, 6), (2, 4, 6), (3, 6, 4), (6, 2, 2)]:
            z = (torch.randn(1, cfg.z_dim, f, h, w, generator=g) * 2).to(DEV)
            want, got = m.decode(z, clamp=False), wan_vae_frames.decode(m, z, clamp=False)
            assert got.shape == want.shape
            assert (got - want).abs().max().item() < 1e-5 * max(1.0, want.abs().max().item()), ("decode", f, h, w)


def test_chunked_decode_equals_whole_clip():
    """One latent frame at a time with the causal caches carried (what the exported Loop runs) = the whole clip."""
    cfg = small_vae_config()
    m = randomize_(WanVAE(cfg), seed=4).to(DEV).eval()
    g = torch.Generator().manual_seed(12)
    with torch.no_grad():
        for f, h, w in [(1, 4, 6), (2, 4, 6), (3, 6, 4), (6, 2, 2)]:
            z = (torch.randn(1, cfg.z_dim, f, h, w, generator=g) * 2).to(DEV)
            want, got = m.decode(z, clamp=False), wan_vae_frames.decode_chunked(m, z, clamp=False)
            assert got.shape == want.shape
            assert (got - want).abs().max().item() < 1e-5 * max(1.0, want.abs().max().item()), (f, h, w)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_onnx_matches_torch_dynamic_shapes(tmp_path, layout):
    """One exported fp32 graph each (traced at T=5 / 2 latent frames), run by onnxruntime CPU at T = 1 (image), 5,
    9, 17, 81 and latent frames 1, 2, 3, 5, 21, several sizes: dynamic axes are really dynamic."""
    pytest.importorskip("onnxruntime")
    res = verify(str(tmp_path), dtype="fp32", layout=layout)
    for part in ("encoder", "decoder"):
        f = res[part]
        print(part, f["bytes"], f["ops"], f["inputs"], f["outputs"])
        assert not f["unexpected_ops"], f["unexpected_ops"]
        assert "Softmax" in f["ops"] and "Conv" in f["ops"]
        if layout != "ncdhw":  # every convolution 2-D: the point of the layout
            assert res[part]["conv_ranks"] == [4], res[part]["conv_ranks"]
    assert res["encoder"]["inputs"] == [("video", [1, 3, "T", "height", "width"])]
    assert res["encoder"]["outputs"] == [("latent_mean", [1, 16, "frames", "lh", "lw"])]
    assert res["decoder"]["inputs"] == [("latents", [1, 16, "frames", "lh", "lw"])]
    assert res["decoder"]["outputs"] == [("video", [1, 3, "T", "height", "width"])]
    for c in res["cases"]:
        tol = 1e-4 * max(1.0, c["ref_max_abs"])
        assert c["max_abs_err"] < tol, c
    assert not (tmp_path / "vae_encoder.onnx.data").exists()


def test_export_vae_entry_point(tmp_path):
    """The pack builder's call: export_vae(state_dict, out_dir, dtype) -> facts."""
    pytest.importorskip("onnx")
    cfg = small_vae_config()
    sd = randomize_(WanVAE(cfg)).state_dict()
    facts = export_vae(sd, str(tmp_path), "fp32")
    assert facts["config"]["dim"] == cfg.dim and facts["dtype"] == "fp32" and not facts["random_weights"]
    assert os.path.exists(tmp_path / "vae_encoder.onnx") and os.path.exists(tmp_path / "vae_decoder.onnx")
    assert set(facts["encoder"]["ops"]) <= ALLOWED_OPS and set(facts["decoder"]["ops"]) <= ALLOWED_OPS


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 tracing wants CUDA half kernels")
@pytest.mark.parametrize("layout", ["chunked", "ncdhw"])
def test_fp16_graph_close_to_fp32_torch(tmp_path, layout):
    """The pack's fp16 graphs (compute fp16 inside, f32 I/O) on onnxruntime CPU vs the fp32 torch module."""
    pytest.importorskip("onnxruntime")
    res = verify(str(tmp_path), dtype="fp16", enc_shapes=[(1, 32, 48), (9, 16, 24)], dec_shapes=[(1, 4, 6), (5, 4, 4)],
                 layout=layout)
    for c in res["cases"]:
        print("fp16", c)
        assert c["max_abs_err"] < 1e-2 * max(1.0, c["ref_max_abs"]), c


def test_chunk_step_graph_gathers_taps_and_reduces_l2():
    """The loop body as measured fast (docs/vae-notes.md): each 3-tap convolution reads its taps through one Gather
    (no Slice/Concat copies of the activations), each RMSNorm is one fp32 ReduceL2 (no Pow, no Div), and the step
    graph with the 2026-12-04 form (FAST_TAPS_AND_NORM off) still traces, for timing both on one GPU."""
    pytest.importorskip("onnx")
    from vae_chunked_graph import trace_chunks

    vae = randomize_(WanVAE(small_vae_config()), seed=2).eval()
    taps3 = sum(1 for m in vae.decoder.modules() if getattr(m, "weight", None) is not None and m.weight.ndim == 5
                and m.weight.shape[2] == 3)
    _, step, _ = trace_chunks(vae, "cpu", 17)
    ops = [n.op_type for n in step.graph.node]
    assert ops.count("Gather") >= taps3 and "Pow" not in ops and "Div" not in ops
    assert ops.count("ReduceL2") == sum(1 for m in vae.decoder.modules() if type(m).__name__ == "RMSNorm")
    try:
        wan_vae_frames.FAST_TAPS_AND_NORM = False
        _, legacy, _ = trace_chunks(vae, "cpu", 17)
    finally:
        wan_vae_frames.FAST_TAPS_AND_NORM = True
    legacy_ops = [n.op_type for n in legacy.graph.node]
    assert "ReduceL2" not in legacy_ops and legacy_ops.count("Concat") >= ops.count("Concat") + taps3
    assert legacy_ops.count("Slice") >= ops.count("Slice") + 3 * taps3


def test_norm_in_model_dtype_variant_traces_without_the_fp32_cast():
    """chunked-v3 (NORM_IN_MODEL_DTYPE): ReduceL2 reads the activations directly — one Cast per norm fewer over them."""
    pytest.importorskip("onnx")
    from vae_chunked_graph import trace_chunks

    vae = randomize_(WanVAE(small_vae_config()), seed=2).eval()
    _, step, _ = trace_chunks(vae, "cpu", 17)
    try:
        wan_vae_frames.NORM_IN_MODEL_DTYPE = True
        _, v3, _ = trace_chunks(vae, "cpu", 17)
    finally:
        wan_vae_frames.NORM_IN_MODEL_DTYPE = False
    producers = {o: n for n in v3.graph.node for o in n.output}
    reduce_inputs = [producers.get(n.input[0]) for n in v3.graph.node if n.op_type == "ReduceL2"]
    assert reduce_inputs and all(p is None or p.op_type != "Cast" for p in reduce_inputs)
    assert [n.op_type for n in v3.graph.node].count("ReduceL2") == [n.op_type for n in step.graph.node].count("ReduceL2")
