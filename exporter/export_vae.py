"""Export the Wan2.1 VAE to `vae_encoder.onnx` + `vae_decoder.onnx` for a model pack (spec §B.2).

    python3 exporter/export_vae.py --vae Wan2.1_VAE.pth --out packs/pusa-v1 [--dtype fp16|fp32]
    python3 exporter/export_vae.py --random --out /tmp/vae16 [--dtype fp16]   # full size, random weights (benchmarks)
    python3 exporter/export_vae.py --verify --out /tmp/vv                     # reduced config, ORT CPU vs torch

Graphs (pack contract, docs/model-pack.md): `video` f32 [1,3,T,height,width] in [-1,1] -> `latent_mean` f32
[1,16,frames,lh,lw] (raw μ, T = 1+4k, frames = 1+k) and `latents` f32 [1,16,frames,lh,lw] (raw) -> `video` f32
[1,3,1+4(frames-1),8lh,8lw] clamped to [-1,1].  T/frames/height/width are dynamic; compute inside is --dtype (cast at
the edges).  Whole-clip encode/decode (wan_vae.py says why that equals upstream's chunked loop).  The weights are
~250 MB fp32, so each graph is one self-contained file (external data only past 2 GB).

`export_vae(state_dict_or_None, out_dir, dtype) -> dict` is what the pack builder imports.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wan_vae import WAN21_VAE, VAEConfig, WanVAE, randomize_, small_vae_config  # noqa: E402
import wan_vae_frames  # noqa: E402

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
OPSET = 17
# "chunked": time folded into the batch axis, 2-D convolutions only (wan_vae_frames.py says why), and the decoder run
#            one latent frame at a time inside an ONNX Loop that keeps the causal caches on the device
#            (vae_chunked_graph.py).  The default: on an H200 it decodes 81 frames at 480p right (relative L2 1.8e-3
#            against the fp32 module, docs/vae-notes.md) in 2.5 s, where the 5-D graph needs tiles and 14 s;
# "frames":  the same layout over the whole clip at once (onnxruntime's CUDA kernels refuse its 3e9-element tensors
#            at 81 frames 480p);
# "ncdhw":   the 5-D module as it is (3-D convolutions), decoded in the runtime's tiles (vaeTiling)
LAYOUTS = ("chunked", "frames", "ncdhw")
ENCODER, DECODER = "vae_encoder.onnx", "vae_decoder.onnx"
# every op the graphs may contain; all have fp16 kernels on onnxruntime's CUDA provider (Conv with 5-D input included)
ALLOWED_OPS = {"Conv", "Pad", "Slice", "Concat", "Resize", "Mul", "Add", "Sub", "Div", "Sigmoid", "Pow", "ReduceSum",
               "ReduceL2", "Reciprocal",
               "Sqrt", "Clip", "Max", "Min", "Cast", "MatMul", "Softmax", "Transpose", "Reshape", "Shape", "Gather",
               "Unsqueeze", "Squeeze", "ConstantOfShape", "Constant", "Expand", "Identity", "Range",
               "Mod", "Flatten", "Loop"}  # Mod: int64 shape arithmetic of the attention's unflatten (CUDA has it; shapes run on CPU anyway)


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ---------------------------------------------------------------------------------------------------- loading


def load_vae_state(path: str) -> dict:
    """Wan2.1_VAE.pth -> {key: tensor}.  The official file is the bare `WanVAE_` state dict; DiffSynth-style wrappers
    (`model_state`, a `model.` prefix) are unwrapped too, so a re-saved copy also loads."""
    sd = torch.load(path, map_location="cpu", weights_only=True)
    for wrap in ("model_state", "state_dict"):
        if isinstance(sd, dict) and wrap in sd and isinstance(sd[wrap], dict):
            sd = sd[wrap]
    if sd and all(k.startswith("model.") for k in sd):
        sd = {k[len("model."):]: v for k, v in sd.items()}
    return sd


def infer_config(state: dict) -> VAEConfig:
    """Base width and z_dim from the tensors (the layout — dim_mult, blocks, time steps — is Wan2.1's)."""
    return VAEConfig(dim=state["encoder.conv1.weight"].shape[0], z_dim=state["conv2.weight"].shape[0])


def build_vae(state: dict | None, cfg: VAEConfig | None = None, dtype=torch.float32, device="cpu") -> WanVAE:
    """Official state dict (strict load, fp32 -> dtype) or, with None, random weights at realistic scales."""
    cfg = cfg or (infer_config(state) if state is not None else WAN21_VAE)
    model = WanVAE(cfg)
    if state is None:
        randomize_(model)
    else:
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return model.to(device=device, dtype=dtype).eval().requires_grad_(False)


# ---------------------------------------------------------------------------------------------------- export


class PackEncoder(torch.nn.Module):
    """f32 video in, compute in the model dtype, f32 raw μ out."""

    def __init__(self, vae: WanVAE, layout: str = "frames"):
        super().__init__()
        self.vae = vae
        self.layout = layout

    def forward(self, video):
        dt = self.vae.conv1.weight.dtype
        if self.layout in ("frames", "chunked"):
            return wan_vae_frames.encode(self.vae, video.to(dt)).float()
        return self.vae.encode(video.to(dt)).float()


class PackDecoder(torch.nn.Module):
    """f32 raw latents in, compute in the model dtype, f32 video (clamped to [-1,1]) out."""

    def __init__(self, vae: WanVAE, layout: str = "frames"):
        super().__init__()
        self.vae = vae
        self.layout = layout

    def forward(self, latents):
        dt = self.vae.conv2.weight.dtype
        if self.layout == "frames":
            return wan_vae_frames.decode(self.vae, latents.to(dt), clamp=True).float()
        return self.vae.decode(latents.to(dt), clamp=True).float()


def _export(wrapper, path, example, in_name, out_name, in_axes, out_axes, out_dims):
    import onnx
    nbytes = sum(p.numel() * p.element_size() for p in wrapper.parameters())
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(path))) as tmpdir:
            tmp = os.path.join(tmpdir, os.path.basename(path))
            torch.onnx.export(wrapper, (example,), tmp, dynamo=False, opset_version=OPSET, input_names=[in_name],
                              output_names=[out_name], dynamic_axes={in_name: in_axes, out_name: out_axes},
                              do_constant_folding=True)
            m = onnx.load(tmp)
    # the tracer's shape inference loses the static batch/channel dims of the output (after the f32 Cast): restate
    # the contract's shape there
    for d, v in zip(m.graph.output[0].type.tensor_type.shape.dim, out_dims):
        if isinstance(v, int):
            d.dim_value = v
        else:
            d.dim_param = v
    for f in (path, path + ".data"):
        if os.path.exists(f):
            os.remove(f)
    if nbytes > 1.8e9:  # protobuf's 2 GB limit; never reached by the Wan VAE (~250 MB fp32)
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + ".data", size_threshold=1024)
    else:
        onnx.save_model(m, path)
    onnx.checker.check_model(path)  # standard ops only (unlike the DiT), so the checker applies
    return path


def export_graphs(vae: WanVAE, out_dir: str, device=None, layout: str = "ncdhw") -> dict:
    """Write vae_encoder.onnx and vae_decoder.onnx from a built module (already in its compute dtype)."""
    os.makedirs(out_dir, exist_ok=True)
    device = device or next(vae.parameters()).device
    g = torch.Generator().manual_seed(0)
    # one example each, T = 5 / 2 latent frames: exercises the frame-0 split and the time resampling; the traced graph
    # has no shape-dependent branches, so T = 1 and any other 1+4k run through the same nodes.
    video = (torch.rand(1, 3, 5, 32, 48, generator=g) * 2 - 1).to(device)
    lat = torch.randn(1, vae.cfg.z_dim, 2, 4, 6, generator=g).to(device)
    enc = _export(PackEncoder(vae, layout).eval(), os.path.join(out_dir, ENCODER), video, "video", "latent_mean",
                  {2: "T", 3: "height", 4: "width"}, {2: "frames", 3: "lh", 4: "lw"},
                  [1, vae.cfg.z_dim, "frames", "lh", "lw"])
    if layout == "chunked":
        import onnx
        from vae_chunked_graph import chunked_decoder_graph
        dec = os.path.join(out_dir, DECODER)
        onnx.save_model(chunked_decoder_graph(vae, device, OPSET), dec)
        onnx.checker.check_model(dec)
        return {"encoder": enc, "decoder": dec}
    dec = _export(PackDecoder(vae, layout).eval(), os.path.join(out_dir, DECODER), lat, "latents", "video",
                  {2: "frames", 3: "lh", 4: "lw"}, {2: "T", 3: "height", 4: "width"},
                  [1, 3, "T", "height", "width"])
    return {"encoder": enc, "decoder": dec}


def graph_facts(path: str) -> dict:
    from onnx_facts import load_graph, op_histogram
    m = load_graph(path)
    ops = op_histogram(m)
    size = os.path.getsize(path) + (os.path.getsize(path + ".data") if os.path.exists(path + ".data") else 0)
    io = {"inputs": [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]) for i in m.graph.input],
          "outputs": [(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]) for o in m.graph.output]}
    ranks = {len(i.dims) for i in m.graph.initializer if any(i.name in n.input[1:2] for n in m.graph.node
                                                               if n.op_type == "Conv")}
    return {"file": os.path.basename(path), "bytes": size, "ops": ops, **io, "conv_ranks": sorted(ranks),
            "unexpected_ops": sorted(set(ops) - ALLOWED_OPS)}


def export_vae(state_dict_or_None, out_dir, dtype, layout: str = "chunked") -> dict:
    """Pack-builder entry: official VAE state dict (or None = random full-size weights) -> the two graphs in `out_dir`.
    `dtype` is the compute dtype inside ('fp16', 'fp32', 'bf16' or a torch dtype); I/O is always f32.
    Returns facts for the manifest/README: files, byte sizes, op histograms, config, parameter count."""
    dt = DTYPES[dtype] if isinstance(dtype, str) else dtype
    name = {v: k for k, v in DTYPES.items()}[dt]
    device = "cuda" if torch.cuda.is_available() else "cpu"  # CPU tracing in fp16 depends on CPU half kernels
    vae = build_vae(state_dict_or_None, dtype=dt, device=device)
    t0 = time.time()
    paths = export_graphs(vae, out_dir, layout=layout)
    facts = {"dtype": name, "layout": layout, "config": vae.cfg.to_dict(), "params": sum(p.numel() for p in vae.parameters()),
             "random_weights": state_dict_or_None is None, "export_s": round(time.time() - t0, 1),
             "encoder": graph_facts(paths["encoder"]), "decoder": graph_facts(paths["decoder"])}
    log(f"wrote {ENCODER} ({facts['encoder']['bytes'] / 1e6:.1f} MB) and {DECODER} "
        f"({facts['decoder']['bytes'] / 1e6:.1f} MB) in {out_dir}, {name}")
    return facts


# ---------------------------------------------------------------------------------------------------- verification


def ort_session(path):
    from ort_quiet import load as _load_ort
    ort = _load_ort()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def verify(out_dir: str, cfg: VAEConfig | None = None, dtype="fp32", enc_shapes=None, dec_shapes=None,
           layout: str = "ncdhw") -> dict:
    """Export random weights (reduced config by default) in `dtype`, then compare ORT CPU with the torch module in
    fp32 (same weights) on shapes other than the traced one — T = 1 (image), 5, 9, 17, 81 and several sizes."""
    cfg = cfg or small_vae_config()
    dt = DTYPES[dtype]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ref = build_vae(None, cfg, dtype=torch.float32, device="cpu")
    paths = export_graphs(build_vae(None, cfg, dtype=dt, device=device), out_dir, layout=layout)
    res = {"config": cfg.to_dict(), "dtype": dtype, "layout": layout, "encoder": graph_facts(paths["encoder"]),
           "decoder": graph_facts(paths["decoder"]), "cases": []}
    g = torch.Generator().manual_seed(7)
    enc_shapes = enc_shapes or [(1, 32, 48), (5, 32, 48), (9, 16, 24), (17, 48, 32), (5, 64, 64), (81, 16, 16)]
    dec_shapes = dec_shapes or [(1, 4, 6), (2, 4, 6), (3, 6, 4), (5, 8, 8), (21, 2, 2)]
    for name, sess_path, shapes in (("encoder", paths["encoder"], enc_shapes), ("decoder", paths["decoder"], dec_shapes)):
        sess = ort_session(sess_path)
        for t, h, w in shapes:
            if name == "encoder":
                x = torch.rand(1, 3, t, h, w, generator=g) * 2 - 1
                with torch.no_grad():
                    want = ref.encode(x)
                got = sess.run(["latent_mean"], {"video": x.numpy()})[0]
            else:
                x = torch.randn(1, cfg.z_dim, t, h, w, generator=g) * 2
                with torch.no_grad():
                    want = ref.decode(x)
                got = sess.run(["video"], {"latents": x.numpy()})[0]
            assert tuple(got.shape) == tuple(want.shape), (name, got.shape, want.shape)
            err = float(abs(got - want.numpy()).max())
            c = {"graph": name, "in": [t, h, w], "out": list(got.shape), "max_abs_err": err,
                 "ref_max_abs": float(want.abs().max())}
            if name == "decoder":
                c["clamped_frac"] = float((want.abs() >= 1).float().mean())
            res["cases"].append(c)
            log(f"verify {dtype} {name} {t}x{h}x{w} -> {list(got.shape)}: max|ort-torch| {err:.3e} "
                f"(|ref| max {c['ref_max_abs']:.3f})")
    return res


# ---------------------------------------------------------------------------------------------------- CLI


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vae", help="official Wan2.1_VAE.pth")
    ap.add_argument("--out", default="out/pusa-v1", help="pack folder; writes vae_encoder.onnx + vae_decoder.onnx")
    ap.add_argument("--dtype", choices=list(DTYPES), default="fp16", help="compute dtype inside the graphs")
    ap.add_argument("--layout", choices=LAYOUTS, default="chunked", help="graph layout (see LAYOUTS)")
    ap.add_argument("--random", action="store_true", help="no file: full-size random weights (benchmarks)")
    ap.add_argument("--verify", action="store_true", help="reduced-config random-weight ORT-vs-torch check, then exit")
    a = ap.parse_args(argv)
    if a.verify:
        res = verify(a.out, dtype="fp32", layout=a.layout)
        print(json.dumps(res, indent=1))
        return 0
    if not a.random and not a.vae:
        ap.error("--vae is required (or --random / --verify)")
    state = None if a.random else load_vae_state(a.vae)
    facts = export_vae(state, a.out, a.dtype, a.layout)
    print(json.dumps(facts, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
