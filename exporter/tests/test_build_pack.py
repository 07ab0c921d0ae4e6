"""Verification (c) of issue 8, end to end: a folder in the official Wan2.1 layout (random weights, reduced configs,
official key names, sharded safetensors + index, PEFT Pusa LoRA, LightX2V LoRA) goes through the exporter's real
loading and merging code into a model pack; the pack's manifest and graphs are checked, and its DiT equals the torch
module built from the same files with the same merges."""
import json
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("safetensors")

import build_pack  # noqa: E402
import export_dit  # noqa: E402
import lora as lora_mod  # noqa: E402
import make_fake_wan  # noqa: E402
import small_configs  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "umt5-mini-tokenizer")


def tokenizer_file(tmp_path) -> str:
    import gzip
    src = os.path.join(FIXTURE, "tokenizer.json.gz")
    if not os.path.exists(src):
        pytest.skip("no umT5-style test tokenizer")
    dst = tmp_path / "tokenizer.json"
    dst.write_bytes(gzip.open(src).read())
    return str(dst)


@pytest.fixture(scope="module")
def fake_wan(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wan")
    make_fake_wan.main(["--out", str(tmp / "Wan2.1-T2V-14B"), "--tokenizer", tokenizer_file(tmp), "--small"])
    return str(tmp / "Wan2.1-T2V-14B")


@pytest.mark.parametrize("lightx2v", [False, True])
def test_pack_from_official_layout(fake_wan, tmp_path, lightx2v):
    out = str(tmp_path / "pack")
    args = ["--wan-dir", fake_wan, "--pusa-lora", os.path.join(fake_wan, "pusa_v1.pt"), "--alpha", "1.4", "--out", out,
            "--dtype", "fp32", "--small"]
    if lightx2v:
        args += ["--lightx2v", os.path.join(fake_wan, "lightx2v.safetensors")]
    build_pack.main(args)
    m = json.load(open(os.path.join(out, "manifest.json")))
    assert m["format"] == "pusa-model-pack" and m["formatVersion"] == 1
    assert m["defaults"]["steps"] == (4 if lightx2v else 30) and m["defaults"]["guidance"] == (1.0 if lightx2v else 3.0)
    assert m["defaults"]["negativePrompt"].startswith("Bright tones, overexposed")
    assert m["latent"]["mean"][7] == 1.5508 and m["latent"]["std"][8] == 3.2687
    assert m["text"] == {"tokenizer": "tokenizer.json", "maxLength": 32, "dim": small_configs.T5.dim, "padId": 0}
    assert "vaeTiling" not in m  # the chunked VAE (the default) decodes whole frames; only the 5-D graph tiles
    dit = m["files"]["dit"]
    assert [i["name"] for i in dit["inputs"]] == ["x", "timestep", "context"]
    assert dit["inputs"][0]["shape"] == ["batch", 16, "frames", "height", "width"]
    assert dit["inputs"][2]["shape"] == ["batch", 32, small_configs.T5.dim]
    assert m["files"]["textEncoder"]["inputs"][0] == {"name": "input_ids", "dtype": "int64", "shape": ["batch", 32]}
    for f in m["files"].values():
        assert os.path.getsize(os.path.join(out, f["path"])) == f["bytes"]
    assert len(m["preview"]["latentToRgb"]["weights"]) == 3

    # the exported DiT is the merged model: rebuild it from the same files with the same merges and compare
    state = export_dit.load_state(export_dit.shard_files(fake_wan))
    pusa = lora_mod.load_lora_file(os.path.join(fake_wan, "pusa_v1.pt"))
    l2v = lora_mod.load_lora_file(os.path.join(fake_wan, "lightx2v.safetensors")) if lightx2v else None
    ref = export_dit.build_model(small_configs.DIT, state, dtype=torch.bfloat16, pusa_lora=pusa, alpha=1.4,
                                 lightx2v=l2v).float()
    base = export_dit.build_model(small_configs.DIT, export_dit.load_state(export_dit.shard_files(fake_wan)),
                                  dtype=torch.bfloat16).float()
    inp = export_dit.example_inputs(small_configs.DIT, b=2, f=3, h=4, w=6, lc=32)
    with torch.no_grad():
        want = export_dit.PackDiT(ref)(*inp).numpy()
        unmerged = export_dit.PackDiT(base)(*inp).numpy()
    got = export_dit.ort_run(os.path.join(out, "dit.onnx"), inp)
    err = float(abs(got - want).max())
    lora_effect = float(abs(want - unmerged).max())
    print(f"pack DiT vs merged torch module: {err:.2e} (LoRA changed outputs by up to {lora_effect:.2e})")
    assert err < 1e-4
    assert lora_effect > 100 * err  # the merge is really in the exported graph


def test_quantized_copy_of_a_pack(fake_wan, tmp_path):
    """quantize_pack.py: an int4 DiT beside the source pack's fp16 one, the other graphs hard-linked (no second copy
    on disk), the manifest's DiT entry rewritten from the new graph, and the quantised DiT still close to the fp16."""
    import numpy as np
    import onnxruntime as ort
    import quantize_pack
    src, out = str(tmp_path / "pack"), str(tmp_path / "pack-int4")
    build_pack.main(["--wan-dir", fake_wan, "--out", src, "--dtype", "fp32", "--small"])
    quantize_pack.main(["--pack", src, "--out", out, "--quant", "int4"])
    a, b = (json.load(open(os.path.join(p, "manifest.json"))) for p in (src, out))
    assert b["name"] == a["name"] + "-int4" and b["files"]["dit"]["quant"] == "int4"
    assert b["files"]["dit"]["sha256"] != a["files"]["dit"]["sha256"]
    assert b["files"]["dit"]["inputs"] == a["files"]["dit"]["inputs"]
    for key in ("textEncoder", "vaeEncoder", "vaeDecoder"):
        assert b["files"][key] == a["files"][key]
        assert os.stat(os.path.join(src, a["files"][key]["path"])).st_ino == os.stat(
            os.path.join(out, b["files"][key]["path"])).st_ino
    assert "MatMulNBits" in {n.op_type for n in __import__("onnx").load(os.path.join(out, "dit.onnx"),
                                                                          load_external_data=False).graph.node}
    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal((1, 16, 2, 8, 8)).astype(np.float32),
             "timestep": np.full((1, 2), 500.0, np.float32),
             "context": rng.standard_normal((1, 32, small_configs.T5.dim)).astype(np.float32)}
    ref, q = (ort.InferenceSession(os.path.join(p, "dit.onnx")).run(None, feeds)[0] for p in (src, out))
    rel = float(np.linalg.norm(q - ref) / np.linalg.norm(ref))
    print("int4 vs fp32 DiT, relative L2", rel)
    assert rel < 0.2  # random weights have no outliers: 4-bit blocks of 128 keep the output's direction


def test_fp8_copy_of_a_pack(fake_wan, tmp_path):
    """quantize_pack.py --quant fp8: GemmFloat8 in the blocks, the manifest says `quant: fp8` (the worker refuses it
    on the CPU and before Ada), the inputs unchanged; its emulated twin (same codes, plain MatMuls) stays close to
    the source DiT on onnxruntime CPU — GemmFloat8 itself runs only on CUDA (gpu_benchmark.sh step 8)."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    import fp8
    import quantize_pack
    src, out = str(tmp_path / "pack"), str(tmp_path / "pack-fp8")
    build_pack.main(["--wan-dir", fake_wan, "--out", src, "--dtype", "fp32", "--small"])
    quantize_pack.main(["--pack", src, "--out", out, "--quant", "fp8"])
    a, b = (json.load(open(os.path.join(p, "manifest.json"))) for p in (src, out))
    assert b["files"]["dit"]["quant"] == "fp8" and b["files"]["dit"]["inputs"] == a["files"]["dit"]["inputs"]
    ops = {n.op_type for n in onnx.load(os.path.join(out, "dit.onnx"), load_external_data=False).graph.node}
    assert {"GemmFloat8", "QuantizeLinear"} <= ops
    emulated = str(tmp_path / "dit-emulated.onnx")
    facts = fp8.convert(os.path.join(src, "dit.onnx"), emulated, emulate=True)
    assert facts["converted"] == 10 * small_configs.DIT.num_layers
    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal((1, 16, 2, 8, 8)).astype(np.float32),
             "timestep": np.full((1, 2), 500.0, np.float32),
             "context": rng.standard_normal((1, 32, small_configs.T5.dim)).astype(np.float32)}
    ref, q = (ort.InferenceSession(p).run(None, feeds)[0] for p in (os.path.join(src, "dit.onnx"), emulated))
    rel = float(np.linalg.norm(q - ref) / np.linalg.norm(ref))
    print("fp8 (emulated) vs fp32 DiT, relative L2", rel)
    assert 1e-4 < rel < 0.2
