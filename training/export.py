"""ONNX export (opset 17, fp32 compute, fp16-stored weights), onnxruntime CPU verification, CPU cost model,
latent->RGB preview fit and manifest writing."""
import copy
import hashlib
import json
import os
import time

import numpy as np
import onnx
import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before the import: read once at init (docs/deploy.md)
import onnxruntime as ort  # noqa: E402
import torch
from onnx import TensorProto, helper, numpy_helper

import data

OPSET = 17
FRAME_COUNTS = [17, 21, 25, 29, 33]


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def round_fp16_(module):
    """Make the torch weights exactly what the pack stores, so torch evaluation == the shipped graphs."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.half().float())
    return module


def fp16_storage(path):
    """Store float initialisers as fp16 feeding Cast(to=float): halves the file, compute stays fp32 (ORT folds
    the casts at load time)."""
    m = onnx.load(path)
    g = m.graph
    casts, keep = [], []
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        if init.data_type == TensorProto.FLOAT and arr.size >= 64:
            h = numpy_helper.from_array(arr.astype(np.float16), init.name + "__fp16")
            keep.append(h)
            casts.append(helper.make_node("Cast", [h.name], [init.name], to=TensorProto.FLOAT,
                                          name=init.name + "__cast"))
        else:
            keep.append(init)
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def ort_session(path, threads=2):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


# The I/O contract (docs/model-pack.md). Strings are symbolic dims; the exporter's own names are replaced.
IO_SHAPES = {
    "input_ids": ["batch", 32], "attention_mask": ["batch", 32], "context": ["batch", 32, None],
    "x": ["batch", 16, "frames", "height", "width"], "timestep": ["batch", "frames"],
    "velocity": ["batch", 16, "frames", "height", "width"],
    "video_in": [1, 3, "T", 128, 128], "latent_mean": [1, 16, "frames", 16, 16],
    "latents": [1, 16, "frames", 16, 16], "video_out": [1, 3, "T", 128, 128],
}


def fix_io_shapes(path, text_dim):
    """Write the contract's shapes on the graph inputs/outputs (ORT ignores them; the manifest reads them)."""
    m = onnx.load(path)
    for kind, vals in (("in", m.graph.input), ("out", m.graph.output)):
        for v in vals:
            key = "video_" + kind if v.name == "video" else v.name
            want = IO_SHAPES.get(key)
            if want is None:
                continue
            dims = v.type.tensor_type.shape.dim
            assert len(dims) == len(want), (v.name, len(dims))
            for d, w in zip(dims, want):
                w = text_dim if w is None else w
                if isinstance(w, str):
                    d.dim_param = w
                else:
                    d.dim_value = w
    onnx.save(m, path)


def _export(model, inputs, path, in_names, out_names, dyn):
    torch.onnx.export(model, inputs, path, input_names=in_names, output_names=out_names, dynamic_axes=dyn,
                      opset_version=OPSET, do_constant_folding=True, dynamo=False)
    fp16_storage(path)
    text_dim = model.norm.normalized_shape[0] if hasattr(model, "emb") else inputs[-1].shape[-1]
    fix_io_shapes(path, text_dim)


def _check(path, model, feeds_list):
    """Max abs error between onnxruntime CPU and torch (fp32, CPU) over several input shapes."""
    sess = ort_session(path, threads=8)
    worst = 0.0
    for feeds in feeds_list:
        with torch.no_grad():
            ref = model(*[torch.from_numpy(v) for v in feeds.values()]).numpy()
        got = sess.run(None, feeds)[0]
        assert got.shape == ref.shape, (got.shape, ref.shape)
        worst = max(worst, float(np.abs(got - ref).max()))
    return worst


def export_all(args, enc, dec, te, dit, tok, mean, std, dev):
    out = args.out
    rng = np.random.default_rng(0)
    enc_c, dec_c, te_c, dit_c = (round_fp16_(copy.deepcopy(m).float().cpu().eval()) for m in (enc, dec, te, dit))
    for m_src, m_c in ((enc, enc_c), (dec, dec_c), (te, te_c), (dit, dit_c)):  # keep torch == pack for eval
        m_src.load_state_dict(m_c.state_dict())
    errs = {}
    # text encoder
    ids, mask = torch.zeros(2, 32, dtype=torch.long), torch.zeros(2, 32, dtype=torch.long)
    p = os.path.join(out, "text_encoder.onnx")
    _export(te_c, (ids, mask), p, ["input_ids", "attention_mask"], ["context"],
            {"input_ids": {0: "batch"}, "attention_mask": {0: "batch"}, "context": {0: "batch"}})
    from build_pack import tokenize
    feeds = []
    for texts in (["a red circle moves left on a black background", ""], ["a blue star rotates and a white ring "
                                                                            "grows on a gray background"]):
        i, mk = tokenize(tok, texts)
        feeds.append({"input_ids": i.numpy(), "attention_mask": mk.numpy()})
    errs["text_encoder"] = _check(p, te_c, feeds)
    D = te_c.norm.normalized_shape[0]
    # DiT
    p = os.path.join(out, "dit.onnx")
    x = torch.randn(2, 16, 5, 16, 16)
    _export(dit_c, (x, torch.full((2, 5), 500.0), torch.randn(2, 32, D)), p, ["x", "timestep", "context"],
            ["velocity"], {"x": {0: "batch", 2: "frames", 3: "height", 4: "width"},
                           "timestep": {0: "batch", 1: "frames"}, "context": {0: "batch"},
                           "velocity": {0: "batch", 2: "frames", 3: "height", 4: "width"}})
    feeds = []
    for b, f, hw in ((2, 5, 16), (1, 9, 16), (2, 3, 12)):
        feeds.append({"x": rng.standard_normal((b, 16, f, hw, hw)).astype(np.float32),
                      "timestep": rng.uniform(0, 1000, (b, f)).astype(np.float32),
                      "context": rng.standard_normal((b, 32, D)).astype(np.float32)})
    errs["dit"] = _check(p, dit_c, feeds)
    # VAE
    p = os.path.join(out, "vae_encoder.onnx")
    _export(enc_c, (torch.zeros(1, 3, 9, 128, 128),), p, ["video"], ["latent_mean"],
            {"video": {2: "T"}, "latent_mean": {2: "latent_frames"}})
    vids = [data.make_batch(424242 + i, 1, T)[0].numpy() for i, T in enumerate((1, 17))]
    errs["vae_encoder"] = _check(p, enc_c, [{"video": v} for v in vids])
    p = os.path.join(out, "vae_decoder.onnx")
    _export(dec_c, (torch.zeros(1, 16, 3, 16, 16),), p, ["latents"], ["video"],
            {"latents": {2: "frames"}, "video": {2: "T"}})
    with torch.no_grad():
        lats = [enc_c(torch.from_numpy(v)).numpy() for v in vids]
    errs["vae_decoder"] = _check(p, dec_c, [{"latents": z} for z in lats])
    log("ORT vs torch max abs error:", errs)
    preview = fit_preview(enc, mean, std, dev)
    info = {"mean": mean.tolist(), "std": std.tolist(), "text_dim": D, "ort_max_abs_err": errs, "preview": preview,
            "dit_cfg": {k: getattr(dit_c, k, None) for k in ("dim", "heads")},
            "dit_layers": len(dit_c.blocks), "vocab": tok.get_vocab_size()}
    with open(os.path.join(args.run, "export.json"), "w") as f:
        json.dump(info, f, indent=1)


@torch.no_grad()
def fit_preview(enc, mean, std, dev, n=128):
    """Least squares: normalised latent z[16] (+1) -> mean RGB of the pixel frames that latent covers, pooled x8."""
    n = n if dev.type == "cuda" else 8
    v, _, _ = data.make_batch(777_000, n, 17, dev)
    z = torch.cat([enc(v[i:i + 16]) for i in range(0, n, 16)])
    z = (z - mean.view(1, 16, 1, 1, 1)) / std.view(1, 16, 1, 1, 1)  # [n,16,5,16,16]
    groups = [v[:, :, :1]] + [v[:, :, 4 * k - 3: 4 * k + 1] for k in range(1, 5)]
    tgt = torch.stack([g.mean(2) for g in groups], 2)  # [n,3,5,128,128]
    tgt = torch.nn.functional.avg_pool3d(tgt, (1, 8, 8))
    X = torch.cat([z.permute(0, 2, 3, 4, 1).reshape(-1, 16), torch.ones(z.numel() // 16, 1, device=dev)], 1)
    Y = tgt.permute(0, 2, 3, 4, 1).reshape(-1, 3)
    sol = torch.linalg.lstsq(X.double().cpu(), Y.double().cpu()).solution  # [17,3]
    pred = X.double().cpu() @ sol
    rmse = float((pred - Y.double().cpu()).pow(2).mean().sqrt())
    return {"weights": sol[:16].T.tolist(), "bias": sol[16].tolist(), "rmse": rmse}


def _time(fn, reps=5):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def bench(args):
    """CPU cost with onnxruntime, 2 intra-op threads, 1 inter-op thread (the product's budget)."""
    out = args.out
    info = json.load(open(os.path.join(args.run, "export.json")))
    D = info["text_dim"]
    dit, te, dec = (ort_session(os.path.join(out, f)) for f in ("dit.onnx", "text_encoder.onnx", "vae_decoder.onnx"))
    rng = np.random.default_rng(0)
    res = {"dit": {}, "decode": {}}
    for fr in (5, 6, 7, 8, 9):
        feeds = {"x": rng.standard_normal((2, 16, fr, 16, 16)).astype(np.float32),
                 "timestep": np.full((2, fr), 500, np.float32),
                 "context": rng.standard_normal((2, 32, D)).astype(np.float32)}
        res["dit"][fr * 64] = _time(lambda: dit.run(None, feeds))
    for fr in (5, 9):
        z = rng.standard_normal((1, 16, fr, 16, 16)).astype(np.float32)
        res["decode"][1 + 4 * (fr - 1)] = _time(lambda: dec.run(None, {"latents": z}), 3)
    ids = np.zeros((2, 32), np.int64)
    mk = np.zeros((2, 32), np.int64)
    mk[:, :10] = 1
    res["text_encode"] = _time(lambda: te.run(None, {"input_ids": ids, "attention_mask": mk}))
    toks = np.array(list(res["dit"].keys()), np.float64)
    secs = np.array(list(res["dit"].values()))
    per_token, base = np.polyfit(toks, secs, 1)
    if base < 0:  # attention makes cost slightly super-linear; keep the model's intercept meaningful (>= 0)
        base, per_token = 0.0, float((toks * secs).sum() / (toks * toks).sum())
    res["secondsPerStep"] = {"base": float(base), "perToken": float(per_token)}
    # a whole 10-step guided clip at each frame count, from the measured pieces
    res["clip10"] = {}
    for T in FRAME_COUNTS:
        fr = 1 + (T - 1) // 4
        dsec = res["decode"].get(T) or (res["decode"][17] + (res["decode"][33] - res["decode"][17]) * (T - 17) / 16)
        res["clip10"][T] = res["text_encode"] + 10 * (base + per_token * fr * 64) + dsec
    # and one real end-to-end run at the default frame count (text encode + 10 DiT calls + decode)
    T = default_frames(res)
    fr = 1 + (T - 1) // 4
    t = time.perf_counter()
    ctx = te.run(None, {"input_ids": ids, "attention_mask": mk})[0]
    x = rng.standard_normal((1, 16, fr, 16, 16)).astype(np.float32)
    for k in range(10):
        v = dit.run(None, {"x": np.concatenate([x, x]), "timestep": np.full((2, fr), 900 - 90 * k, np.float32),
                           "context": ctx})[0]
        x = x - 0.1 * (v[1:] + 3 * (v[:1] - v[1:]))
    dec.run(None, {"latents": x})
    res["clip10_measured"] = {"frames": T, "seconds": time.perf_counter() - t}
    res["cpu"] = cpu_name()
    log("bench:", json.dumps(res))
    with open(os.path.join(args.run, "bench.json"), "w") as f:
        json.dump(res, f, indent=1)


def default_frames(res, budget=3.0):
    c = {int(k): v for k, v in res["clip10"].items()}  # JSON turns the keys into strings
    ok = [T for T in FRAME_COUNTS if c[T] <= budget]
    return max(ok) if ok else FRAME_COUNTS[0]


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def _io(path):
    m = onnx.load(path, load_external_data=False)
    init = {i.name for i in m.graph.initializer}
    names = {1: "float32", 7: "int64", 10: "float16"}

    def desc(v):
        dims = [d.dim_param if d.dim_param else d.dim_value for d in v.type.tensor_type.shape.dim]
        return {"name": v.name, "dtype": names.get(v.type.tensor_type.elem_type, "?"), "shape": dims}
    return ([desc(v) for v in m.graph.input if v.name not in init], [desc(v) for v in m.graph.output])


def write_manifest(args):
    out, run = args.out, args.run
    info = json.load(open(os.path.join(run, "export.json")))
    b = json.load(open(os.path.join(run, "bench.json"))) if os.path.exists(os.path.join(run, "bench.json")) else None
    ev = json.load(open(os.path.join(run, "eval.json"))) if os.path.exists(os.path.join(run, "eval.json")) else {}
    chosen = ev.get("chosen", {})
    files = {}
    for key, fn in (("textEncoder", "text_encoder.onnx"), ("dit", "dit.onnx"), ("vaeEncoder", "vae_encoder.onnx"),
                    ("vaeDecoder", "vae_decoder.onnx")):
        p = os.path.join(out, fn)
        ins, outs = _io(p)
        files[key] = {"path": fn, "sha256": _sha(p), "bytes": os.path.getsize(p), "inputs": ins, "outputs": outs}
    dflt = default_frames(b) if b else 17
    man = {
        "format": "pusa-model-pack", "formatVersion": 1, "name": "pusa-mini", "version": "0.1.0",
        "license": "Apache-2.0",
        "description": "Tiny Pusa-style (vectorised-timestep) text/image-to-video model trained from scratch on "
                       "procedural coloured-shape clips, 128x128. For pipeline tests and CPU demos, not real video.",
        "fps": data.FPS,
        "video": {"sizes": [[128, 128]], "frameCounts": FRAME_COUNTS, "defaultFrames": dflt},
        "latent": {"channels": 16, "temporalFactor": 4, "spatialFactor": 8, "patch": [1, 2, 2],
                   "mean": info["mean"], "std": info["std"]},
        "text": {"tokenizer": "tokenizer.json", "maxLength": 32, "dim": info["text_dim"], "padId": 0},
        "modelPrecision": "fp32",
        "defaults": {"steps": chosen.get("steps", 10), "shift": 5, "guidance": chosen.get("guidance", 3.0),
                     "negativePrompt": "", "seed": 0,
                     "noiseMultipliers": chosen.get("noiseMultipliers", {
                         "i2v": 0.0, "startEnd": [0.0, 0.0], "keyframe": 0.0,
                         "extend": {"frames": 2, "multipliers": [0.0, 0.0]},
                         "transition": {"startFrames": 1, "endFrames": 1, "start": [0.0], "end": [0.0]}})},
        "files": files,
        "preview": {"latentToRgb": {"weights": info["preview"]["weights"], "bias": info["preview"]["bias"]}},
    }
    if b:
        man["cost"] = {"device": b["cpu"] + ", onnxruntime CPU, intra_op_num_threads=2, inter_op_num_threads=1",
                       "batch": 2, "secondsPerStep": b["secondsPerStep"],
                       "vaeDecodeSeconds": {str(k): v for k, v in b["decode"].items()},
                       "textEncodeSeconds": b["text_encode"]}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(man, f, indent=1)
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    log(f"manifest written; pack {total / 1e6:.2f} MB")
