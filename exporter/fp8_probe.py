"""Does GemmFloat8 run here, and compute what fp8 storage means?  (exporter/gpu_benchmark.sh step 8, on the GPU)

    python3 exporter/fp8_probe.py --work /root/fp8probe     # writes the graphs, then runs them with node + CUDA

A small fp16 graph shaped like a DiT block's linears (K=512 -> 1536 -> 512, q/k sharing their input, 2 x 700 tokens)
in four forms: fp16, GemmFloat8 with per-channel and per-tensor weight scales, and the emulated fp8 graph (the same
codes dequantised, plain MatMuls).  GemmFloat8 must agree with the emulation to accumulation error (far below the
fp8 error against fp16); anything else means a layout or scale is misread.  Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fp8  # noqa: E402

NODE = r"""
const ort = require('onnxruntime-node');
const fs = require('fs');
const [dir, tokens, k] = process.argv.slice(1);
const x = new Float32Array(fs.readFileSync(`${dir}/x.f32`).buffer.slice(0));
const run = async (name, ep) => {
  try {
    const s = await ort.InferenceSession.create(`${dir}/${name}.onnx`, { executionProviders: [ep], logSeverityLevel: 3 });
    const r = await s.run({ x: new ort.Tensor('float32', x, [2, Number(tokens), Number(k)]) });
    return Array.from(r.y.data);
  } catch (e) { return String(e.message || e).slice(0, 600); }
};
(async () => {
  const out = {};
  for (const name of ['fp16', 'fp8', 'fp8t', 'emulated']) out[name] = await run(name, name === 'emulated' ? 'cpu' : { name: 'cuda', deviceId: 0 });
  fs.writeFileSync(`${dir}/out.json`, JSON.stringify(out));
})();
"""


def build(work: str, k=512, f=1536, tokens=700):
    from onnx import TensorProto, helper, numpy_helper
    import onnx
    rng = np.random.default_rng(5)

    def w(shape, name):
        a = (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32)
        a[:, ::37] *= 10
        return numpy_helper.from_array(a.astype(np.float16), name)

    inits = [w((k, k), "wq"), w((k, k), "wk"), w((k, f), "wup"), w((f, k), "wdown")]
    nodes = [helper.make_node("Cast", ["x"], ["x16"], to=TensorProto.FLOAT16, name="/model/Cast"),
             helper.make_node("MatMul", ["x16", "wq"], ["q"], name="/model/blocks.0/self_attn/q/MatMul"),
             helper.make_node("MatMul", ["x16", "wk"], ["kk"], name="/model/blocks.0/self_attn/k/MatMul"),
             helper.make_node("Add", ["q", "kk"], ["s"], name="/model/blocks.0/Add"),
             helper.make_node("MatMul", ["s", "wup"], ["u"], name="/model/blocks.0/MatMul"),
             helper.make_node("Relu", ["u"], ["r"], name="/model/blocks.0/Relu"),
             helper.make_node("MatMul", ["r", "wdown"], ["d"], name="/model/blocks.0/ffn.2/MatMul"),
             helper.make_node("Cast", ["d"], ["y"], to=TensorProto.FLOAT, name="/model/CastOut")]
    g = helper.make_graph(nodes, "probe", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, tokens, k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, tokens, k])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    os.makedirs(work, exist_ok=True)
    onnx.save(m, os.path.join(work, "fp16.onnx"))
    src = os.path.join(work, "fp16.onnx")
    fp8.convert(src, os.path.join(work, "fp8.onnx"), per_channel=True)
    fp8.convert(src, os.path.join(work, "fp8t.onnx"), per_channel=False)
    fp8.convert(src, os.path.join(work, "emulated.onnx"), per_channel=True, emulate=True)
    x = rng.standard_normal((2, tokens, k)).astype(np.float32)
    x[..., 7] *= 20
    x.tofile(os.path.join(work, "x.f32"))
    return tokens, k


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", required=True)
    a = ap.parse_args(argv)
    tokens, k = build(a.work)
    subprocess.run(["node", "-e", NODE, a.work, str(tokens), str(k)], check=True)
    out = json.load(open(os.path.join(a.work, "out.json")))
    res = {}
    ok = {n: isinstance(v, list) for n, v in out.items()}
    arr = {n: np.array(v, dtype=np.float64) for n, v in out.items() if ok[n]}

    def rel(a_, b_):
        return float(np.linalg.norm(arr[a_] - arr[b_]) / np.linalg.norm(arr[b_])) if a_ in arr and b_ in arr else None

    res = {"errors": {n: v for n, v in out.items() if not ok[n]},
           "fp8_vs_fp16": rel("fp8", "fp16"), "fp8_per_tensor_vs_fp16": rel("fp8t", "fp16"),
           "emulated_vs_fp16": rel("emulated", "fp16"), "fp8_vs_emulated": rel("fp8", "emulated")}
    res["gemm_float8_agrees_with_emulation"] = res["fp8_vs_emulated"] is not None and res["fp8_vs_emulated"] < 0.2 * (
        res["emulated_vs_fp16"] or 1)
    print("fp8 probe", json.dumps(res), flush=True)
    return res


if __name__ == "__main__":
    main()
