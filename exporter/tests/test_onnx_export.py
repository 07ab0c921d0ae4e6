import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from export_dit import verify_small  # noqa: E402


def test_small_config_onnx_matches_torch(tmp_path):
    res = verify_small(str(tmp_path), dtype="fp32")
    ops = res["ops"]
    assert ops.get("com.microsoft.MultiHeadAttention") == 2 * 2  # self + cross per block
    assert ops.get("SimplifiedLayerNormalization") == 4 * 2
    assert ops.get("com.microsoft.RotaryEmbedding") == 2 * 2  # q and k of each self-attention, fused
    assert ops.get("com.microsoft.FastGelu") == 2  # the FFN's bias + GELU-tanh, fused
    assert not any(o in ops for o in ("Softmax",))  # attention is fused, never decomposed
    for c in res["cases"]:
        print(c)
        assert c["max_abs_err"] < 1e-4
    assert (tmp_path / "dit.onnx.data").exists()
