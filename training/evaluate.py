"""Quality figures on held-out seeds (seeds >= 9e6 are never used in training), with the reference sampler.

  python3 training/build_pack.py --stages eval --run <run> --out <pack>   (loads the checkpoints)

Writes <run>/eval.json. All videos are decoded with the pack's decoder weights (fp16-rounded, fp32 compute).
"""
import json
import os
import time

import numpy as np
import torch

import data
from analyze import analyze, to_uint8
from sampler import sample

SEED0 = 9_000_000
F_EVAL = 9  # 33 frames (the default frame count)
T_EVAL = 1 + 4 * (F_EVAL - 1)


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def psnr(a, b):  # per-sample PSNR in dB for tensors in [-1,1], peak-to-peak 2
    mse = ((a.float() - b.float()) ** 2).flatten(1).mean(1).clamp(min=1e-10)
    return 10 * torch.log10(4.0 / mse)


def single_object_params(seed, n):
    """Held-out t2v prompts: one object, one of the 8 directional moves, plain background, no pan."""
    g = torch.Generator().manual_seed(seed)
    force = {"nshape": torch.ones(n, dtype=torch.long), "grad": torch.zeros(n, dtype=torch.long),
             "pan": torch.full((n,), -1, dtype=torch.long),
             "motion": torch.randint(0, 8, (n, 3), generator=g)}
    return data.sample_params(seed, n, force=force)


class Ctx:
    def __init__(self, enc, dec, te, dit, tok, mean, std, dev):
        self.enc, self.dec, self.te, self.dit, self.tok, self.dev = enc, dec, te, dit, tok, dev
        self.mean, self.std = mean.view(1, 16, 1, 1, 1), std.view(1, 16, 1, 1, 1)

    @torch.no_grad()
    def text(self, texts):
        from build_pack import tokenize
        ids, mask = tokenize(self.tok, texts)
        return self.te(ids.to(self.dev), mask.to(self.dev))

    @torch.no_grad()
    def encode(self, v):  # pixels -> normalised latents
        z = torch.cat([self.enc(v[i:i + 16].to(self.dev)) for i in range(0, v.shape[0], 16)])
        return (z - self.mean) / self.std

    @torch.no_grad()
    def decode(self, z):  # normalised latents -> pixels
        return torch.cat([self.dec(z[i:i + 16] * self.std + self.mean) for i in range(0, z.shape[0], 16)])

    def gen(self, caps, seeds, frames=F_EVAL, guidance=3.0, steps=10, conds=(), cond_lat=None):
        cp, cn = self.text(caps), self.text([""] * len(caps))
        with torch.no_grad():
            return sample(self.dit, cp, cn, frames, seeds, steps, guidance, conds, cond_lat, device=self.dev)


def smooth(v):  # mean abs frame-to-frame difference, on the 0..255 scale, per clip
    return ((v[:, :, 1:] - v[:, :, :-1]).abs().flatten(1).mean(1) * 127.5)


@torch.no_grad()
def eval_vae(c, n=64):
    v, _, _ = data.make_batch(SEED0 + 1, n, 17, c.dev)
    img = v[:, :, :1]
    r_img = c.decode(c.encode(img))
    r_clip = c.decode(c.encode(v))
    return {"image_psnr": psnr(r_img, img).mean().item(), "clip_psnr": psnr(r_clip, v).mean().item(),
            "clip_frame0_psnr": psnr(r_clip[:, :, 0], v[:, :, 0]).mean().item()}


def eval_t2v(c, n, guidances):
    p = single_object_params(SEED0 + 2, n)
    caps = [data.caption(p, i) for i in range(n)]
    want = [(data.COLOR_NAMES[int(p["color"][i, 0])], data.MOTIONS[int(p["motion"][i, 0])]) for i in range(n)]
    gt = data.render(p, T_EVAL, c.dev)

    def score(vids):
        res = [analyze(to_uint8(vids[i])) for i in range(n)]
        col = np.mean([r["color"] == w[0] for r, w in zip(res, want)])
        dr = np.mean([r["direction"] == w[1] for r, w in zip(res, want)])
        both = np.mean([r["color"] == w[0] and r["direction"] == w[1] for r, w in zip(res, want)])
        return {"color_acc": float(col), "direction_acc": float(dr), "pass_rate": float(both)}

    out = {"n": n, "ground_truth": score(gt), "gt_smoothness": smooth(gt).mean().item(), "by_guidance": {}}
    best = None
    for g in guidances:
        z = c.gen(caps, [SEED0 + 100 + i for i in range(n)], guidance=g)
        v = c.decode(z)
        s = score(v)
        s["smoothness"] = smooth(v).mean().item()
        out["by_guidance"][str(g)] = s
        log(f"t2v guidance {g}: {s}")
        if best is None or s["pass_rate"] > best[1]["pass_rate"]:
            best = (g, s, v)
    out["best_guidance"] = best[0]
    return out, best[0], caps, best[2]


def eval_i2v(c, n, g, mults=(0.0, 0.2)):
    v, caps, _ = data.make_batch(SEED0 + 3, n, T_EVAL, c.dev)
    img = v[:, :, :1]
    zi = c.encode(img)
    res = {}
    for m in mults:
        z = c.gen(caps, [SEED0 + 200 + i for i in range(n)], guidance=g, conds=[(0, m)], cond_lat=zi)
        out = c.decode(z)
        res[str(m)] = {"frame0_psnr": psnr(out[:, :, 0], img[:, :, 0]).mean().item(),
                       "smoothness": smooth(out).mean().item(),
                       "motion_vs_frame0": (out[:, :, -1] - out[:, :, 0]).abs().mean().item() * 127.5}
        log(f"i2v m={m}: {res[str(m)]}")
    return res


def eval_startend(c, n, g, pairs=((0.0, 0.0), (0.2, 0.5))):
    v, caps, _ = data.make_batch(SEED0 + 4, n, T_EVAL, c.dev)
    first, last = v[:, :, :1], v[:, :, -1:]
    zl = torch.cat([c.encode(first), c.encode(last)], 2)
    res = {}
    for m0, m1 in pairs:
        z = c.gen(caps, [SEED0 + 300 + i for i in range(n)], guidance=g, conds=[(0, m0), (F_EVAL - 1, m1)],
                  cond_lat=zl)
        out = c.decode(z)
        res[f"{m0},{m1}"] = {"first_psnr": psnr(out[:, :, 0], first[:, :, 0]).mean().item(),
                             "last_psnr": psnr(out[:, :, -1], last[:, :, 0]).mean().item(),
                             "smoothness": smooth(out).mean().item()}
        log(f"start-end {m0},{m1}: {res[f'{m0},{m1}']}")
    return res


def eval_extend(c, caps, n, g, settings=((1, (0.0,)), (2, (0.0, 0.0)), (2, (0.0, 0.3)))):
    """Clip A = t2v sample; extension = last K latents of A at the START of a new clip as condition frames."""
    seeds = [SEED0 + 400 + i for i in range(n)]
    za = c.gen(caps[:n], seeds, guidance=g)
    va = c.decode(za)
    inner = smooth(va).mean().item()
    # frame pairs that straddle two latents (4k-4 -> 4k-3): the seam of an extension is one of these
    bidx = [4 * k - 3 for k in range(1, za.shape[2])]
    bnd = ((va[:, :, bidx] - va[:, :, [i - 1 for i in bidx]]).abs().mean().item() * 127.5)
    res = {"inside_clip_frame_diff": inner, "inside_clip_latent_boundary_diff": bnd}
    for K, ms in settings:
        conds = [(j, m) for j, m in enumerate(ms)]
        zb = c.gen(caps[:n], [s + 50 for s in seeds], guidance=g, conds=conds, cond_lat=za[:, :, -K:])
        vb = c.decode(zb)
        first_new = 4 * K - 3
        seam = (vb[:, :, first_new] - va[:, :, -1]).abs().flatten(1).mean(1).mean().item() * 127.5
        carried = psnr(vb[:, :, first_new - 1], va[:, :, -1]).mean().item()
        key = f"K={K} m={','.join(map(str, ms))}"
        res[key] = {"seam_diff": seam, "seam_ratio": seam / inner, "seam_ratio_vs_boundaries": seam / bnd,
                    "carried_last_frame_psnr": carried,
                    "smoothness": smooth(vb[:, :, first_new - 1:]).mean().item()}
        log(f"extend {key}: {res[key]}")
    return res


def eval_transition(c, caps, n, g, ms=((0.0, 0.0), (0.0, 0.3))):
    seeds = [SEED0 + 500 + i for i in range(n)]
    za = c.gen(caps[:n], seeds, guidance=g)
    va = c.decode(za)
    vb_img, _, _ = data.make_batch(SEED0 + 6, n, 1, c.dev)  # clip B head = an image of another scene
    zb = c.encode(vb_img)
    res = {}
    for ma, mb in ms:
        z = c.gen(caps[:n], [s + 50 for s in seeds], guidance=g, conds=[(0, ma), (F_EVAL - 1, mb)],
                  cond_lat=torch.cat([za[:, :, -1:], zb], 2))
        out = c.decode(z)
        res[f"{ma},{mb}"] = {"start_psnr_vs_A_last": psnr(out[:, :, 0], va[:, :, -1]).mean().item(),
                             "end_psnr_vs_B_first": psnr(out[:, :, -1], vb_img[:, :, 0]).mean().item(),
                             "smoothness": smooth(out).mean().item()}
        log(f"transition {ma},{mb}: {res[f'{ma},{mb}']}")
    return res


def run_all(args, enc, dec, te, dit, tok, mean, std, dev):
    t0 = time.time()
    c = Ctx(enc.eval(), dec.eval(), te.eval(), dit.eval(), tok, mean, std, dev)
    n = args.eval_n
    ev = {"vae": eval_vae(c)}
    log("vae", ev["vae"])
    ev["t2v"], g, caps, _ = eval_t2v(c, n, (1.0, 3.0, 5.0))
    ev["i2v"] = eval_i2v(c, n, g)
    ev["startend"] = eval_startend(c, n, g)
    ev["extend"] = eval_extend(c, caps, n, g)
    ev["transition"] = eval_transition(c, caps, n, g)
    # defaults = the measured best of each candidate set (ties -> smaller multipliers)
    i2v_m = max(ev["i2v"], key=lambda k: ev["i2v"][k]["frame0_psnr"])
    se = max(ev["startend"], key=lambda k: ev["startend"][k]["first_psnr"] + ev["startend"][k]["last_psnr"])
    ext = min((k for k in ev["extend"] if k.startswith("K=")), key=lambda k: ev["extend"][k]["seam_ratio"])
    K = int(ext.split()[0][2:])
    ext_m = [float(x) for x in ext.split()[1][2:].split(",")]
    tr = max(ev["transition"], key=lambda k: ev["transition"][k]["start_psnr_vs_A_last"]
             + ev["transition"][k]["end_psnr_vs_B_first"])
    tr_m = [float(x) for x in tr.split(",")]
    ev["chosen"] = {"steps": 10, "guidance": g, "noiseMultipliers": {
        "i2v": float(i2v_m), "startEnd": [float(x) for x in se.split(",")], "keyframe": float(i2v_m),
        "extend": {"frames": K, "multipliers": ext_m},
        "transition": {"startFrames": 1, "endFrames": 1, "start": [tr_m[0]], "end": [tr_m[1]]}}}
    ev["eval_seconds"] = time.time() - t0
    with open(os.path.join(args.run, "eval.json"), "w") as f:
        json.dump(ev, f, indent=1)
    log("eval done", json.dumps(ev["chosen"]))
    return ev
