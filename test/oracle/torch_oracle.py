"""Reference oracle for the sampler core: runs Pusa-VidGen's own schedulers under torch and writes golden fixtures.

Not part of the product or of CI. It runs on a machine with torch (the GPU machine), with the two scheduler files of
Yaofang-Liu/Pusa-VidGen@8a8c4f5 (`PusaV1/diffsynth/schedulers/flow_match_pusa{,_v2v}.py`) placed, uncommitted, in
`.oracle/`. The denoising loop below follows `wan_video_pusa.py` (T2V) and `wan_video_pusa_multi_frames.py`
(conditions) step by step, with the analytic stand-in model of `pusa trace`:
    v_pos = 0.5*x - t_f/1000,   v_neg = 0.25*x,   x = bf16(latents)
computed in float32 ("fp32") and, as a real bf16 DiT would, in bf16 ("bf16").

Usage: python3 test/oracle/torch_oracle.py OUT.json
"""
import contextlib
import io
import json
import random
import sys

import torch

sys.path.insert(0, ".oracle")
from flow_match_pusa import FlowMatchSchedulerPusa  # noqa: E402
from flow_match_pusa_v2v import FlowMatchSchedulerPusaV2V  # noqa: E402

QUIET = io.StringIO()


def randn(shape, seed):
    return torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed), dtype=torch.float32)


def noise_case(shape, seed):
    x = randn(shape, seed).flatten().double()
    return {"shape": shape, "seed": seed, "first": x[:8].tolist(), "last": x[-4:].tolist(),
            "sum": x.sum().item(), "sumSq": (x * x).sum().item()}


def model(x, tv, g, variant):
    F = tv.shape[1]
    if variant == "fp32":
        xf = x.float()
        pos = 0.5 * xf - tv.float().view(1, 1, F, 1, 1) / 1000
        neg = 0.25 * xf
    else:
        pos = 0.5 * x - tv.view(1, 1, F, 1, 1) / 1000
        neg = 0.25 * x
    return pos if g == 1.0 else neg + g * (pos - neg)


def trace_case(cfg, variant):
    N, shift, C, F, H, W, seed, g, conds = (cfg[k] for k in ("steps", "shift", "channels", "frames", "height", "width", "seed", "cfg", "conds"))
    cls = FlowMatchSchedulerPusaV2V if conds else FlowMatchSchedulerPusa
    sched = cls(shift=5, sigma_min=0.0, extra_one_step=True)
    sched.set_timesteps(N, denoising_strength=1.0, shift=shift)
    noise = randn([1, C, F, H, W], seed).to(torch.bfloat16)
    latents = noise.clone()
    mults = {}
    for idx, m in conds:
        latents[:, :, idx] = 0.5 + 0.1 * idx
        mults[idx] = m
    noised = set()
    steps = []
    for timestep in sched.timesteps:
        tv = timestep.unsqueeze(0).unsqueeze(1).repeat(1, F).to(torch.bfloat16)
        for idx, m in conds:
            tv[:, idx] = tv[:, idx] * m
            if idx not in noised and m > 0:
                noised.add(idx)
                tc = torch.ones_like(tv) * tv.max()
                with contextlib.redirect_stdout(QUIET):
                    latents[:, :, idx:idx + 1] = sched.add_noise_for_conditioning_frames(
                        latents[:, :, idx:idx + 1], noise[:, :, idx:idx + 1], tc[:, idx:idx + 1], noise_multiplier=m)
        if conds:
            tv = tv.to(torch.long).to(torch.bfloat16)
        v = model(latents.to(torch.bfloat16), tv, g, variant)
        kw = {"cond_frame_latent_indices": [i for i, _ in conds], "noise_multipliers": mults} if conds else {}
        with contextlib.redirect_stdout(QUIET):
            probe = sched.step(torch.ones(1, 1, F, 1, 1), tv, torch.zeros(1, 1, F, 1, 1), **kw)
            latents = sched.step(v, tv, latents, **kw)
        steps.append({"t": tv[0].float().tolist(), "dsigma": probe[0, 0, :, 0, 0].tolist()})
    x = latents.double()
    return {"steps": steps, "final": {"sumSq": (x * x).sum().item(), "meanAbs": x.abs().mean().item(),
                                      "frameMean": x.mean(dim=(0, 1, 3, 4)).tolist(), "first": x.flatten()[:8].tolist()}}


def random_configs(rng, count):
    out = []
    for _ in range(count):
        F = rng.randint(1, 9)
        conds = []
        if rng.random() < 0.75 and F > 1:
            idxs = rng.sample(range(F), rng.randint(1, F - 1))  # keep one free frame (see §E.7)
            for i in sorted(idxs):
                conds.append([i, rng.choice([0.0, 0.0, 0.2, 0.3, 0.5, 0.05, 0.77, 1.0, 0.004, round(rng.random(), 3)])])
        out.append({"steps": rng.choice([1, 2, 3, 4, 7, 10, 16, 20, 25, 30, 40, 50, 64, 100]),
                    "shift": rng.choice([1.0, 3.0, 5.0, 5.0, 7.5]), "channels": rng.randint(1, 4), "frames": F,
                    "height": rng.randint(1, 5), "width": rng.randint(1, 5), "seed": rng.choice([0, 1, 42, rng.randint(0, 2**32 - 1), rng.randint(2**32, 2**40)]),
                    "cfg": rng.choice([1.0, 2.5, 3.0, 5.0]), "conds": conds})
    return out


def main():
    rng = random.Random(20261124)
    noise = [noise_case(s, seed) for s, seed in [
        ([1], 0), ([2], 7), ([3], 1), ([15], 42), ([16], 0), ([17], 0), ([31], 3), ([33], 5), ([5, 7], 11),
        ([1, 16, 5, 4, 4], 0), ([2, 3, 37], 2**33 + 9), ([1, 16, 21, 60, 104], 0), ([1, 16, 21, 60, 104], 1234),
        ([1, 16, 21, 90, 160], 0), ([999], 2**32 - 1), ([1000003], 77)]]
    cases = []
    for cfg in random_configs(rng, 60):
        cases.append({"config": cfg, "fp32": trace_case(cfg, "fp32"), "bf16": trace_case(cfg, "bf16")})
    meta = {"torch": torch.__version__, "pusa_vidgen": "8a8c4f5",
            "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    json.dump({"meta": meta, "noise": noise, "traces": cases}, open(sys.argv[1], "w"))
    print("wrote", len(noise), "noise cases and", len(cases), "traces;", meta)


if __name__ == "__main__":
    main()
