"""Export the Wan2.1/Pusa DiT to `dit.onnx` (+ `dit.onnx.data`) for a model pack.

    python3 exporter/export_dit.py --wan-dir Wan2.1-T2V-14B --pusa-lora pusa_v1.pt --alpha 1.4 \
        [--lightx2v low_noise_model.safetensors] --out packs/pusa-v1 [--dtype fp16]
    python3 exporter/export_dit.py --verify-small            # random weights, reduced config, ORT CPU vs torch

Graph: inputs `x` f32 [batch,16,frames,height,width], `timestep` f32 [batch,frames], `context` f32 [batch,512,4096];
output `velocity` f32 like x (pack contract, docs/model-pack.md).  Inside, compute is in --dtype (fp16 default for the
real pack; fp32 for CPU checks); attention is `com.microsoft.MultiHeadAttention`, RMSNorm `SimplifiedLayerNormalization`
(fp32 stash), LayerNorm `LayerNormalization`.  Weights go to one external data file beside the graph.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
import tempfile
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wan_dit import WAN21_T2V_14B, WanConfig, WanDiT, rope_axis_dims, rope_table, small_config  # noqa: E402
import lora as lora_mod  # noqa: E402

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
OPSET = 17


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ---------------------------------------------------------------------------------------------------- loading


def shard_files(wan_dir: str) -> list:
    """The DiT shards of an official Wan2.1 folder (index json if present, else every diffusion_pytorch_model*)."""
    idx = glob.glob(os.path.join(wan_dir, "diffusion_pytorch_model*.safetensors.index.json"))
    if idx:
        with open(idx[0]) as f:
            names = sorted(set(json.load(f)["weight_map"].values()))
        return [os.path.join(wan_dir, n) for n in names]
    files = sorted(glob.glob(os.path.join(wan_dir, "diffusion_pytorch_model*.safetensors")))
    if not files:
        raise FileNotFoundError(f"no diffusion_pytorch_model*.safetensors in {wan_dir}")
    return files


def load_state(files: list) -> dict:
    from safetensors.torch import load_file
    sd = {}
    for f in files:
        part = load_file(f)
        for k, v in part.items():
            k = k[len(lora_mod.PREFIX):] if k.startswith(lora_mod.PREFIX) else k
            if k in sd:
                raise ValueError(f"duplicate key {k} in {f}")
            sd[k] = v
    return sd


def build_model(cfg: WanConfig, state: dict | None, dtype=torch.bfloat16, pusa_lora=None, alpha=1.4, lightx2v=None,
                device="cpu") -> WanDiT:
    """Official state dict (or random when None) -> LightX2V merge -> Pusa merge (in the model dtype, spec B.4) ->
    strict load.  The merges run on the state dict before loading, so the loaded module is exactly what is exported."""
    # The module is built on the meta device: built the plain way it would first allocate and randomly initialise
    # 14 B fp32 parameters in RAM (57 GB) and then a second device copy, doubling the peak docs/real-model.md states.
    with torch.device("meta"):
        model = WanDiT(cfg).to(dtype=dtype)
    if state is None:  # random weights, drawn on the device itself (a 40-block model in about a minute on a GPU)
        model = model.to_empty(device=device)
        randomize_(model)
        state = model.state_dict()
    else:  # the module takes the state's tensors as its own (assign=True)
        state = {k: v.to(device=device, dtype=dtype) for k, v in state.items()}
    # the RoPE tables are not in the state dict (non-persistent buffers): computed as the constructor does
    for i, dd in enumerate(rope_axis_dims(cfg.head_dim)):
        model.register_buffer(f"rope_{i}", rope_table(cfg.rope_max_pos, dd).to(device=device, dtype=dtype),
                              persistent=False)
    if lightx2v is not None:
        n = lora_mod.merge_lightx2v(state, lightx2v)
        log(f"merged LightX2V LoRA into {len(n)} layers")
    if pusa_lora is not None:
        n = lora_mod.merge_pusa(state, pusa_lora, alpha=alpha)
        log(f"merged Pusa LoRA (alpha {alpha}) into {len(n)} layers")
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


@torch.no_grad()
def randomize_(model: WanDiT, seed: int = 0):
    """Random weights with Wan-like scales, non-trivial norms and modulation (so every path is exercised)."""
    dev = next(model.parameters()).device
    g = torch.Generator(device=dev).manual_seed(seed)
    randn = lambda shape: torch.randn(shape, generator=g, device=dev)  # noqa: E731
    for name, p in model.named_parameters():
        if name.endswith("norm_q.weight") or name.endswith("norm_k.weight") or name.endswith("norm3.weight"):
            v = 1 + 0.1 * randn(p.shape)
        elif p.ndim >= 2 and "modulation" not in name:
            fan_in = p[0].numel()
            v = randn(p.shape) / fan_in ** 0.5
        else:
            v = 0.1 * randn(p.shape)
        p.copy_(v.to(p.dtype))


# ---------------------------------------------------------------------------------------------------- export


class PackDiT(torch.nn.Module):
    """Pack contract wrapper: f32 in, compute in the model dtype, f32 out."""

    def __init__(self, model: WanDiT):
        super().__init__()
        self.model = model

    def forward(self, x, timestep, context):
        dt = self.model.patch_embedding.weight.dtype
        return self.model(x.to(dt), timestep, context.to(dt)).float()


def export_onnx(model: WanDiT, path: str, example, external_data: bool = True):
    """Trace `model` (already in its compute dtype) with the legacy exporter; weights to `<path>.data`."""
    import onnx
    from external_data import gather_external_data
    wrapper = PackDiT(model).eval()
    tmpdir = tempfile.mkdtemp(prefix="dit-export-", dir=os.path.dirname(os.path.abspath(path)) or ".")
    tmp = os.path.join(tmpdir, "dit.onnx")
    dyn = {"x": {0: "batch", 2: "frames", 3: "height", 4: "width"}, "timestep": {0: "batch", 1: "frames"},
           "context": {0: "batch"}, "velocity": {0: "batch", 2: "frames", 3: "height", 4: "width"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, example, tmp, dynamo=False, opset_version=OPSET, input_names=["x", "timestep", "context"],
                          output_names=["velocity"], dynamic_axes=dyn, do_constant_folding=True)
    for p in (path, path + ".data"):
        if os.path.exists(p):
            os.remove(p)
    if external_data:
        # streamed tensor by tensor into one `<path>.data`: loading a 28 GB DiT into one protobuf and saving it took
        # most of the full-size export's 524 s on the H200 (2026-12-04), the text encoder's streamed 11 GB took 28 s
        gather_external_data(tmp, path)
    else:
        onnx.save_model(onnx.load(tmp), path)
    shutil.rmtree(tmpdir, ignore_errors=True)
    # no onnx.checker: SimplifiedLayerNormalization is an onnxruntime contrib op registered in the default domain,
    # which the checker rejects; loading in onnxruntime is the check (verify_small / tests).
    return path


def graph_summary(path: str) -> dict:
    from onnx_facts import op_histogram
    return op_histogram(path)


# ---------------------------------------------------------------------------------------------------- verification


def example_inputs(cfg: WanConfig, b=2, f=3, h=8, w=12, lc=16, seed=1, mixed=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, cfg.in_dim, f, h, w, generator=g)
    if mixed:  # per-frame timesteps: a frozen condition frame (0), a partly noised one, the rest at T
        ts = torch.tensor([[0.0] + [936.0 * (0.3 if i == 1 else 1.0) for i in range(1, f)]] * b)
        ts[1:] = ts[1:] * 0.5 + 100
    else:
        ts = torch.full((b, f), 999.0)
    ctx = torch.randn(b, lc, cfg.text_dim, generator=g)
    ctx[:, lc // 2:] = 0  # zero-padded text rows, as the umT5 path gives
    return x, ts, ctx


def ort_run(path, inputs, provider="CPUExecutionProvider"):
    from ort_quiet import load as _load_ort
    ort = _load_ort()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=[provider])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(["velocity"], {n: t.numpy() for n, t in zip(names, inputs)})[0]


def verify_small(outdir: str, cfg: WanConfig | None = None, dtype="fp32") -> dict:
    """Export a reduced-config random-weight DiT and compare ORT CPU with torch on two different shapes."""
    cfg = cfg or small_config()
    os.makedirs(outdir, exist_ok=True)
    model = build_model(cfg, None, dtype=DTYPES[dtype])
    path = os.path.join(outdir, "dit.onnx")
    ex = example_inputs(cfg)
    export_onnx(model, path, ex)
    res = {"config": cfg.to_dict(), "dtype": dtype, "ops": graph_summary(path), "cases": []}
    wrapper = PackDiT(model)
    for shape in [dict(b=2, f=3, h=8, w=12), dict(b=1, f=5, h=6, w=4, seed=3), dict(b=2, f=2, h=4, w=4, mixed=False)]:
        inp = example_inputs(cfg, **shape)
        with torch.no_grad():
            ref = wrapper(*inp).numpy()
        out = ort_run(path, inp)
        err = float(abs(out - ref).max())
        res["cases"].append({"shape": shape, "max_abs_err": err, "ref_max_abs": float(abs(ref).max())})
        log(f"verify {dtype} {shape}: max|ort-torch| = {err:.3e} (|ref|max {abs(ref).max():.3f})")
    return res


# ---------------------------------------------------------------------------------------------------- CLI


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wan-dir", help="official Wan2.1-T2V-14B folder (diffusion_pytorch_model-*.safetensors)")
    ap.add_argument("--pusa-lora", help="pusa_v1.pt (PEFT keys)")
    ap.add_argument("--alpha", type=float, default=1.4, help="Pusa LoRA multiplier (raw, no /rank; spec B.4)")
    ap.add_argument("--lightx2v", help="LightX2V distillation LoRA (.safetensors), merged before Pusa")
    ap.add_argument("--out", default="out/pusa-v1", help="pack folder; writes dit.onnx + dit.onnx.data")
    ap.add_argument("--dtype", choices=list(DTYPES), default="fp16", help="compute dtype inside the graph")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--random-layers", type=int, default=0,
                    help="no weights: random 14B-width model with this many blocks (for benchmarks)")
    ap.add_argument("--verify-small", action="store_true", help="reduced-config random-weight parity check, then exit")
    a = ap.parse_args(argv)

    if a.verify_small:
        res = verify_small(a.out, dtype="fp32" if a.dtype == "fp16" else a.dtype)
        print(json.dumps(res, indent=1))
        return 0

    dt = DTYPES[a.dtype]
    if a.random_layers:
        cfg = WanConfig(**{**WAN21_T2V_14B.to_dict(), "num_layers": a.random_layers})
        state = None
    else:
        if not a.wan_dir:
            ap.error("--wan-dir is required (or --random-layers / --verify-small)")
        cfg = WAN21_T2V_14B
        log("loading shards from", a.wan_dir)
        state = load_state(shard_files(a.wan_dir))
    pusa = lora_mod.load_lora_file(a.pusa_lora) if a.pusa_lora else None
    l2v = lora_mod.load_lora_file(a.lightx2v) if a.lightx2v else None
    # merge in bf16 (the reference's model dtype), then cast to the export dtype
    model = build_model(cfg, state, dtype=torch.bfloat16, pusa_lora=pusa, alpha=a.alpha, lightx2v=l2v,
                        device=a.device)
    model = model.to(dt)
    os.makedirs(a.out, exist_ok=True)
    ex = tuple(t.to(a.device) for t in example_inputs(cfg, b=1, f=2, h=4, w=4, lc=512, mixed=True))
    path = export_onnx(model, os.path.join(a.out, "dit.onnx"), ex)
    log("wrote", path, graph_summary(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
