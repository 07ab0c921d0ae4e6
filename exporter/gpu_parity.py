"""fp16 DiT graph on onnxruntime CUDA (through our runtime) against the torch module, full width, on the GPU machine.

    python3 exporter/bench_gpu.py export --out DIR --layers 1 --quant ""
    node .gpu-out/bench-gpu-dit.mjs --dir DIR --layers 1 --variants fp16 --res 480p --keep-dumps DIR/dumps
    python3 exporter/gpu_parity.py --dump DIR/dumps/480p-fp16-L1.f32 --layers 1 --res 480p

The bench's inputs are made by our torch-compatible `randn` with fixed seeds (latents 7, contexts 11 and 12, rows
past 40 zero, timesteps 936 with frame 0 at 187), so torch rebuilds them exactly; the weights are export_dit's seeded
random weights in fp16, upcast for the fp32 reference.  Prints the relative L2 and max abs error of the onnxruntime
fp16 output, and of torch bf16 (the reference pipeline's precision) for scale.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_gpu import GRIDS, cfg_with_layers  # noqa: E402
from export_dit import PackDiT, build_model  # noqa: E402


def inputs(res: str):
    f, h, w = GRIDS[res]
    x = torch.randn(1, 16, f, h, w, generator=torch.Generator().manual_seed(7))
    ts = torch.full((1, f), 936.0)
    ts[0, 0] = 187.0
    ctx = [torch.randn(512 * 4096, generator=torch.Generator().manual_seed(s)).view(512, 4096) for s in (11, 12)]
    for c in ctx:
        c[40:] = 0
    return torch.cat([x, x]), torch.cat([ts, ts]), torch.stack(ctx)


def err(a, b):
    return {"rel_l2": float(np.linalg.norm(a - b) / np.linalg.norm(b)), "max_abs": float(np.abs(a - b).max()),
            "ref_max_abs": float(np.abs(b).max())}


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--res", default="480p")
    a = ap.parse_args()
    model = build_model(cfg_with_layers(a.layers), None, dtype=torch.float16, device="cuda")
    x, ts, ctx = (t.cuda() for t in inputs(a.res))
    ref = PackDiT(model.float())(x, ts, ctx).cpu().numpy().ravel()
    bf16 = PackDiT(model.to(torch.bfloat16))(x, ts, ctx).cpu().numpy().ravel()
    ort = np.fromfile(a.dump, dtype=np.float32)
    out = {"res": a.res, "layers": a.layers, "onnxruntime_cuda_fp16_vs_torch_fp32": err(ort, ref),
           "torch_bf16_vs_torch_fp32": err(bf16, ref)}
    print(json.dumps(out))
    if os.environ.get("OUT"):
        json.dump(out, open(os.path.join(os.environ["OUT"], "gpu-parity.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
