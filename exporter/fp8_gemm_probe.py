"""One linear layer of the DiT at 480p (M = 65,520 tokens of a guided batch), fp16 MatMul against the fp8 path of
exporter/fp8.py (activation quantisation + GemmFloat8), and the quantisation alone, through onnxruntime-node CUDA:
where the fp8 block's time goes.  python3 exporter/fp8_gemm_probe.py --work DIR  (on the GPU machine; node on PATH)"""
import argparse, json, os, subprocess, sys
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fp8  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
import onnx  # noqa: E402

NODE = r"""
const ort = require('onnxruntime-node');
const [dir, names] = process.argv.slice(1);
(async () => {
  const out = {};
  for (const name of names.split(',')) {
    try {
      const s = await ort.InferenceSession.create(`${dir}/${name}.onnx`, { executionProviders: [{ name: 'cuda', deviceId: 0 }], logSeverityLevel: 3 });
      const x = new ort.Tensor('float16', new Uint16Array(64 * 5120).fill(0x3c00 - 3000), [64, 5120]);
      for (let i = 0; i < 3; i++) await s.run({ x });
      const t = [];
      for (let i = 0; i < 10; i++) { const t0 = performance.now(); await s.run({ x }); t.push(performance.now() - t0); }
      t.sort((a, b) => a - b); out[name] = t[5];
    } catch (e) { out[name] = String(e.message || e).slice(0, 300); }
  }
  console.log(JSON.stringify(out));
})();
"""


def graph(path, kind, n, m=65520, k=5120, reps=4):
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float16)
    inits = [numpy_helper.from_array(np.array([m // 64, 1], np.int64), "tile")]
    nodes = [helper.make_node("Tile", ["x", "tile"], ["xt"], name="/model/Tile")]
    cur = "xt"
    for r in range(reps):  # several layers in a row, so fixed per-call costs are amortised
        if kind == "tile":
            break
        inits.append(numpy_helper.from_array(w if n == k else w[:, :k] if False else w, f"w{r}"))
        nodes.append(helper.make_node("MatMul", [cur, f"w{r}"], [f"y{r}"], name=f"/model/blocks.{r}/q/MatMul"))
        if n != k:  # back to k columns so the next layer can read it
            inits.append(numpy_helper.from_array(np.ascontiguousarray(w.T), f"wb{r}"))
            nodes.append(helper.make_node("MatMul", [f"y{r}", f"wb{r}"], [f"z{r}"], name=f"/model/blocks.{r}/o/MatMul"))
            cur = f"z{r}"
        else:
            cur = f"y{r}"
    nodes.append(helper.make_node("ReduceSum", [cur], ["s"], keepdims=0, name="/model/Sum"))
    nodes.append(helper.make_node("Cast", ["s"], ["out"], to=TensorProto.FLOAT, name="/model/Out"))
    g = helper.make_graph(nodes, kind, [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [64, k])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [])], inits)
    mdl = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    mdl.ir_version = 8
    onnx.save(mdl, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    names = []
    for n in (5120, 13824):
        graph(f"{a.work}/tile.onnx", "tile", n)
        graph(f"{a.work}/mm16-{n}.onnx", "mm", n)
        fp8.convert(f"{a.work}/mm16-{n}.onnx", f"{a.work}/fp8t-{n}.onnx", per_channel=False)
        # the quantisation alone: the same graph with GemmFloat8 replaced by a DequantizeLinear + the fp16 MatMul
        fp8.convert(f"{a.work}/mm16-{n}.onnx", f"{a.work}/emul-{n}.onnx", per_channel=False, emulate=True)
        m = onnx.load(f"{a.work}/mm16-{n}.onnx")
        fp8.rewrite(m, a.work, per_channel=False, act_scales={"*": 8.0})  # static: no reductions at run time
        onnx.save(m, f"{a.work}/fp8s-{n}.onnx")
        fp8.convert(f"{a.work}/mm16-{n}.onnx", f"{a.work}/fp8t16-{n}.onnx", per_channel=False, act_sample=16)
        names += [f"mm16-{n}", f"fp8t-{n}", f"fp8t16-{n}", f"fp8s-{n}", f"emul-{n}"]
    r = subprocess.run(["node", "-e", NODE, a.work, ",".join(["tile"] + names)], capture_output=True, text=True)
    print("gemm probe (ms per call of 4 linears, or 4 up+down pairs; M=65520, K=5120)", r.stdout.strip(), r.stderr[-500:])


if __name__ == "__main__":
    main()
