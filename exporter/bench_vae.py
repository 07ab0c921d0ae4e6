"""GPU measurement of the full-size Wan VAE (random weights): PyTorch eager decode/encode time and peak memory,
whole-frame vs one runtime tile, then the full-size fp16 ONNX graphs (sizes) and their parity against torch fp32 on
onnxruntime CPU at a small size.

    python3 exporter/bench_vae.py [--json out.json] [--onnx-dir /tmp/vae16] [--skip-onnx]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_vae import build_vae, export_vae, ort_session  # noqa: E402


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def timed(fn, runs):
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        with torch.no_grad():
            out = fn()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
        del out
    return {"median_s": round(statistics.median(ts), 3), "runs_s": [round(t, 3) for t in ts],
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2 ** 30, 2)}


def eager(res, dtype=torch.bfloat16):
    torch.backends.cudnn.benchmark = True
    vae = build_vae(None, dtype=dtype, device="cuda")
    base = torch.cuda.memory_allocated() / 2 ** 30
    res["weights_gib"] = round(base, 3)
    cases = [("decode tile 21x30x52 -> 81x240x416", "dec", (21, 30, 52), 3),
             ("decode whole 480p 21x60x104 -> 81x480x832", "dec", (21, 60, 104), 2),
             ("encode tile 81x240x416", "enc", (81, 240, 416), 2),
             ("encode image 1x480x832", "enc", (1, 480, 832), 3),
             ("encode whole 480p 81x480x832", "enc", (81, 480, 832), 2)]
    for name, kind, (t, h, w), runs in cases:
        try:
            if kind == "dec":
                x = torch.randn(1, 16, t, h, w, device="cuda", dtype=dtype)
                fn = lambda: vae.decode(x)  # noqa: E731
            else:
                x = (torch.rand(1, 3, t, h, w, device="cuda") * 2 - 1).to(dtype)
                fn = lambda: vae.encode(x)  # noqa: E731
            with torch.no_grad():  # warm-up (cuDNN autotune)
                fn()
            r = timed(fn, runs)
            del x
        except Exception as e:  # record, keep going (e.g. 32-bit index limits on >2^31-element tensors)
            r = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
            torch.cuda.empty_cache()
        res["eager_" + str(dtype).split(".")[-1]][name] = r
        log(name, r)
    del vae
    torch.cuda.empty_cache()


def onnx_fp16(res, out_dir):
    facts = export_vae(None, out_dir, "fp16")
    res["fp16_graphs"] = {p: {"bytes": facts[p]["bytes"], "ops": facts[p]["ops"],
                              "unexpected_ops": facts[p]["unexpected_ops"]} for p in ("encoder", "decoder")}
    res["params"] = facts["params"]
    ref = build_vae(None, dtype=torch.float32, device="cpu")  # same seed -> the same weights, fp32
    g = torch.Generator().manual_seed(5)
    cases = []
    for part, shapes in (("encoder", [(5, 32, 48), (1, 64, 64)]), ("decoder", [(3, 4, 6), (1, 8, 8)])):
        try:
            sess = ort_session(os.path.join(out_dir, f"vae_{part}.onnx"))
        except Exception as e:
            cases.append({"graph": part, "error": f"{type(e).__name__}: {str(e)[:300]}"})
            continue
        for t, h, w in shapes:
            if part == "encoder":
                x = torch.rand(1, 3, t, h, w, generator=g) * 2 - 1
                with torch.no_grad():
                    want = ref.encode(x)
                t0 = time.time()
                got = sess.run(None, {"video": x.numpy()})[0]
            else:
                x = torch.randn(1, 16, t, h, w, generator=g) * 2
                with torch.no_grad():
                    want = ref.decode(x)
                t0 = time.time()
                got = sess.run(None, {"latents": x.numpy()})[0]
            c = {"graph": part, "in": [t, h, w], "max_abs_err": float(abs(got - want.numpy()).max()),
                 "mean_abs_err": float(abs(got - want.numpy()).mean()), "ref_max_abs": float(want.abs().max()),
                 "ort_cpu_s": round(time.time() - t0, 2)}
            cases.append(c)
            log("fp16 onnx vs torch fp32", c)
    res["fp16_parity_cpu_ort"] = cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--onnx-dir", default="/tmp/vae16")
    ap.add_argument("--skip-onnx", action="store_true")
    a = ap.parse_args()
    res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "eager_bfloat16": {}}
    eager(res)
    if not a.skip_onnx:
        onnx_fp16(res, a.onnx_dir)
    s = json.dumps(res, indent=1)
    print(s)
    if a.json:
        with open(a.json, "w") as f:
            f.write(s)


if __name__ == "__main__":
    main()
