"""Build the pusa-mini model pack from nothing: train VAE -> encode data -> train text encoder + DiT -> export
ONNX -> verify in onnxruntime CPU -> measure CPU cost -> measure quality -> write manifest.

  python3 training/build_pack.py --out models/pusa-mini --run /root/run [--vae-min 4.5 --dit-min 14]

Stages can be re-run alone (--stages export,bench,eval) from the checkpoints in --run.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import models  # noqa: E402
from models import DiT, TextEncoder, VAEDecoder, VAEEncoder  # noqa: E402
from sampler import train_sigmas  # noqa: E402

MAXLEN = 32
BASE_T = 45  # frames of a base training clip = 12 latents; windows of 5..9 latents are cut from it
CFG = dict(dit=dict(dim=256, layers=6, heads=4, ffn=1024, text_dim=128), text=dict(dim=128, layers=2, heads=4))


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def make_tokenizer(path):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    vocab = {"[PAD]": 0, "[UNK]": 1, "[EOS]": 2}
    for w in data.vocabulary():
        vocab[w] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A [EOS]", special_tokens=[("[EOS]", 2)])
    tok.add_special_tokens(["[PAD]", "[UNK]", "[EOS]"])  # listed as added tokens (ids unchanged), as HF does
    tok.save(path)
    return tok


def tokenize(tok, texts):
    """Runtime contract: ids of the text (truncated to 31) + [EOS], padded with [PAD]=0 to 32; mask 1 on real."""
    ids = torch.zeros(len(texts), MAXLEN, dtype=torch.long)
    mask = torch.zeros(len(texts), MAXLEN, dtype=torch.long)
    for i, t in enumerate(texts):
        e = tok.encode(t).ids
        e = e[:-1][: MAXLEN - 1] + [2]
        ids[i, : len(e)] = torch.tensor(e)
        mask[i, : len(e)] = 1
    return ids, mask


# ---------------------------------------------------------------------------------------------- VAE stage
def vae_batch(step, n, dev):
    """Clips of 9 frames at a random time offset; 25% of groups replaced by a still group of their last frame
    (that is what a keyframe image at latent k > 0 looks like to the decoder)."""
    g = torch.Generator().manual_seed(10_000_000 + step)
    t0 = int(torch.randint(0, BASE_T - 9, (1,), generator=g))
    p = data.sample_params(step, n)
    v = data.render(p, 9, dev, t0=t0)
    for k in (1, 2):
        sel = (torch.rand(n, generator=g) < 0.25).to(dev)
        still = v[:, :, 4 * k: 4 * k + 1].expand(-1, -1, 4, -1, -1)
        v[:, :, 4 * k - 3: 4 * k + 1] = torch.where(sel.view(n, 1, 1, 1, 1), still, v[:, :, 4 * k - 3: 4 * k + 1])
    return v


def psnr(a, b):
    mse = ((a.float() - b.float()) ** 2).flatten(1).mean(1)
    return (10 * torch.log10(4.0 / mse.clamp(min=1e-10))).mean().item()  # range [-1,1] -> peak-to-peak 2


def train_vae(args, dev):
    enc, dec = VAEEncoder().to(dev), VAEDecoder().to(dev)
    params = list(enc.parameters()) + list(dec.parameters())
    log("VAE params enc %.2fM dec %.2fM" % (sum(p.numel() for p in enc.parameters()) / 1e6,
                                            sum(p.numel() for p in dec.parameters()) / 1e6))
    opt = torch.optim.AdamW(params, lr=args.vae_lr, weight_decay=0.0)
    t_start, step, budget = time.time(), 0, args.vae_min * 60
    while time.time() - t_start < budget:
        frac = (time.time() - t_start) / budget
        lr = args.vae_lr * min(1.0, (step + 1) / 200) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
        for gr in opt.param_groups:
            gr["lr"] = lr
        v = vae_batch(step, args.vae_batch, dev)
        with torch.autocast("cuda", torch.bfloat16, enabled=dev.type == "cuda"):
            z = enc(v)
            zn = z + 0.02 * torch.randn_like(z) * z.detach().std()  # decoder tolerance to DiT errors
            y = dec(zn, clamp=False)
        y = y.float()
        loss = F.mse_loss(y, v) + 0.1 * (y - v).abs().mean() + args.vae_l2 * z.float().pow(2).mean()
        # frame 0 is what image-to-video keeps: weight it a bit more
        loss = loss + F.mse_loss(y[:, :, 0], v[:, :, 0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 200 == 0:
            log(f"vae step {step} loss {loss.item():.5f} psnr {psnr(y.clamp(-1, 1), v):.2f} lr {lr:.2e}")
        step += 1
        if args.smoke and step >= 3:
            break
    torch.save({"enc": enc.state_dict(), "dec": dec.state_dict()}, os.path.join(args.run, "vae.pt"))
    log(f"VAE done: {step} steps in {time.time() - t_start:.0f}s")
    return enc, dec


@torch.no_grad()
def encode_base(enc, vids):
    """Raw latents of base clips + 'still' latents of frames 4k (k=1..11), i.e. each frame that ends a group
    encoded alone as an image: used where training simulates keyframe images at latent k."""
    z = enc(vids)
    B = vids.shape[0]
    stills = vids[:, :, 4::4].transpose(1, 2).reshape(-1, 3, 1, data.H, data.W)
    zs = enc(stills).reshape(B, -1, 16, 1, 16, 16)[:, :, :, 0].transpose(1, 2)
    return z, zs


@torch.no_grad()
def build_latents(args, enc, dev, tok):
    enc.eval()
    n, chunk = args.clips, 64
    Z, ZS, caps = [], [], []
    for i in range(0, n, chunk):
        m = min(chunk, n - i)
        p = data.sample_params(1_000_000 + i, m)
        v = data.render(p, BASE_T, dev)
        with torch.autocast("cuda", torch.bfloat16, enabled=dev.type == "cuda"):
            z, zs = encode_base(enc, v)
        Z.append(z.float().half())
        ZS.append(zs.float().half())
        caps += [data.caption(p, j) for j in range(m)]
    Z, ZS = torch.cat(Z), torch.cat(ZS)
    # per-channel statistics of the raw latents (spec B.2: the sampler works in (mu - mean)/std)
    zf = Z.float().transpose(0, 1).reshape(16, -1)
    mean, std = zf.mean(1), zf.std(1)
    ids, mask = tokenize(tok, caps)
    log(f"latents {tuple(Z.shape)} mean {mean.abs().mean():.3f} std range {std.min():.3f}..{std.max():.3f}")
    return Z, ZS, ids, mask, mean, std


# ---------------------------------------------------------------------------------------------- DiT stage
TASKS = ["i2v", "startend", "extend", "transition", "keyframes"]


def dit_batch(step, Zn, ZSn, ids, mask, sig_table, dev, tokens_per_batch):
    """One training batch. Returns x_t, timestep [B,F], target, loss weight [B,F], ids, mask.

    Timesteps: 40% independent per frame (Pusa/FVDM), 30% one shared level (what plain sampling sees), 30%
    condition-like: some frames clean (m=0) or at m*t_base with m in (0,0.5], the rest at t_base.
    Windows start at latent s>0 for 40% of batches, so latent 0 may be a mid-clip group latent (extension)."""
    g = torch.Generator().manual_seed(20_000_000 + step)
    Fr = int(torch.randint(5, 10, (1,), generator=g))
    B = max(16, tokens_per_batch // (64 * Fr))
    nlat = Zn.shape[2]
    s = int(torch.randint(1, nlat - Fr + 1, (1,), generator=g)) if torch.rand(1, generator=g) < 0.4 else 0
    idx = torch.randint(0, Zn.shape[0], (B,), generator=g)
    x0 = Zn[idx, :, s:s + Fr].to(dev).float()
    stills = ZSn[idx].to(dev).float()  # [B,16,11,h,w], still latent of frame 4(k+1)
    u = torch.rand(B, generator=g)
    ti = torch.randint(0, 1000, (B, Fr), generator=g)
    tshared = torch.randint(0, 1000, (B, 1), generator=g).expand(B, Fr)
    sig = torch.where((u < 0.4).view(B, 1), sig_table[ti], sig_table[tshared]).clone()
    weight = torch.ones(B, Fr)
    cond = u >= 0.7
    task = torch.randint(0, len(TASKS), (B,), generator=g)
    for b in torch.nonzero(cond).flatten().tolist():
        name = TASKS[int(task[b])]
        img, vid = [], []  # image-type (still latent) and video-type (clip latent) condition frames
        if name == "i2v":
            img = [0]
        elif name == "startend":
            img = [0, Fr - 1]
        elif name == "keyframes":
            k = int(torch.randint(1, 4, (1,), generator=g))
            img = torch.randperm(Fr, generator=g)[:k].tolist()
        elif name == "extend":
            vid = list(range(int(torch.randint(1, 4, (1,), generator=g))))
        else:  # transition: tail of clip A first, head of clip B (starts with an image-type latent) last
            ka, kb = int(torch.randint(1, 3, (1,), generator=g)), int(torch.randint(1, 3, (1,), generator=g))
            vid = list(range(ka)) + list(range(Fr - kb + 1, Fr))
            img = [Fr - kb]
        for j in img:
            a = s + j
            if a > 0:
                x0[b, :, j] = stills[b, :, a - 1]
        for j in img + vid:
            m = 0.0 if torch.rand(1, generator=g) < 0.5 else float(torch.rand(1, generator=g)) * 0.5
            sig[b, j] = sig[b, j] * m
            if m == 0.0:
                weight[b, j] = 0.0  # frozen frames are never updated at inference: no loss on them
    eps = torch.randn_like(x0)  # on the GPU (a CPU generator here costs ~50 ms per step)
    sg = sig.to(dev).view(B, 1, Fr, 1, 1)
    xt = (1 - sg) * x0 + sg * eps
    drop = torch.rand(B, generator=g) < 0.1  # caption dropout -> empty prompt ("" = [EOS] only) for CFG
    bi, bm = ids[idx].clone(), mask[idx].clone()
    bi[drop], bm[drop] = 0, 0
    bi[drop, 0], bm[drop, 0] = 2, 1
    return xt, (sig * 1000).to(dev), eps - x0, weight.to(dev), bi.to(dev), bm.to(dev)


def train_dit(args, dev, Zn, ZSn, ids, mask, vocab_size):
    te = TextEncoder(vocab_size, **CFG["text"]).to(dev)
    dit = DiT(**CFG["dit"]).to(dev)
    ema_te, ema_dit = TextEncoder(vocab_size, **CFG["text"]).to(dev), DiT(**CFG["dit"]).to(dev)
    ema_te.load_state_dict(te.state_dict())
    ema_dit.load_state_dict(dit.state_dict())
    params = list(te.parameters()) + list(dit.parameters())
    log("DiT params %.2fM, text %.2fM" % (sum(p.numel() for p in dit.parameters()) / 1e6,
                                          sum(p.numel() for p in te.parameters()) / 1e6))
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    sig_table = train_sigmas()
    t_start, step, budget, ema_loss = time.time(), 0, args.dit_min * 60, None
    last_ckpt = time.time()
    while time.time() - t_start < budget:
        frac = (time.time() - t_start) / budget
        lr = args.lr * min(1.0, (step + 1) / 300) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for gr in opt.param_groups:
            gr["lr"] = lr
        xt, tv, target, w, bi, bm = dit_batch(step, Zn, ZSn, ids, mask, sig_table, dev, args.tokens)
        with torch.autocast("cuda", torch.bfloat16, enabled=dev.type == "cuda"):
            ctx = te(bi, bm)
            v = dit(xt, tv, ctx)
        err = (v.float() - target).pow(2).mean(dim=(1, 3, 4))  # [B,F]
        loss = (err * w).sum() / w.sum().clamp(min=1)
        if not torch.isfinite(loss):
            log(f"non-finite loss at step {step}, batch skipped")
            step += 1
            continue
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for e_m, m_ in ((ema_te, te), (ema_dit, dit)):
                for pe, pm in zip(e_m.parameters(), m_.parameters()):
                    pe.lerp_(pm, 1 - decay)
        ema_loss = loss.item() if ema_loss is None else 0.98 * ema_loss + 0.02 * loss.item()
        if step % 200 == 0 or step in (10, 50):
            log(f"dit step {step} loss {ema_loss:.4f} lr {lr:.2e} F={xt.shape[2]} B={xt.shape[0]} "
                f"{(time.time() - t_start) / (step + 1):.3f}s/step")
        if time.time() - last_ckpt > 240:
            save_dit(args, ema_te, ema_dit, step)
            last_ckpt = time.time()
        step += 1
        if args.smoke and step >= 3:
            break
    save_dit(args, ema_te, ema_dit, step)
    log(f"DiT done: {step} steps in {time.time() - t_start:.0f}s")
    return ema_te.eval(), ema_dit.eval()


def save_dit(args, te, dit, step):
    torch.save({"te": te.state_dict(), "dit": dit.state_dict(), "step": step}, os.path.join(args.run, "dit.pt"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models/pusa-mini")
    ap.add_argument("--run", default="training/runs/latest")
    ap.add_argument("--stages", default="vae,latents,dit,export,bench,eval")
    ap.add_argument("--vae-min", type=float, default=4.5)
    ap.add_argument("--dit-min", type=float, default=14.0)
    ap.add_argument("--vae-batch", type=int, default=24)
    ap.add_argument("--vae-lr", type=float, default=1e-3)
    ap.add_argument("--vae-l2", type=float, default=0.0)
    ap.add_argument("--vae-norm", type=int, default=1)
    ap.add_argument("--clips", type=int, default=16000)
    ap.add_argument("--tokens", type=int, default=147456)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--eval-n", type=int, default=100)
    ap.add_argument("--smoke", action="store_true", help="tiny CPU run to test the plumbing")
    args = ap.parse_args()
    os.makedirs(args.run, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    stages = args.stages.split(",")
    models.VAE_NORM = bool(args.vae_norm)
    t0 = time.time()
    tok = make_tokenizer(os.path.join(args.out, "tokenizer.json"))
    vocab_size = tok.get_vocab_size()
    timings = {}

    if "vae" in stages:
        t = time.time()
        enc, dec = train_vae(args, dev)
        timings["vae_train_s"] = time.time() - t
    else:
        ck = torch.load(os.path.join(args.run, "vae.pt"), map_location=dev)
        enc, dec = VAEEncoder().to(dev), VAEDecoder().to(dev)
        enc.load_state_dict(ck["enc"])
        dec.load_state_dict(ck["dec"])
    enc.eval()
    dec.eval()

    lat_path = os.path.join(args.run, "latents.pt")
    if "latents" in stages:
        t = time.time()
        Z, ZS, ids, mask, mean, std = build_latents(args, enc, dev, tok)
        torch.save({"mean": mean, "std": std}, os.path.join(args.run, "stats.pt"))
        timings["latents_s"] = time.time() - t
    if stages == ["vae"]:
        return
    stats = torch.load(os.path.join(args.run, "stats.pt"), map_location=dev)
    mean, std = stats["mean"].to(dev), stats["std"].to(dev)

    if "dit" in stages:
        t = time.time()
        Zn = ((Z.to(dev).float() - mean.view(1, 16, 1, 1, 1)) / std.view(1, 16, 1, 1, 1)).half()
        ZSn = ((ZS.to(dev).float() - mean.view(1, 16, 1, 1, 1)) / std.view(1, 16, 1, 1, 1)).half()
        del Z, ZS
        te, dit = train_dit(args, dev, Zn, ZSn, ids, mask, vocab_size)
        timings["dit_train_s"] = time.time() - t
        del Zn, ZSn
    else:
        ck = torch.load(os.path.join(args.run, "dit.pt"), map_location=dev)
        te, dit = TextEncoder(vocab_size, **CFG["text"]).to(dev), DiT(**CFG["dit"]).to(dev)
        te.load_state_dict(ck["te"])
        dit.load_state_dict(ck["dit"])
        te.eval()
        dit.eval()
    if timings:
        with open(os.path.join(args.run, "timings.json"), "w") as f:
            json.dump(timings, f)

    import export  # noqa: E402  (after training: keeps onnx imports out of the training path)
    if "export" in stages:
        export.export_all(args, enc, dec, te, dit, tok, mean, std, dev)
    else:  # evaluate exactly the weights the pack stores
        for m in (enc, dec, te, dit):
            export.round_fp16_(m)
    if "bench" in stages:
        export.bench(args)
    if "eval" in stages:
        import evaluate  # noqa: E402
        evaluate.run_all(args, enc, dec, te, dit, tok, mean, std, dev)
    export.write_manifest(args)
    log(f"all done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
