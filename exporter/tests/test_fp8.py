"""exporter/fp8.py: e4m3 numbers, and the DiT rewrite on a small graph shaped like the exporter's (block MatMuls named
`/model/blocks.N/...`, q and k reading one tensor, an FFN, a head that stays in the model dtype).  The emulated graph
runs on onnxruntime CPU; the GemmFloat8 graph only on a CUDA GPU of compute capability >= 8.9 (the GPU benchmark's
step 8 times and checks it there)."""
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import fp8  # noqa: E402


def test_e4m3_codes_round_trip_and_round_to_nearest_even():
    codes = np.arange(256, dtype=np.uint8)
    finite = codes[(codes & 0x7F) != 0x7F]
    values = fp8.e4m3_decode(finite)
    assert values.max() == 448 and values.min() == -448 and fp8.e4m3_decode(np.array([8]))[0] == 2.0 ** -6
    back = fp8._e4m3_encode_numpy(values)
    # every finite code comes back, except -0 which encodes as +0
    assert np.array_equal(back[values != 0], finite[values != 0])
    # halfway between 1.0 (code 0x38, even) and 1.125 (0x39): to even; past 448: saturates; tiny: zero
    assert fp8._e4m3_encode_numpy(np.array([1.0625, 1.1875, 500.0, -1e6, 1e-9]))[:5].tolist() == [
        0x38, 0x3A, 0x7E, 0xFE, 0]


def test_numpy_encoder_agrees_with_torch_float8():
    torch = pytest.importorskip("torch")
    if not hasattr(torch, "float8_e4m3fn"):
        pytest.skip("this torch has no float8")
    x = (np.random.default_rng(0).standard_normal(20000) * np.exp(np.random.default_rng(1).uniform(-8, 6, 20000)))
    x = x.astype(np.float32)
    # the same values (torch keeps the sign of a value that rounds to zero: -0 is 0x80, ours 0x00)
    assert np.array_equal(fp8.e4m3_decode(fp8._e4m3_encode_numpy(x)), fp8.e4m3_decode(fp8.e4m3_encode(x)))


def test_per_channel_weight_scales_bound_the_codes():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((64, 32)).astype(np.float32)
    w[:, 3] *= 50  # an outlier output channel, as trained checkpoints have
    codes, scale = fp8.quantize_weight(w, per_channel=True)
    assert scale.shape == (32,) and np.isclose(np.abs(fp8.e4m3_decode(codes)).max(axis=0), 448).all()
    rel = np.linalg.norm(fp8.e4m3_decode(codes) * scale - w) / np.linalg.norm(w)
    codes_t, scale_t = fp8.quantize_weight(w, per_channel=False)
    rel_t = np.linalg.norm(fp8.e4m3_decode(codes_t) * scale_t - w) / np.linalg.norm(w)
    assert 1e-3 < rel < 0.05 and rel < rel_t  # one scale per tensor loses the small channels to the outlier


def _graph(path: str, k=64, f=96, heavy=True):
    """x [B, L, k] -> q, k (same input) -> add -> FFN up/relu/down -> head: the exporter's node names."""
    rng = np.random.default_rng(3)

    def w(shape, name):
        a = (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32)  # float32 under numpy 2 too
        if heavy:
            a[:, ::17] *= 12  # heavy tails: a few output channels far larger than the rest
        return numpy_helper.from_array(a, name)

    inits = [w((k, k), "wq"), w((k, k), "wk"), w((k, f), "wup"), w((f, k), "wdown"), w((k, 16), "whead")]
    nodes = [helper.make_node("MatMul", ["x", "wq"], ["q"], name="/model/blocks.0/self_attn/q/MatMul"),
             helper.make_node("MatMul", ["x", "wk"], ["kk"], name="/model/blocks.0/self_attn/k/MatMul"),
             helper.make_node("Add", ["q", "kk"], ["s"], name="/model/blocks.0/Add"),
             helper.make_node("MatMul", ["s", "wup"], ["u"], name="/model/blocks.0/MatMul"),
             helper.make_node("Relu", ["u"], ["r"], name="/model/blocks.0/Relu"),
             helper.make_node("MatMul", ["r", "wdown"], ["d"], name="/model/blocks.0/ffn.2/MatMul"),
             helper.make_node("MatMul", ["d", "whead"], ["y"], name="/model/head/head/MatMul")]
    g = helper.make_graph(nodes, "mini", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", "L", k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", "L", 16])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def _run(path, x):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(["y"], {"x": x})[0]


@pytest.mark.parametrize("per_channel,sample", [(True, 1), (False, 1), (False, 4)])
def test_emulated_rewrite_matches_fp8_storage_and_keeps_the_head(tmp_path, per_channel, sample):
    src, dst = str(tmp_path / "mini.onnx"), str(tmp_path / "mini-fp8.onnx")
    _graph(src)
    facts = fp8.convert(src, dst, per_channel=per_channel, emulate=True, act_sample=sample)
    assert facts["converted"] == 4 and facts["activation_quantisers"] == 3  # q and k share x's quantisation
    m = onnx.load(dst)
    assert m.ir_version == 10 and [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [19]
    ops = [n.op_type for n in m.graph.node]
    assert ops.count("QuantizeLinear") == 3 and ops.count("MatMul") == 5  # 4 emulated + the untouched head
    assert ops.count("Slice") == (3 if sample > 1 else 0)  # the token sample feeding each scale
    x = np.random.default_rng(4).standard_normal((2, 10, 64)).astype(np.float32)
    x[:, :, 5] *= 30  # an activation outlier channel
    ref, got = _run(src, x), _run(dst, x)
    assert got.shape == ref.shape == (2, 10, 16)
    rel = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
    assert 1e-3 < rel < 0.2, rel  # quantised for real, and still the same function


def test_gemm_float8_graph_structure(tmp_path):
    """The GPU form: GemmFloat8 (transA=0, transB=1, five inputs, model-dtype output) on e4m3 weights stored
    [N, K]; per-channel scales as one Mul after the reshape back; no weight left in the model dtype but the head's."""
    src, dst = str(tmp_path / "mini.onnx"), str(tmp_path / "mini-fp8.onnx")
    _graph(src)
    fp8.convert(src, dst, per_channel=True)
    m = onnx.load(dst)
    gemms = [n for n in m.graph.node if n.op_type == "GemmFloat8"]
    assert len(gemms) == 4 and all(n.domain == "com.microsoft" and len(n.input) == 5 and n.input[2] == ""
                                   for n in gemms)
    attrs = {a.name: helper.get_attribute_value(a) for a in gemms[0].attribute}
    assert attrs["transA"] == 0 and attrs["transB"] == 1 and attrs["dtype"] == TensorProto.FLOAT
    inits = {t.name: t for t in m.graph.initializer}
    up = inits[gemms[2].input[1]]
    assert up.data_type == fp8.FLOAT8E4M3FN and list(up.dims) == [96, 64]
    assert "wq" not in inits and "whead" in inits
    assert sum(n.op_type == "Mul" for n in m.graph.node) == 4
    if os.environ.get("FP8_CUDA") == "1":  # on an Ada/Hopper GPU with onnxruntime-gpu
        import onnxruntime as ort
        x = np.random.default_rng(4).standard_normal((2, 10, 64)).astype(np.float32)
        got = ort.InferenceSession(dst, providers=["CUDAExecutionProvider"]).run(["y"], {"x": x})[0]
        ref = _run(src, x)
        assert np.linalg.norm(got - ref) / np.linalg.norm(ref) < 0.2


def test_static_activation_scales_need_no_reduction(tmp_path):
    """act_scales (calibrated amax per activation, "*" for the rest): one QuantizeLinear per activation, no ReduceMax."""
    src = str(tmp_path / "mini.onnx")
    _graph(src)
    m = onnx.load(src)
    facts = fp8.rewrite(m, str(tmp_path), per_channel=False, act_scales={"x": 4.0, "*": 50.0})
    ops = [n.op_type for n in m.graph.node]
    assert facts["activation_scales"] == "static" and "ReduceMax" not in ops and ops.count("QuantizeLinear") == 3
    scale = next(t for t in m.graph.initializer if t.name == "fp8/act0/scale")
    assert np.isclose(numpy_helper.to_array(scale), 4.0 / 448)
