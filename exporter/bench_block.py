"""Time one full-width Wan2.1-14B block (dim 5120, 40 heads, ffn 13824) in PyTorch eager on the GPU:
ours (per-frame modulation broadcast per frame) vs the unmodified Pusa block (per-token modulation materialised),
both SDPA.  python3 exporter/bench_block.py [--tokens 480p,720p] [--dtypes bf16,fp16] [--batch 1,2]"""
import argparse
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "tests"))
from wan_dit import WAN21_T2V_14B, WanAttentionBlock, WanDiT, rope_angles, rope_axis_dims, rope_table  # noqa: E402

GRIDS = {"480p": (21, 30, 52), "720p": (21, 45, 80)}
DT = {"bf16": torch.bfloat16, "fp16": torch.float16}


def timeit(fn, warm=3, n=10):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(n):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        ts.append(a.elapsed_time(b))
    ts.sort()
    return ts[len(ts) // 2]


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", default="480p")
    ap.add_argument("--dtypes", default="bf16,fp16")
    ap.add_argument("--batch", default="1,2")
    ap.add_argument("--pusa", action="store_true", help="also time the Pusa oracle block (needs exporter/.oracles)")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--sdpa", default="default", choices=["default", "cudnn", "flash", "efficient"],
                    help="pin PyTorch's attention kernel (the strong baseline is cudnn on Hopper)")
    a = ap.parse_args()
    import contextlib
    from torch.nn.attention import SDPBackend, sdpa_kernel
    pinned = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION,
              "efficient": SDPBackend.EFFICIENT_ATTENTION}.get(a.sdpa)
    kernel = (lambda: sdpa_kernel(pinned)) if pinned is not None else contextlib.nullcontext
    cfg = WAN21_T2V_14B
    dev = "cuda"
    res = []
    P = None
    if a.pusa:
        import oracles
        P = oracles.pusa_module()
    tabs = [rope_table(1024, d).to(dev) for d in rope_axis_dims(cfg.head_dim)]
    for res_name in a.tokens.split(","):
        f, h, w = GRIDS[res_name]
        L = f * h * w
        ang = rope_angles(tabs, f, h, w)
        cos, sin = torch.cos(ang), torch.sin(ang)
        freqs_c = torch.polar(torch.ones_like(ang), ang).view(L, 1, -1)  # Pusa's complex128 table
        for dn in a.dtypes.split(","):
            dt = DT[dn]
            torch.manual_seed(0)
            with torch.device(dev):
                blk = WanAttentionBlock(cfg).to(dt).eval()
            for B in [int(b) for b in a.batch.split(",")]:
                x = torch.randn(B, L, cfg.dim, device=dev, dtype=dt)
                tm = 0.1 * torch.randn(B, f, 6, cfg.dim, device=dev, dtype=dt)
                ctx = torch.randn(B, 512, cfg.dim, device=dev, dtype=dt)
                torch.cuda.reset_peak_memory_stats()
                with kernel():
                    ms = timeit(lambda: blk(x, tm, ctx, cos, sin, h * w), n=a.n)
                peak = torch.cuda.max_memory_allocated() / 2**30
                row = dict(res=res_name, tokens=L, dtype=dn, batch=B, impl="ours", sdpa=a.sdpa, ms_per_block=round(ms, 2),
                           peak_gib=round(peak, 2), step_40_blocks_s=round(ms * 40 / 1000, 2))
                print(json.dumps(row), flush=True)
                res.append(row)
                if P is not None:
                    with torch.device(dev):
                        pb = P.DiTBlock(False, cfg.dim, cfg.num_heads, cfg.ffn_dim, cfg.eps).to(dt).eval()
                    pb.load_state_dict(blk.state_dict(), strict=True)
                    t_mod = tm.permute(0, 2, 1, 3).unsqueeze(3).expand(B, 6, f, h * w, cfg.dim).reshape(B, 6, L, cfg.dim)
                    t_mod = t_mod.contiguous()
                    y0 = blk(x, tm, ctx, cos, sin, h * w)
                    y1 = pb(x, ctx, t_mod, freqs_c)
                    err = (y0.float() - y1.float()).abs().max().item()
                    torch.cuda.reset_peak_memory_stats()
                    with kernel():
                        ms2 = timeit(lambda: pb(x, ctx, t_mod, freqs_c), n=a.n)
                    peak2 = torch.cuda.max_memory_allocated() / 2**30
                    row = dict(res=res_name, tokens=L, dtype=dn, batch=B, impl="pusa", sdpa=a.sdpa,
                               ms_per_block=round(ms2, 2),
                               peak_gib=round(peak2, 2), step_40_blocks_s=round(ms2 * 40 / 1000, 2),
                               max_abs_diff_vs_ours=err, ref_max_abs=y1.abs().max().item())
                    print(json.dumps(row), flush=True)
                    res.append(row)
                    del pb, t_mod
                del x, tm, ctx
            del blk
            torch.cuda.empty_cache()
    out = os.environ.get("OUT")
    if out:
        json.dump({"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": res},
                  open(os.path.join(out, f"bench_block-{a.sdpa}.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
