"""PyTorch's side of the VAE work of issue [10] on the GPU machine (docs/vae-notes.md): which decode is right, and how
fast the strongest plain PyTorch decode is.

    python3 exporter/vae_torch_oracle.py check    --work /root/vae   # whole-clip module vs chunked, fp32; our dump
    python3 exporter/vae_torch_oracle.py upstream --work /root/vae --upstream .gpu-oracle/wan_upstream_vae.py
    python3 exporter/vae_torch_oracle.py profile  --work /root/vae   # one 480p chunk's CUDA kernels, per kernel name

`check`: our whole-clip 5-D module (wan_vae.WanVAE.decode) against the same weights decoded one latent frame at a
time (wan_vae_frames.decode_chunked, the reference's causal-cache scheme), fp32 with TF32 off, on the 480p latents
of vae_variants.py; and the dumped onnxruntime decode (chunked-480p.f32) against the chunked reference.
`upstream`: Wan2.1's own wan/modules/vae.py (fetched from the public repository and carried, not part of this
project) with our random weights, decoding the way Wan and Pusa do (latent frame by latent frame, feature cache),
bf16 and fp16, 480p and 720p, checked against the fp32 chunked reference and timed with CUDA events.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import types

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vae_variants as v  # noqa: E402
import wan_vae_frames as f  # noqa: E402
from export_vae import build_vae  # noqa: E402


def rel(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


def timed(fn, repeats=3):
    """vae_variants.timed (CUDA events, median after a warm-up), then one more run for the peak memory."""
    med, ms = v.timed(fn, repeats)
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return {"ms": round(med, 1), "runs_ms": [round(x, 1) for x in ms],
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}


def fp32_reference(res):
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    vae = build_vae(None, dtype=torch.float32, device="cuda")
    with torch.no_grad():
        ref = f.decode_chunked(vae, v.raw_latents(res).cuda()).cpu()
    del vae
    torch.cuda.empty_cache()
    torch.backends.cudnn.allow_tf32 = True
    return ref


def cmd_check(a):
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    z = v.raw_latents("480p").cuda()
    rows = {}
    with torch.no_grad():
        vae = build_vae(None, dtype=torch.float32, device="cuda")
        chunk = f.decode_chunked(vae, z).cpu()
        whole = vae.decode(z).cpu()
        rows["fp32 whole-clip module vs chunked, 81 frames"] = rel(whole, chunk)
        rows["  frame 0 only"] = rel(whole[:, :, :1], chunk[:, :, :1])
        rows["fp32 whole-clip module on 9 latents vs chunked's first 33 frames"] = rel(vae.decode(z[:, :, :9]).cpu(),
                                                                                      chunk[:, :, :33])
        dump = os.path.join(a.work, "chunked-480p.f32")
        if os.path.exists(dump):
            ours = torch.from_numpy(np.fromfile(dump, dtype=np.float32)).view(chunk.shape)
            rows["onnxruntime CUDA fp16 (chunked graph) vs fp32 chunked"] = rel(ours, chunk)
            rows["  max |diff|"] = float((ours - chunk).abs().max())
    for k, val in rows.items():
        print(f"{k:72s} {val:.3e}", flush=True)
    json.dump(rows, open(os.path.join(a.work, "torch-check.json"), "w"), indent=1)


def _einops_fallback():
    """Wan's vae.py imports einops for two rearranges; the GPU machine may not have it (and nothing can be
    installed there): the two patterns it uses, written out."""
    try:
        import einops  # noqa: F401
        return
    except ImportError:
        pass

    def rearrange(x, pattern, **kw):
        p = pattern.replace(" ", "")
        if p == "bcthw->(bt)chw":
            return x.permute(0, 2, 1, 3, 4).flatten(0, 1)
        if p == "(bt)chw->bcthw":
            t = kw["t"]
            return x.unflatten(0, (-1, t)).permute(0, 2, 1, 3, 4)
        raise NotImplementedError(pattern)

    sys.modules["einops"] = types.SimpleNamespace(rearrange=rearrange)


def cmd_upstream(a):
    _einops_fallback()
    spec = importlib.util.spec_from_file_location("wan_upstream_vae", a.upstream)
    up = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(up)
    state = build_vae(None, dtype=torch.float32, device="cpu").state_dict()
    model = up.WanVAE_(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                       temperal_downsample=[False, True, True], dropout=0.0)
    missing = model.load_state_dict(state, strict=True)
    print("upstream module loads our weights:", missing, flush=True)
    torch.backends.cudnn.benchmark = True
    rows = []
    refs = {res: fp32_reference(res) for res in a.res.split(",")}
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
    for name, dt in ((n, dtypes[n]) for n in a.dtypes.split(",")):
        m = model.to("cuda", dt).eval()
        ours = build_vae(None, dtype=dt, device="cuda")
        ident = [torch.zeros(16, device="cuda", dtype=dt), torch.ones(16, device="cuda", dtype=dt)]
        for res in a.res.split(","):
            z = v.raw_latents(res).to("cuda", dt)
            with torch.no_grad():
                out = m.decode(z, ident).float().clamp(-1, 1).cpu()
                err = rel(out, refs[res])
                t = timed(lambda: m.decode(z, ident))
                rows.append({"impl": f"upstream-wan-vae-{name}", "case": f"decode 21 latents -> 81 frames {res}",
                             "rel_l2_vs_fp32": round(err, 5), **t})
                print(rows[-1], flush=True)
                out2 = f.decode_chunked(ours, z).float().cpu()
                t2 = timed(lambda: f.decode_chunked(ours, z))
                rows.append({"impl": f"torch-chunked-2d-{name}", "case": f"decode 21 latents -> 81 frames {res}",
                             "rel_l2_vs_fp32": round(rel(out2, refs[res]), 5), **t2})
                print(rows[-1], flush=True)
        del ours
        model = m.float().cpu()
        torch.cuda.empty_cache()
    json.dump(rows, open(os.path.join(a.work, "torch-upstream.json"), "w"), indent=1)


def cmd_profile(a):
    """One later chunk (4 output frames) of the 480p decode in fp16 under torch.profiler: CUDA time per kernel."""
    from torch.profiler import ProfilerActivity, profile
    torch.backends.cudnn.benchmark = True
    vae = build_vae(None, dtype=torch.float16, device="cuda")
    z = v.raw_latents("480p").to("cuda", torch.float16)
    with torch.no_grad():
        _, caches = f.decode_chunk(vae, z[:, :, :1], None)
        step = lambda: f.decode_chunk(vae, z[:, :, 1:2], caches)  # noqa: E731
        step()
        step()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            step()
            torch.cuda.synchronize()
    per = {}
    for e in prof.events():
        if e.device_type.name == "CUDA":
            k = e.name[:90]
            n, us = per.get(k, (0, 0.0))
            per[k] = (n + 1, us + e.device_time)
    total = sum(us for _, us in per.values())
    print(f"torch fp16 one 480p chunk: {total / 1000:.1f} ms of kernels, {sum(n for n, _ in per.values())} launches")
    for k, (n, us) in sorted(per.items(), key=lambda kv: -kv[1][1])[:25]:
        print(f"{us / 1000:8.2f} ms  x{n:<4d} {k}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["check", "upstream", "profile"])
    ap.add_argument("--work", default="/root/vae")
    ap.add_argument("--upstream", default=".gpu-oracle/wan_upstream_vae.py")
    ap.add_argument("--res", default="480p,720p")
    ap.add_argument("--dtypes", default="bf16,fp16", help="upstream: the module's dtypes to time")
    a = ap.parse_args(argv)
    os.makedirs(a.work, exist_ok=True)
    t0 = time.time()
    {"check": cmd_check, "upstream": cmd_upstream, "profile": cmd_profile}[a.cmd](a)
    print(f"{a.cmd}: {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
