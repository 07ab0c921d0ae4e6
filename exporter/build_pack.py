"""Build a whole model pack (docs/model-pack.md) from the official Wan2.1-T2V-14B folder and the Pusa LoRA.

    python3 exporter/build_pack.py --wan-dir Wan2.1-T2V-14B --pusa-lora pusa_v1.pt --out packs/pusa-v1 \
        [--alpha 1.4] [--lightx2v low_noise_model.safetensors] [--dtype fp16] [--quant int8|int4] [--small]

Writes `dit.onnx`, `vae_encoder.onnx`, `vae_decoder.onnx`, `text_encoder.onnx` (+ their `.data` files),
`tokenizer.json` and `manifest.json` with the reference defaults (spec §A.7; the LightX2V defaults with --lightx2v),
Wan's latent statistics (§B.2), the reference VAE tiling (§A.6), a latent→RGB preview fitted on the exported VAE,
and each graph's I/O read back from the graph itself.  `--quant` adds a weight-only MatMulNBits copy of the DiT as
the pack's DiT (the fp16 one is not kept: one pack, one DiT).  `--small` expects a folder written by
`make_fake_wan.py --small` (reduced configs, same layout and key names) — what the tests use.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import preflight  # noqa: E402  (standard library only)

if __name__ == "__main__":  # a missing torch or onnx is named with everything else missing, not as an ImportError
    preflight.require_packages(preflight.wan_dir_from_argv(sys.argv[1:]))

import torch  # noqa: E402

import export_dit  # noqa: E402
import export_text  # noqa: E402
import export_vae  # noqa: E402
import lora as lora_mod  # noqa: E402
import small_configs  # noqa: E402
from onnx_facts import io_spec  # noqa: E402
from umt5 import UMT5_XXL  # noqa: E402
from wan_dit import WAN21_T2V_14B, WanConfig  # noqa: E402

# spec §A.7: the English translation of Wan's negative prompt, used by every Pusa script
NEGATIVE_PROMPT = (
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, static, overall "
    "gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, extra fingers, poorly drawn hands, "
    "poorly drawn faces, deformed, disfigured, misshapen limbs, fused fingers, still picture, messy background, three "
    "legs, many people in the background, walking backwards")
# spec §B.2 (identical in Pusa and Wan2.1)
LATENT_MEAN = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715, 0.5517,
               -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]
LATENT_STD = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579,
              1.6382, 1.1253, 2.8251, 1.9160]


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def defaults(lightx2v: bool) -> dict:
    """Spec §A.7.  The Wan2.1 CLIs: 30 steps, guidance 3.0, shift 5, seed 0, the English negative prompt;
    with LightX2V 4 steps at guidance 1.0 (the README's recipe).  Multipliers: i2v 0.2, start-end (0.2, 0.5) as the
    README recommends, keyframes 0.2, extension from the end of the clip (our fix of E8) with the V2V example's
    0.0/0.3/0.4/0.5 over 4 latents, transition 2 + 1 latents at 0.2."""
    return {
        "steps": 4 if lightx2v else 30, "shift": 5.0, "guidance": 1.0 if lightx2v else 3.0,
        "negativePrompt": NEGATIVE_PROMPT, "seed": 0,
        "noiseMultipliers": {
            "i2v": 0.2, "startEnd": [0.2, 0.5], "keyframe": 0.2,
            "extend": {"frames": 4, "multipliers": [0.0, 0.3, 0.4, 0.5]},
            "transition": {"startFrames": 2, "endFrames": 1, "start": [0.2, 0.2], "end": [0.2]},
        },
    }


def file_entry(pack: str, name: str) -> dict:
    path = os.path.join(pack, name)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return {"path": name, "sha256": h.hexdigest(), "bytes": os.path.getsize(path), **io_spec(path)}


@torch.no_grad()
def fit_preview(encoder_path: str, n: int = 48, size: int = 64, seed: int = 0) -> dict:
    """Least-squares latent→RGB map (docs/model-pack.md "Preview projection") fitted on the exported encoder:
    smooth random colour images (T = 1) are encoded, their pixels average-pooled ×8, and rgb ≈ W·z + b solved over
    every latent pixel.  z is normalised with Wan's statistics, as the sampler sees it."""
    import numpy as np
    from ort_quiet import load as _load_ort
    ort = _load_ort()
    sess = ort.InferenceSession(encoder_path, providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 1, 4, 4, generator=g) * 2 - 1
    imgs = torch.nn.functional.interpolate(coarse[:, :, 0], size=(size, size), mode="bicubic",
                                           align_corners=False).clamp(-1, 1).unsqueeze(2)
    zs, rgbs = [], []
    mean = torch.tensor(LATENT_MEAN).view(16, 1, 1)
    std = torch.tensor(LATENT_STD).view(16, 1, 1)
    for i in range(n):
        mu = torch.from_numpy(sess.run(["latent_mean"], {"video": imgs[i:i + 1].numpy()})[0])[0, :, 0]
        z = (mu - mean) / std
        rgb = torch.nn.functional.avg_pool2d(imgs[i, :, 0].unsqueeze(0), 8)[0]
        zs.append(z.reshape(16, -1).T)
        rgbs.append(rgb.reshape(3, -1).T)
    Z = torch.cat(zs).double().numpy()
    Y = torch.cat(rgbs).double().numpy()
    A = np.concatenate([Z, np.ones((Z.shape[0], 1))], axis=1)
    sol, *_ = np.linalg.lstsq(A, Y, rcond=None)
    rmse = float(np.sqrt(((A @ sol - Y) ** 2).mean()))
    return {"weights": sol[:16].T.tolist(), "bias": sol[16].tolist(), "rmse": rmse}


def build(a) -> dict:
    t0 = time.time()
    os.makedirs(a.out, exist_ok=True)
    dit_cfg, t5_cfg = (small_configs.DIT, small_configs.T5) if a.small else (WAN21_T2V_14B, UMT5_XXL)
    facts = {"dtype": a.dtype, "quant": a.quant, "alpha": a.alpha, "lightx2v": bool(a.lightx2v), "small": a.small}

    if a.random:  # full width, random weights made on the device, a.random blocks: the full-size GPU run, [10]
        dit_cfg = WanConfig(**{**WAN21_T2V_14B.to_dict(), "num_layers": a.random})
        facts["random_layers"] = a.random
        state = None
    else:
        log("DiT: loading shards from", a.wan_dir)
        state = export_dit.load_state(export_dit.shard_files(a.wan_dir))
    pusa = lora_mod.load_lora_file(a.pusa_lora) if a.pusa_lora else None
    l2v = lora_mod.load_lora_file(a.lightx2v) if a.lightx2v else None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = export_dit.build_model(dit_cfg, state, dtype=torch.bfloat16, pusa_lora=pusa, alpha=a.alpha,
                                   lightx2v=l2v, device=device)
    del state
    model = model.to(export_dit.DTYPES[a.dtype])
    ex = tuple(t.to(device) for t in export_dit.example_inputs(dit_cfg, b=1, f=2, h=4, w=4, lc=t5_cfg.text_len))
    export_dit.export_onnx(model, os.path.join(a.out, "dit.onnx"), ex)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    if a.quant:
        import bench_gpu
        q = bench_gpu.quantize(os.path.join(a.out, "dit.onnx"), os.path.join(a.out, "dit-q.onnx"),
                               bits=int(a.quant.removeprefix("int")))
        for suffix in ("", ".data"):
            os.replace(os.path.join(a.out, "dit-q.onnx" + suffix), os.path.join(a.out, "dit.onnx" + suffix))
        facts["quantized_bytes"] = q["bytes"]
    log("DiT written", round(time.time() - t0), "s")

    log("VAE")
    # the VAE's config is read from the checkpoint's shapes (the reduced test one or the official one)
    vae_state = None if a.random else export_vae.load_vae_state(os.path.join(a.wan_dir, "Wan2.1_VAE.pth"))
    export_vae.export_vae(vae_state, a.out, a.dtype, a.vae_layout)

    log("text encoder + tokenizer")
    t5_state = None if a.random else export_text.load_checkpoint(a.wan_dir)
    if a.small:  # the test tokenizer decides the reduced vocabulary
        t5_cfg = dataclasses.replace(t5_cfg, vocab=t5_state["token_embedding.weight"].shape[0])
    export_text.export_text_encoder(t5_state, t5_cfg, a.out, a.dtype)
    if a.random:
        with open(a.tokenizer, encoding="utf-8") as f:
            tok = export_text.write_tokenizer(json.load(f), a.out, a.tokenizer)
    else:
        tok = export_text.copy_tokenizer(a.wan_dir, a.out)
    if tok["vocabSize"] > t5_cfg.vocab:  # ids past the embedding table fail only at run time, deep in onnxruntime
        raise SystemExit(f"tokenizer has {tok['vocabSize']} ids but the text encoder embeds {t5_cfg.vocab}: "
                         f"{a.wan_dir}/google/umt5-xxl does not belong to this checkpoint")

    preview = fit_preview(os.path.join(a.out, "vae_encoder.onnx"))
    name = "pusa-v1-wan2.1-t2v-14b" + ("-lightx2v" if a.lightx2v else "") + (f"-{a.quant}" if a.quant else "")
    if a.small:
        name = "wan-small-test-pack"
    if a.random:
        name = f"random-wan2.1-t2v-14b-{a.random}-blocks"
    manifest = {
        "format": "pusa-model-pack", "formatVersion": 1, "name": name, "version": "1.0.0",
        "license": "Apache-2.0",
        "description": (
            "Wan2.1-T2V-14B with the Pusa V1.0 LoRA merged (alpha %.2f%s), exported by exporter/build_pack.py: "
            "DiT %s%s, VAE %s, umT5-XXL %s." % (a.alpha, ", LightX2V first" if a.lightx2v else "", a.dtype,
                                                 f" weights {a.quant}" if a.quant else "", a.dtype, a.dtype))
        if not a.small and not a.random else
        f"Wan2.1-T2V-14B's architecture at full width with {a.random} blocks of random weights, for GPU benchmarks."
        if a.random else "Reduced-size random-weight pack with the real Wan/Pusa architecture, for tests.",
        # Wan generates 16-fps motion; the reference writes 25 fps files, which plays 1.5x fast (spec E4)
        "fps": 16,
        "video": {"sizes": small_configs.SIZES if a.small else [[832, 480], [480, 832], [1280, 720], [720, 1280]],
                  "frameCounts": [5, 9, 13, 17] if a.small else [33, 49, 65, 81],
                  "defaultFrames": 9 if a.small else 81},
        "latent": {"channels": 16, "temporalFactor": 4, "spatialFactor": 8, "patch": [1, 2, 2],
                   "mean": LATENT_MEAN, "std": LATENT_STD},
        "text": {"tokenizer": "tokenizer.json", "maxLength": t5_cfg.text_len, "dim": t5_cfg.dim,
                 "padId": tok["padId"]},
        # the reference feeds the DiT bf16 latents and bf16-rounded timesteps (936, not 937.5): the runtime mirrors
        # those inputs; the graph itself computes in `facts.dtype`
        "modelPrecision": "bf16",
        "defaults": defaults(bool(a.lightx2v)),
        "files": {key: file_entry(a.out, f) for key, f in (("textEncoder", "text_encoder.onnx"), ("dit", "dit.onnx"),
                                                             ("vaeEncoder", "vae_encoder.onnx"),
                                                             ("vaeDecoder", "vae_decoder.onnx"))},
        # the reference decodes in spatial tiles (spec A.6); the 5-D graph must (onnxruntime's CUDA kernels refuse a
        # whole 81-frame 480p clip), the chunked graph need not: whole frames have no seams and cost 2.5 s at 480p
        # on an H200 against 8.4 s in tiles (docs/vae-notes.md). --vae-tiling reference keeps the reference's tiles.
        **({"vaeTiling": {"tile": [30, 52], "stride": [15, 26]}}
           if a.vae_layout == "ncdhw" or a.vae_tiling == "reference" else {}),
        "preview": {"latentToRgb": {"weights": preview["weights"], "bias": preview["bias"]}},
        "cost": cost_model(a),
    }
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    facts.update(name=name, seconds=round(time.time() - t0), preview_rmse=preview["rmse"],
                 bytes=sum(os.path.getsize(os.path.join(a.out, p)) for p in os.listdir(a.out)))
    with open(os.path.join(a.out, "build.json"), "w") as f:
        json.dump(facts, f, indent=1)
    log("pack written:", json.dumps(facts))
    return facts


def cost_model(a) -> dict:
    """GPU cost for ETAs, measured in docs/benchmarks.md (2026-11-24, H100, onnxruntime-node CUDA, fp16, guided
    batch 2): a 480p step (32,760 tokens) took 6.50 s, a 720p step (75,600) 24.47 s.  Attention makes the cost grow
    faster than the token count, so a free line through both has a negative intercept; as docs/model-pack.md says for
    that case, the slope is fitted through the origin instead.  The tiled VAE decode of 81 frames at 480p took
    16.5 s.  The worker rescales all of it with its own first step."""
    if a.small:
        return {"device": "none (test pack)", "batch": 2, "secondsPerStep": {"base": 0.0, "perToken": 1e-5}}
    measured = [(32_760, 6.50), (75_600, 24.47)]
    per_token = sum(n * s for n, s in measured) / sum(n * n for n, _ in measured)
    return {"device": "NVIDIA H100 80GB, onnxruntime-node 1.29 CUDA, fp16 DiT (docs/benchmarks.md)", "batch": 2,
            "secondsPerStep": {"base": 0.0, "perToken": per_token}, "vaeDecodeSeconds": {"81": 16.5}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wan-dir", help="official Wan2.1-T2V-14B folder (or --random)")
    ap.add_argument("--random", type=int, metavar="BLOCKS",
                    help="no weights: the 14B architecture at full width with BLOCKS blocks (40 = full size) of random "
                         "weights made on the GPU, for benchmarks; needs --tokenizer")
    ap.add_argument("--tokenizer", help="with --random: a umT5-layout tokenizer.json")
    ap.add_argument("--pusa-lora", help="pusa_v1.pt (PEFT keys); without it the pack is plain Wan2.1 T2V")
    ap.add_argument("--alpha", type=float, default=1.4, help="Pusa LoRA multiplier (raw, no /rank; spec B.4)")
    ap.add_argument("--lightx2v", help="LightX2V LoRA (.safetensors), merged first; sets 4 steps / guidance 1")
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16")
    ap.add_argument("--quant", choices=["int8", "int4"], help="weight-only MatMulNBits DiT (24 GB GPUs)")
    ap.add_argument("--vae-layout", choices=export_vae.LAYOUTS, default="chunked",
                    help="VAE graph layout (export_vae.py LAYOUTS); chunked decodes whole frames one latent frame at a time")
    ap.add_argument("--vae-tiling", choices=["none", "reference"], default="none",
                    help="'reference': decode in the reference's 30x52-latent tiles (spec A.6), for pixel parity with "
                         "it; always so with --vae-layout ncdhw")
    ap.add_argument("--small", action="store_true", help="reduced configs (a make_fake_wan.py --small folder)")
    ap.add_argument("--skip-preflight", action="store_true",
                    help="do not check packages, RAM, GPU memory and disk first (exporter/preflight.py)")
    a = ap.parse_args(argv)
    if a.random is None and a.wan_dir is None:
        ap.error("--wan-dir is required (or --random BLOCKS --tokenizer FILE)")
    if a.random is not None and (a.tokenizer is None or a.small):
        ap.error("--random needs --tokenizer and excludes --small")
    if not a.skip_preflight and a.random is None:
        needs = preflight.run(a.wan_dir, a.out, a.dtype, a.quant, a.pusa_lora, a.lightx2v)
        log("preflight passed: needs about %.0f GB RAM with a GPU of %.0f GB free (%.0f GB RAM without), %.0f GB disk"
            % (needs.ram_with_gpu / 1e9, needs.gpu / 1e9, needs.ram_cpu_only / 1e9, needs.disk / 1e9))
    build(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
