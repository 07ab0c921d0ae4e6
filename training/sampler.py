"""Reference sampler for pusa-mini evaluation (spec A.1-A.5), batched, in torch.

Latents here are *normalised* (z = (mu - mean)/std), exactly what dit.onnx takes.
conds: list of (latent_index, m); cond_lat [B,16,len(conds),h,w] holds the clean normalised latents.
m = 0 freezes the frame (its timestep is 0 and it is never updated); m > 0 noises it once at step 0 to
(1-m)*z + m*eps and lets it follow the scaled trajectory m*sigma (Euler step scaled by m).
"""
import torch


def schedule(n, shift=5.0):
    s = torch.linspace(1.0, 0.0, n + 1, dtype=torch.float32)[:n]
    sig = shift * s / (1 + (shift - 1) * s)
    return sig, sig * 1000.0


def train_sigmas(shift=5.0, n=1000):
    """The 1000-entry shifted training table (spec C): timesteps are drawn uniformly from it."""
    return schedule(n, shift)[0]


def randn(seed, shape):
    """CPU Mersenne-Twister randn, seeded per sample (spec A.2/A.10)."""
    return torch.randn(shape, generator=torch.Generator("cpu").manual_seed(int(seed)), dtype=torch.float32)


@torch.no_grad()
def sample(dit, ctx_pos, ctx_neg, frames, seeds, steps=10, guidance=3.0, conds=(), cond_lat=None, shift=5.0,
           hw=(16, 16), device="cuda"):
    B = ctx_pos.shape[0]
    sig, T = schedule(steps, shift)
    eps = torch.stack([randn(s, (16, frames) + tuple(hw)) for s in seeds]).to(device)
    lat = eps.clone()
    for j, (idx, m) in enumerate(conds):
        lat[:, :, idx] = cond_lat[:, :, j].to(device)
        if m > 0:  # noised once, at step 0 where sigma = 1 (A.3)
            lat[:, :, idx] = (1 - m) * lat[:, :, idx] + m * eps[:, :, idx]
    for k in range(steps):
        tv = torch.full((frames,), float(T[k]))
        for idx, m in conds:
            tv[idx] = tv[idx] * m
        tv = torch.trunc(tv)
        s0 = torch.full((frames,), float(sig[k]))
        s1 = torch.full((frames,), float(sig[k + 1]) if k + 1 < steps else 0.0)
        for idx, m in conds:
            if tv[idx] == 0:
                s0[idx] = s1[idx] = 0.0
            else:
                s0[idx] *= m
                s1[idx] *= m
        tvb = tv.to(device).expand(B, frames)
        if guidance != 1.0:
            v = dit(torch.cat([lat, lat]), torch.cat([tvb, tvb]), torch.cat([ctx_pos, ctx_neg]))
            vp, vn = v[:B], v[B:]
            v = vn + guidance * (vp - vn)
        else:
            v = dit(lat, tvb, ctx_pos)
        lat = lat + v.float() * (s1 - s0).to(device).view(1, 1, frames, 1, 1)
    return lat
