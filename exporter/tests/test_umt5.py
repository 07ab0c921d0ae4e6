"""umT5-XXL text encoder: parity with Wan2.1's `T5Encoder` and Pusa's `WanTextEncoder`, ONNX parity, official layout.

Run on a machine with torch:  python3 -m pytest -q -s exporter/tests/test_umt5.py
Oracle tests need exporter/.oracles/{wan_t5.py,wan_video_text_encoder_pusa.py} (see oracles.py); skipped without."""
import gzip
import json
import os

import pytest

torch = pytest.importorskip("torch")

import oracles  # noqa: E402
import umt5  # noqa: E402
from umt5 import UMT5_XXL, official_key_shapes, relative_buckets, small_config  # noqa: E402
from export_text import (CHECKPOINT, TOKENIZER_DIR, build_encoder, copy_tokenizer, example_inputs,  # noqa: E402
                         load_checkpoint)

DEV = "cuda" if torch.cuda.is_available() else "cpu"
HAVE_WAN = oracles.available("wan_t5.py")
HAVE_PUSA = oracles.available("wan_video_text_encoder_pusa.py")
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures",
                       "umt5-mini-tokenizer")
LENGTHS = (512, 1, 37, 300)  # full, EOS only, short, long: every bucket (exact, log, saturated) is reached


def _oracle_kwargs(cfg):
    return dict(vocab=cfg.vocab, dim=cfg.dim, dim_attn=cfg.dim_attn, dim_ffn=cfg.dim_ffn, num_heads=cfg.num_heads,
                num_layers=cfg.num_layers, num_buckets=cfg.num_buckets, shared_pos=False, dropout=0.1)


def _reference(model, ids, mask):
    """The oracle's encoder output with the pipeline's zeroing: rows ≥ seq_len = count(mask > 0) set to 0 (Wan's
    `u[:v]` then zero padding; Pusa's `prompt_emb[:, v:] = 0`, here per sample)."""
    with torch.no_grad():
        out = model(ids, mask).clone()
    for i, v in enumerate(mask.gt(0).sum(dim=1).tolist()):
        out[i, v:] = 0
    return out


def _ours_and_state(cfg, dtype=torch.float32):
    ours = build_encoder(cfg, None, dtype=dtype, device=DEV)
    return ours, {k: v.clone() for k, v in ours.state_dict().items()}


def test_buckets_match_upstream_formula():
    # the bucket table of the real length, against upstream's own function (when the oracle is there) or a literal
    b = relative_buckets(torch.arange(512), 32, 128)
    assert b.shape == (512, 512) and int(b.min()) == 0 and int(b.max()) == 31
    assert b[0, :10].tolist() == [0, 17, 18, 19, 20, 21, 22, 23, 24, 24]
    assert b[10, :3].tolist() == [8, 8, 8] and b[0, 511] == 31 and b[511, 0] == 15
    if HAVE_WAN:
        rel = oracles.wan_t5_module().T5RelativeEmbedding(32, 4, bidirectional=True)
        pos = torch.arange(512)
        assert torch.equal(rel._relative_position_bucket(pos.unsqueeze(0) - pos.unsqueeze(1)), b)


@pytest.mark.parametrize("oracle", ["wan", "pusa"])
def test_matches_oracles_fp32(oracle):
    if not (HAVE_WAN if oracle == "wan" else HAVE_PUSA):
        pytest.skip("oracle file missing")
    cfg = small_config()
    ours, sd = _ours_and_state(cfg)
    if oracle == "wan":
        ref_model = oracles.wan_t5_module().T5Encoder(**_oracle_kwargs(cfg))
    else:
        ref_model = oracles.pusa_text_module().WanTextEncoder(**_oracle_kwargs(cfg))
    ref_model.load_state_dict(sd, strict=True)  # same names, same shapes: the official layout
    ref_model = ref_model.to(DEV).eval()
    ids, mask = example_inputs(cfg, LENGTHS, device=DEV)
    with torch.no_grad():
        got = ours(ids, mask)
    ref = _reference(ref_model, ids, mask)
    err = (got - ref).abs().max().item()
    print(f"{oracle}: max abs err {err:.3e} (|ref| max {ref.abs().max().item():.3f}), lengths {LENGTHS}")
    assert err < 1e-5
    for i, n in enumerate(LENGTHS):
        assert torch.all(got[i, n:] == 0) and not torch.signbit(got[i, n:]).any()
        assert got[i, :n].abs().amax(dim=-1).min() > 0  # real rows are not zeroed


@pytest.mark.skipif(not HAVE_WAN, reason="oracle file missing")
def test_fp16_clamp_matches_wan():
    """fp16 compute with forced overflow: a few embedding channels at 65000 and a loud attention output push the
    residual past 65504; upstream clamps (fp16_clamp) and so do we.  Without the clamp the output is not finite."""
    cfg = small_config()
    ours, sd = _ours_and_state(cfg, torch.float16)
    with torch.no_grad():
        emb = sd["token_embedding.weight"]
        emb[:, :4] = 65000.0 * torch.sign(emb[:, :4])
        sd["blocks.0.attn.o.weight"] *= 2000
        ours.load_state_dict(sd, strict=True)
    wan = oracles.wan_t5_module().T5Encoder(**_oracle_kwargs(cfg)).to(DEV, torch.float16).eval()
    wan.load_state_dict(sd, strict=True)
    ids, mask = example_inputs(cfg, (40, 512), device=DEV)
    with torch.no_grad():
        got = ours(ids, mask).float()
    ref = _reference(wan, ids, mask).float()
    assert torch.isfinite(ref).all() and torch.isfinite(got).all()
    err = (got - ref).abs().max().item()
    print(f"fp16 with overflow: max abs err vs Wan {err:.3e} (|ref| max {ref.abs().max().item():.3f})")
    assert err < 2e-2 * max(1.0, ref.abs().max().item())
    real = umt5.fp16_clamp
    try:
        umt5.fp16_clamp = lambda x: x
        with torch.no_grad():
            assert not torch.isfinite(ours(ids, mask)).all()  # the case really needs the clamp
    finally:
        umt5.fp16_clamp = real


def test_onnx_matches_torch(tmp_path):
    pytest.importorskip("onnxruntime")
    from export_text import verify
    res = verify(str(tmp_path))
    ops = res["ops"]
    print(json.dumps({k: res[k] for k in ("cases", "ops", "bytes", "dataBytes")}))
    cfg = small_config()
    # the bucket table is computed once in the graph (one Log) and each layer gathers only its own [buckets, heads]
    # table (no folded [heads, L, L] constants in the file)
    assert ops.get("Log", 0) == 1 and res["pos_gathers"] == cfg.num_layers
    assert ops.get("Softmax") == cfg.num_layers
    for c in res["cases"]:
        assert c["max_abs_err"] < 1e-4
        assert c["pad_rows_max_abs"] == 0.0
    assert (tmp_path / "text_encoder.onnx.data").exists()


def test_full_size_keys_and_shapes_match_oracle():
    ours = official_key_shapes(UMT5_XXL)
    assert len(ours) == 2 + 24 * 10
    assert ours["token_embedding.weight"] == (256384, 4096)
    assert ours["blocks.23.pos_embedding.embedding.weight"] == (32, 64)
    assert ours["blocks.0.ffn.gate.0.weight"] == (10240, 4096) and ours["blocks.0.ffn.fc2.weight"] == (4096, 10240)
    n = sum(torch.Size(s).numel() for s in ours.values())
    print(f"umT5-XXL encoder: {len(ours)} keys, {n / 1e9:.3f} B params")
    assert n == pytest.approx(5.68e9, rel=0.01)
    if HAVE_WAN:  # Wan's own factory with Wan's own config (shared_pos=False etc.), built on the meta device
        ref = oracles.wan_t5_module().umt5_xxl(encoder_only=True, return_tokenizer=False, device="meta")
        assert {k: tuple(v.shape) for k, v in ref.state_dict().items()} == ours
    if HAVE_PUSA:
        with torch.device("meta"):
            ref = oracles.pusa_text_module().WanTextEncoder()
        assert {k: tuple(v.shape) for k, v in ref.state_dict().items()} == ours


def test_official_pth_layout_loads(tmp_path):
    """A bf16 state dict saved with torch.save as `models_t5_umt5-xxl-enc-bf16.pth` loads through load_checkpoint +
    build_encoder (strict) and through Wan's own loading line; a missing key fails."""
    cfg = small_config()
    _, sd = _ours_and_state(cfg)
    torch.save({k: v.to("cpu", torch.bfloat16) for k, v in sd.items()}, tmp_path / CHECKPOINT)
    state = load_checkpoint(str(tmp_path))
    assert all(v.dtype == torch.bfloat16 for v in state.values())
    model = build_encoder(cfg, state, dtype=torch.float32, device=DEV)
    ids, mask = example_inputs(cfg, (20, 3), device=DEV)
    if HAVE_WAN:
        wan = oracles.wan_t5_module().T5Encoder(**_oracle_kwargs(cfg)).eval()
        wan.load_state_dict(torch.load(tmp_path / CHECKPOINT, map_location="cpu"))  # T5EncoderModel's line
        wan = wan.to(DEV, torch.float32)
        with torch.no_grad():
            assert (model(ids, mask) - _reference(wan, ids, mask)).abs().max().item() < 1e-5
    del state["blocks.1.pos_embedding.embedding.weight"]
    with pytest.raises(RuntimeError, match="pos_embedding"):
        build_encoder(cfg, state, dtype=torch.float32, device=DEV)


def test_copy_tokenizer(tmp_path):
    src = os.path.join(FIXTURE, "tokenizer.json.gz")  # gzipped: its nmt_nfkc charsmap is 320 kB of base64
    if not os.path.exists(src):
        pytest.skip("fixture missing")
    wan = tmp_path / "wan" / TOKENIZER_DIR
    wan.mkdir(parents=True)
    with gzip.open(src, "rb") as f:
        (wan / "tokenizer.json").write_bytes(f.read())
    info = copy_tokenizer(str(tmp_path / "wan"), str(tmp_path / "pack"))
    print(info)
    assert (info["padId"], info["eosId"], info["unkId"]) == (0, 1, 2)
    tok = json.load(open(tmp_path / "pack" / "tokenizer.json", encoding="utf-8"))
    assert tok["padding"] is None and tok["truncation"] is None
    assert info["vocabSize"] == max(len(tok["model"]["vocab"]), 1 + max(t["id"] for t in tok["added_tokens"]))
    with pytest.raises(FileNotFoundError):
        copy_tokenizer(str(tmp_path / "nowhere"), str(tmp_path / "pack2"))
    spm = os.path.join(FIXTURE, "spiece.model")  # not kept in the repository (248 kB); make_fixture.py writes it
    if os.path.exists(spm):  # the spiece.model-only folder is converted (transformers' T5 converter)
        pytest.importorskip("transformers")
        only = tmp_path / "wan2" / TOKENIZER_DIR
        only.mkdir(parents=True)
        (only / "spiece.model").write_bytes(open(spm, "rb").read())
        info2 = copy_tokenizer(str(tmp_path / "wan2"), str(tmp_path / "pack3"))
        assert (info2["padId"], info2["eosId"], info2["vocabSize"]) == (0, 1, info["vocabSize"])
        assert "converted" in info2["source"]
