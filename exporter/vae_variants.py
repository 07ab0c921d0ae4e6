"""The VAE speed work of issue [10] on the GPU machine: graphs, PyTorch baselines and the error of our decode.

    python3 exporter/vae_variants.py export --work /root/vae            # full-size random fp16 graphs per layout
    python3 exporter/vae_variants.py refs   --work /root/vae            # correctness cases: latents + fp32 decodes
    python3 exporter/vae_variants.py torch  --work /root/vae            # latents files + PyTorch timings (torch.json)
    node bench-gpu-vae.mjs --graphs frames=/root/vae/frames ... --latents /root/vae --dump /root/vae
    python3 exporter/vae_variants.py compare --work /root/vae           # our decodes vs the fp32 module (error.json)

The baseline is the strongest plain PyTorch: the unmodified 5-D module (wan_vae.WanVAE, equal to upstream's chunked
decode, tests/test_wan_vae.py), bf16 and fp16, whole frame, cuDNN autotuning on, timed with CUDA events (median of
3 after a warm-up).  The same random weights (seed 0) in every graph and module, so the error is the graphs' own.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wan_vae_frames  # noqa: E402
from export_vae import LAYOUTS, build_vae, export_vae  # noqa: E402

GRIDS = {"480p": (60, 104), "720p": (90, 160)}
# Wan's latent statistics (spec §B.2): raw latents = N(0,1) · std + mean per channel, as the sampler hands them over
MEAN = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715, 0.5517, -0.3632,
        -0.1922, -0.9497, 0.2503, -0.2921]
STD = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579, 1.6382,
       1.1253, 2.8251, 1.916]


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def raw_latents(res: str) -> torch.Tensor:
    lh, lw = GRIDS[res]
    g = torch.Generator().manual_seed(5)
    z = torch.randn(1, 16, 21, lh, lw, generator=g)
    return z * torch.tensor(STD).view(1, 16, 1, 1, 1) + torch.tensor(MEAN).view(1, 16, 1, 1, 1)


def write_latents(work):
    """latents-<res>.f32 per grid: what bench/gpu-vae.ts --latents decodes and `compare` holds against the module."""
    for res in GRIDS:
        raw_latents(res).numpy().astype("float32").tofile(os.path.join(work, f"latents-{res}.f32"))


def cmd_export(a):
    facts = {}
    for name in a.layouts.split(","):
        # chunked-v1: the chunked graph as measured on 2026-12-04 (before the Gather taps and the ReduceL2 RMSNorm)
        # chunked-v3: chunked with the norm's reduction in fp16 (wan_vae_frames.NORM_IN_MODEL_DTYPE)
        layout = "chunked" if name in ("chunked-v1", "chunked-v3") else name
        wan_vae_frames.FAST_TAPS_AND_NORM = name != "chunked-v1"
        wan_vae_frames.NORM_IN_MODEL_DTYPE = name == "chunked-v3"
        facts[name] = export_vae(None, os.path.join(a.work, name), "fp16", layout)
        log(name, "decoder ops", facts[name]["decoder"]["ops"])
        if name == "chunked":  # the Loop's two chunk graphs alone, for the per-operator profile of the loop body
            import onnx
            from vae_chunked_graph import trace_chunks
            first, step, _ = trace_chunks(build_vae(None, dtype=torch.float16, device="cuda"), "cuda", 17)
            onnx.save_model(first, os.path.join(a.work, name, "probe_first.onnx"))
            onnx.save_model(step, os.path.join(a.work, name, "probe_step.onnx"))
    wan_vae_frames.FAST_TAPS_AND_NORM, wan_vae_frames.NORM_IN_MODEL_DTYPE = True, False
    json.dump(facts, open(os.path.join(a.work, "graphs.json"), "w"), indent=1)


# (latent frames, lh, lw) of the correctness cases: a small clip the CPU can decode too, then the 480p grid with one
# latent frame (the first-chunk graph only), two (one Loop iteration) and five
CHECKS = [(5, 8, 12), (1, 60, 104), (2, 60, 104), (5, 60, 104)]


def cmd_refs(a):
    """Raw latents and the fp32 module's decode (TF32 off) for each CHECKS case: check-FxHxW.{lat,ref}.f32."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    write_latents(a.work)
    vae = build_vae(None, dtype=torch.float32, device="cuda")
    for f, lh, lw in CHECKS:
        g = torch.Generator().manual_seed(11)
        z = torch.randn(1, 16, f, lh, lw, generator=g) * torch.tensor(STD).view(1, 16, 1, 1, 1) \
            + torch.tensor(MEAN).view(1, 16, 1, 1, 1)
        with torch.no_grad():
            ref = vae.decode(z.to("cuda")).cpu()
        stem = os.path.join(a.work, f"check-{f}x{lh}x{lw}")
        z.numpy().astype("float32").tofile(stem + ".lat.f32")
        ref.numpy().astype("float32").tofile(stem + ".ref.f32")
        log("ref", stem, list(ref.shape), "clamped", float((ref.abs() >= 1).float().mean()))


def timed(fn, repeats=3):
    fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(repeats):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        torch.cuda.synchronize()
        ms.append(s.elapsed_time(e))
    return sorted(ms)[len(ms) // 2], ms


def cmd_torch(a):
    torch.backends.cudnn.benchmark = True
    write_latents(a.work)
    rows = []
    for dtype_name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        vae = build_vae(None, dtype=dtype, device="cuda")
        impls = [("module-5d", lambda z: vae.decode(z)), ("frames-2d", lambda z: wan_vae_frames.decode(vae, z))]
        for res in a.res.split(","):
            z = raw_latents(res).to("cuda", dtype)
            for impl, fn in impls:
                if impl == "frames-2d" and res != "480p":
                    continue
                torch.cuda.reset_peak_memory_stats()
                with torch.no_grad():
                    med, ms = timed(lambda: fn(z))
                rows.append({"impl": f"torch-{impl}-{dtype_name}", "case": f"decode 21 latents -> 81 frames {res}",
                             "ms": round(med, 1), "runs_ms": [round(v, 1) for v in ms],
                             "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)})
                log(rows[-1])
        image = (torch.rand(1, 3, 1, 480, 832, generator=torch.Generator().manual_seed(6)) * 2 - 1).to("cuda", dtype)
        with torch.no_grad():
            med, ms = timed(lambda: vae.encode(image), repeats=7)
        rows.append({"impl": f"torch-module-5d-{dtype_name}", "case": "encode 1 image 480x832", "ms": round(med, 2)})
        log(rows[-1])
        del vae
        torch.cuda.empty_cache()
    json.dump(rows, open(os.path.join(a.work, "torch.json"), "w"), indent=1)


def cmd_compare(a):
    """fp32 5-D module (TF32 off) on the same raw latents vs each dumped decode: relative L2 and max |diff|."""
    import numpy as np
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    vae = build_vae(None, dtype=torch.float32, device="cuda")
    rows = []
    with torch.no_grad():
        ref = vae.decode(raw_latents("480p").to("cuda")).cpu().numpy().ravel()
    for layout in LAYOUTS:
        path = os.path.join(a.work, f"{layout}-480p.f32")
        if not os.path.exists(path):
            continue
        got = np.fromfile(path, dtype=np.float32)
        if got.size != ref.size:
            rows.append({"layout": layout, "error": f"size {got.size} vs {ref.size}"})
            continue
        d = got.astype(np.float64) - ref
        rows.append({"layout": layout, "rel_l2": float(np.sqrt((d * d).sum() / (ref.astype(np.float64) ** 2).sum())),
                     "max_abs": float(np.abs(d).max()), "ref_clamped_frac": float((np.abs(ref) >= 1).mean()),
                     "nan": int(np.isnan(got).sum())})
        log(rows[-1])
    json.dump(rows, open(os.path.join(a.work, "error.json"), "w"), indent=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["export", "refs", "torch", "compare"])
    ap.add_argument("--work", default="/root/vae")
    ap.add_argument("--layouts", default=",".join(LAYOUTS))
    ap.add_argument("--res", default="480p,720p")
    a = ap.parse_args(argv)
    os.makedirs(a.work, exist_ok=True)
    {"export": cmd_export, "refs": cmd_refs, "torch": cmd_torch, "compare": cmd_compare}[a.cmd](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
