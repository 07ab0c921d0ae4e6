"""Run on a machine with torch (the GPU machine, or any dev box):  python3 -m pytest -q exporter/tests
Oracle tests need exporter/.oracles/ (see oracles.py); they are skipped without it."""
import json
import os

import pytest

torch = pytest.importorskip("torch")

import oracles  # noqa: E402
from wan_dit import WAN21_T2V_14B, WanDiT, official_key_shapes, rope_axis_dims, small_config  # noqa: E402
from export_dit import build_model, example_inputs, load_state, shard_files, randomize_  # noqa: E402

DEV = "cuda" if torch.cuda.is_available() else "cpu"


def test_official_key_names_and_shapes():
    ks = official_key_shapes(WAN21_T2V_14B)
    assert len(ks) == 15 + 40 * 27
    expect = {
        "patch_embedding.weight": (5120, 16, 1, 2, 2), "text_embedding.0.weight": (5120, 4096),
        "text_embedding.2.weight": (5120, 5120), "time_embedding.0.weight": (5120, 256),
        "time_embedding.2.bias": (5120,), "time_projection.1.weight": (30720, 5120), "head.head.weight": (64, 5120),
        "head.modulation": (1, 2, 5120), "blocks.0.modulation": (1, 6, 5120), "blocks.39.ffn.0.weight": (13824, 5120),
        "blocks.39.ffn.2.weight": (5120, 13824), "blocks.7.self_attn.norm_q.weight": (5120,),
        "blocks.7.cross_attn.norm_k.weight": (5120,), "blocks.7.norm3.weight": (5120,), "blocks.7.norm3.bias": (5120,),
        "blocks.7.cross_attn.o.bias": (5120,),
    }
    for k, s in expect.items():
        assert ks[k] == s, k
    assert not any(k.startswith("rope") for k in ks)
    assert sum(torch.Size(s).numel() for s in ks.values()) == pytest.approx(14.29e9, rel=0.01)
    assert rope_axis_dims(128) == (44, 42, 42)


def _pair(cfg, dtype=torch.float32):
    ours = build_model(cfg, None, dtype=dtype, device=DEV)
    return ours, {k: v.clone() for k, v in ours.state_dict().items()}


@pytest.mark.skipif(not oracles.available("wan_video_pusa.py"), reason="no Pusa oracle source")
def test_matches_pusa_module_per_frame_timesteps():
    cfg = small_config()
    ours, sd = _pair(cfg)
    P = oracles.pusa_module()
    ref = P.WanModelPusa(dim=cfg.dim, in_dim=cfg.in_dim, ffn_dim=cfg.ffn_dim, out_dim=cfg.out_dim, text_dim=cfg.text_dim,
                         freq_dim=cfg.freq_dim, eps=cfg.eps, patch_size=cfg.patch_size, num_heads=cfg.num_heads,
                         num_layers=cfg.num_layers, has_image_input=False).to(DEV)
    ref.load_state_dict(sd, strict=True)  # same names as the official checkpoint
    ref.eval()
    for shape in [dict(b=2, f=3, h=8, w=12), dict(b=1, f=4, h=6, w=10, seed=5)]:
        x, ts, ctx = (t.to(DEV) for t in example_inputs(cfg, **shape))
        with torch.no_grad():
            a = ours(x, ts, ctx)
            b = ref(x, ts, ctx)
        err = (a - b).abs().max().item()
        print(f"pusa oracle {shape}: max abs err {err:.3e}, |ref| max {b.abs().max().item():.3f}")
        assert err < 1e-4


@pytest.mark.skipif(not oracles.available("wan_model.py"), reason="no Wan2.1 oracle source")
def test_matches_wan21_module_uniform_timestep():
    cfg = small_config()
    ours, sd = _pair(cfg)
    W = oracles.wan_module()
    lc = 16
    ref = W.WanModel(model_type="t2v", patch_size=cfg.patch_size, text_len=lc, in_dim=cfg.in_dim, dim=cfg.dim,
                     ffn_dim=cfg.ffn_dim, freq_dim=cfg.freq_dim, text_dim=cfg.text_dim, out_dim=cfg.out_dim,
                     num_heads=cfg.num_heads, num_layers=cfg.num_layers, qk_norm=True, cross_attn_norm=True,
                     eps=cfg.eps).to(DEV)
    ref.load_state_dict(sd, strict=True)
    ref.eval()
    x, ts, ctx = (t.to(DEV) for t in example_inputs(cfg, b=2, f=3, h=8, w=12, lc=lc, mixed=False))
    seq_len = 3 * 4 * 6
    with torch.no_grad():
        a = ours(x, ts, ctx)
        b = torch.stack(ref([u for u in x], ts[:, 0], [c for c in ctx], seq_len))
    err = (a - b).abs().max().item()
    print(f"wan2.1 oracle: max abs err {err:.3e}")
    assert err < 1e-4


def test_per_frame_timestep_is_per_frame():
    """Changing frame j's timestep changes the output everywhere (attention mixes frames), but the modulation path
    is per frame: a uniform vector equals the scalar path, and frames' t enter only their own tokens' modulation."""
    cfg = small_config(num_layers=0)  # head only: output frame f depends on timestep[f] alone
    m = build_model(cfg, None, dtype=torch.float32)
    x, ts, ctx = example_inputs(cfg, b=1, f=3, h=4, w=4)
    with torch.no_grad():
        a = m(x, ts, ctx)
        ts2 = ts.clone()
        ts2[0, 1] += 123
        b = m(x, ts2, ctx)
    d = (a - b).abs().amax(dim=(0, 1, 3, 4))
    assert d[0] == 0 and d[2] == 0 and d[1] > 0


def test_official_style_shards_load_end_to_end(tmp_path):
    pytest.importorskip("safetensors")
    from safetensors.torch import save_file
    cfg = small_config()
    m = WanDiT(cfg)
    randomize_(m)
    sd = {k: v.to(torch.bfloat16).contiguous() for k, v in m.state_dict().items()}
    keys = sorted(sd)
    half = len(keys) // 2
    names = ["diffusion_pytorch_model-00001-of-00002.safetensors", "diffusion_pytorch_model-00002-of-00002.safetensors"]
    save_file({k: sd[k] for k in keys[:half]}, str(tmp_path / names[0]))
    save_file({k: sd[k] for k in keys[half:]}, str(tmp_path / names[1]))
    wm = {k: names[0] if i < half else names[1] for i, k in enumerate(keys)}
    (tmp_path / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps({"weight_map": wm}))
    state = load_state(shard_files(str(tmp_path)))
    loaded = build_model(cfg, state, dtype=torch.bfloat16)
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, sd[k]), k
    # a missing key must fail (strict)
    state.pop("blocks.1.norm3.bias")
    with pytest.raises(RuntimeError):
        build_model(cfg, state, dtype=torch.bfloat16)
