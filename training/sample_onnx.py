"""Run a shipped pack with onnxruntime CPU only (numpy, no torch): the reference for the TypeScript runtime.

  python3 training/sample_onnx.py --pack models/pusa-mini --prompt "a red circle moves left on a black background" \
      [--image first.png] [--frames 33] [--out /tmp/clip.png]

Follows spec A.1-A.5 with the pack's manifest: normalised latents, per-frame timesteps, CFG with batch 2.
Writes a contact sheet (every 4th frame) as PNG and prints timings.
"""
import argparse
import json
import os
import time

import numpy as np
import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before the import: read once at init (docs/deploy.md)
import onnxruntime as ort  # noqa: E402


def session(path, threads=2):
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def tokenize(tok, text, n=32):
    ids = tok.encode(text).ids[:-1][: n - 1] + [2]  # content (<= 31) + [EOS], then [PAD]=0
    a, m = np.zeros((1, n), np.int64), np.zeros((1, n), np.int64)
    a[0, : len(ids)], m[0, : len(ids)] = ids, 1
    return a, m


def schedule(n, shift):
    s = np.linspace(1.0, 0.0, n + 1, dtype=np.float32)[:n]
    sig = shift * s / (1 + (shift - 1) * s)
    return sig, sig * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", default="models/pusa-mini")
    ap.add_argument("--prompt", default="a red circle moves left on a black background")
    ap.add_argument("--image", help="i2v: condition image for latent 0 (resized to 128x128)")
    ap.add_argument("--frames", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--out", default="/tmp/pusa_mini_sample.png")
    a = ap.parse_args()
    from tokenizers import Tokenizer
    man = json.load(open(os.path.join(a.pack, "manifest.json")))
    d = man["defaults"]
    T = a.frames or man["video"]["defaultFrames"]
    F = 1 + (T - 1) // 4
    mean = np.array(man["latent"]["mean"], np.float32).reshape(1, 16, 1, 1, 1)
    std = np.array(man["latent"]["std"], np.float32).reshape(1, 16, 1, 1, 1)
    f = man["files"]
    te, dit, dec = (session(os.path.join(a.pack, f[k]["path"])) for k in ("textEncoder", "dit", "vaeDecoder"))
    tok = Tokenizer.from_file(os.path.join(a.pack, man["text"]["tokenizer"]))
    t0 = time.perf_counter()
    ids = [tokenize(tok, s) for s in (a.prompt, d["negativePrompt"])]
    ctx = te.run(None, {"input_ids": np.concatenate([i for i, _ in ids]),
                        "attention_mask": np.concatenate([m for _, m in ids])})[0]
    t_text = time.perf_counter() - t0
    rng = np.random.default_rng(a.seed if a.seed is not None else d["seed"])  # (not torch's MT stream)
    eps = rng.standard_normal((1, 16, F, 16, 16)).astype(np.float32)
    lat = eps.copy()
    conds = []
    if a.image:
        from PIL import Image
        img = np.asarray(Image.open(a.image).convert("RGB").resize((128, 128), Image.LANCZOS), np.float32)
        img = (img * 2 / 255 - 1).transpose(2, 0, 1)[None, :, None]
        enc = session(os.path.join(a.pack, f["vaeEncoder"]["path"]))
        z = (enc.run(None, {"video": img})[0] - mean) / std
        m = d["noiseMultipliers"]["i2v"]
        conds = [(0, m)]
        lat[:, :, 0] = (1 - m) * z[:, :, 0] + m * eps[:, :, 0]
    sig, Ts = schedule(d["steps"], d["shift"])
    g = d["guidance"]
    t1 = time.perf_counter()
    for k in range(d["steps"]):
        tv = np.full(F, Ts[k], np.float32)
        s0 = np.full(F, sig[k], np.float32)
        s1 = np.full(F, sig[k + 1] if k + 1 < d["steps"] else 0.0, np.float32)
        for idx, m in conds:
            tv[idx] = np.trunc(tv[idx] * m)
            s0[idx], s1[idx] = (0.0, 0.0) if tv[idx] == 0 else (s0[idx] * m, s1[idx] * m)
        v = dit.run(None, {"x": np.concatenate([lat, lat]), "timestep": np.stack([np.trunc(tv)] * 2),
                           "context": ctx})[0]
        v = v[1:] + g * (v[:1] - v[1:])
        lat = lat + v * (s1 - s0).reshape(1, 1, F, 1, 1)
    t2 = time.perf_counter()
    video = dec.run(None, {"latents": lat * std + mean})[0]
    t3 = time.perf_counter()
    print(json.dumps({"frames": T, "text_s": t_text, "dit_s": t2 - t1, "decode_s": t3 - t2, "total_s": t3 - t0}))
    u8 = np.clip((video[0] + 1) * 127.5, 0, 255).astype(np.uint8).transpose(1, 2, 3, 0)  # [T,H,W,3]
    sheet = np.concatenate(list(u8[::4]), 1)
    from PIL import Image
    Image.fromarray(sheet).save(a.out)
    np.save(a.out.rsplit(".", 1)[0] + ".npy", u8)


if __name__ == "__main__":
    main()
