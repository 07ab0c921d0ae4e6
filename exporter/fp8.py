"""The fp8 DiT (issue [11]): every transformer-block linear layer as onnxruntime's `com.microsoft.GemmFloat8`.

    python3 exporter/fp8.py --src dit.onnx --dst dit-fp8.onnx [--per-tensor] [--gemm-out fp16|fp32] [--emulate]

Weights: e4m3 (float8e4m3fn), one scale per output channel (amax / 448) applied by a Mul after the product, or one
per tensor (`--per-tensor`, the scale goes into GemmFloat8's scaleB: no extra pass over the output).  Activations:
quantised at run time with their own per-tensor scale (max |x| of this call / 448: ReduceMax and ReduceMin, a
QuantizeLinear), shared by the layers that read the same tensor (q, k and v).  Attention, norms, modulation, the
embeddings and the head stay fp16.  cuBLASLt runs the product with fp32 accumulation and writes fp16.

The product: onnxruntime 1.29's GemmFloat8 takes float8 only as transA=0, transB=1 (its schema says so; it maps
that onto cuBLASLt's column-major "TN", the one layout cuBLASLt runs fp8 in), i.e. activations [M, K] · weights
stored [N, K] (a torch Linear's [out, in]), five inputs (no bias, no output scale: scaleY is for fp8 outputs).
Whether cuBLASLt accepts an fp16 output for fp8 inputs there, or only fp32 (`--gemm-out fp32`, then a Cast), is
measured by exporter/gpu_benchmark.sh step 8's probe, not assumed.

`--emulate` writes the same quantisation with a plain MatMul over the dequantised values instead of GemmFloat8: the
numbers of fp8 storage on any provider (onnxruntime CPU runs it), for tests and error checks without an Ada GPU.

Float8 types need opset 19 and IR version 9: the graph is moved from opset 17 to 19, which is safe for the ops the
DiT exporter writes (none of them changed meaning between 17 and 19; a Reduce* op with an `axes` attribute, which
did, is refused rather than silently misread).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

E4M3_MAX = 448.0
FLOAT8E4M3FN = 17  # TensorProto.FLOAT8E4M3FN (onnx >= 1.14); written as a number so older onnx can build graphs
FLOAT, FLOAT16 = 1, 10
NP = {1: np.float32, 10: np.float16, 7: np.int64, 6: np.int32, 16: np.uint16, 17: np.uint8}
# Reduce ops whose `axes` moved from an attribute to an input in opset 18
AXES_MOVED = {"ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
              "ReduceLogSumExp", "ReduceSumSquare"}


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ---------------------------------------------------------------------------------------------------- e4m3 numbers


def _e4m3_table() -> np.ndarray:
    """The value of each of the 128 non-negative codes (0x7F is NaN)."""
    out = np.zeros(128, dtype=np.float64)
    for b in range(128):
        e, m = b >> 3, b & 7
        out[b] = (m / 8) * 2.0 ** -6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)
    out[127] = np.nan
    return out


_TABLE = _e4m3_table()


def e4m3_decode(codes: np.ndarray) -> np.ndarray:
    c = codes.astype(np.uint8)
    v = _TABLE[c & 0x7F].astype(np.float32)
    return np.where(c & 0x80, -v, v)


def _e4m3_encode_numpy(x: np.ndarray) -> np.ndarray:
    """Round to nearest, ties to even, saturating at ±448 (what QuantizeLinear's saturate=1 does)."""
    a = np.minimum(np.abs(x.astype(np.float64)), E4M3_MAX)
    vals = _TABLE[:127]
    hi = np.clip(np.searchsorted(vals, a), 1, 126)
    lo = hi - 1
    d_lo, d_hi = a - vals[lo], vals[hi] - a
    pick_hi = (d_hi < d_lo) | ((d_hi == d_lo) & (hi % 2 == 0))
    code = np.where(pick_hi, hi, lo).astype(np.uint8)
    code = np.where(a <= 0, 0, code).astype(np.uint8)
    return np.where(np.signbit(x) & (code > 0), code | 0x80, code).astype(np.uint8)


def e4m3_encode(x: np.ndarray) -> np.ndarray:
    """float -> e4m3fn codes (uint8).  torch's cast where torch has float8 (on the GPU when there is one: 14 B
    weights), numpy's otherwise; both round to nearest even, inputs clamped to ±448 first (torch's cast is not
    saturating)."""
    try:
        import torch
        if hasattr(torch, "float8_e4m3fn"):
            dev = "cuda" if torch.cuda.is_available() else "cpu"
            t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(dev).clamp_(-E4M3_MAX, E4M3_MAX)
            return t.to(torch.float8_e4m3fn).view(torch.uint8).cpu().numpy()
    except ImportError:
        pass
    return _e4m3_encode_numpy(x)


def quantize_weight(w: np.ndarray, per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """MatMul weight [K, N] -> (codes [K, N], scale [N] or []) with w ≈ decode(codes) · scale."""
    w = w.astype(np.float32)
    amax = np.abs(w).max(axis=0) if per_channel else np.abs(w).max(keepdims=False)
    scale = np.where(amax > 0, amax / E4M3_MAX, 1.0).astype(np.float32)
    return e4m3_encode(w / scale), scale


# ---------------------------------------------------------------------------------------------------- graph


class _Weights:
    """Initializer data of a graph loaded without its external data: read on demand from `<base>/<location>`."""

    def __init__(self, model, base_dir: str):
        self.base = base_dir
        self.by_name = {t.name: t for t in model.graph.initializer}

    def array(self, name: str) -> np.ndarray:
        from onnx import numpy_helper
        t = self.by_name[name]
        if t.data_location != 1:  # inline
            return numpy_helper.to_array(t)
        info = {e.key: e.value for e in t.external_data}
        dtype = NP[t.data_type]
        count = int(np.prod(t.dims)) if len(t.dims) else 1
        with open(os.path.join(self.base, info["location"]), "rb") as f:
            f.seek(int(info.get("offset", 0)))
            return np.frombuffer(f.read(count * np.dtype(dtype).itemsize), dtype=dtype).reshape(tuple(t.dims))


def _tensor(name, data_type, dims, raw: bytes):
    from onnx import TensorProto
    t = TensorProto()
    t.name, t.data_type = name, data_type
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def _node(op, inputs, outputs, name, domain="", **attrs):
    from onnx import helper
    return helper.make_node(op, inputs, outputs, name=name, domain=domain or None, **attrs)


def targets(model, inits: dict, only: str = "/blocks.") -> list:
    """The MatMuls to convert: a 2-D constant weight, inside the transformer blocks (`only` in the node name): the
    time and text embeddings, the head and the modulation stay in the model dtype."""
    out = []
    for n in model.graph.node:
        if n.op_type == "MatMul" and only in n.name and n.input[1] in inits and len(inits[n.input[1]].dims) == 2:
            out.append(n)
    return out


def rewrite(model, base_dir: str, per_channel: bool = True, emulate: bool = False, gemm_out: str = "model",
            only: str = "/blocks.", act_scales: dict | None = None, act_sample: int = 1) -> dict:
    """Convert `model` (loaded without external data; its data under `base_dir`) in place; returns facts.
    `gemm_out`: "model" (GemmFloat8 writes the model dtype) or "fp32" (it writes fp32, cast back after)."""
    from onnx import helper
    if gemm_out not in ("model", "fp32"):
        raise ValueError(f"gemm_out {gemm_out!r}: model or fp32")
    for n in model.graph.node:
        if n.op_type in AXES_MOVED and any(a.name == "axes" for a in n.attribute):
            raise SystemExit(f"{n.name}: {n.op_type} with an axes attribute changes meaning at opset 18; "
                             "the fp8 rewrite would misread it")
    for n in model.graph.node:
        # Split-18 wants `num_outputs` when no `split` sizes are given (Split-13 inferred it from the outputs)
        if n.op_type == "Split" and (len(n.input) < 2 or n.input[1] == "") and \
                not any(a.name == "num_outputs" for a in n.attribute):
            n.attribute.append(helper.make_attribute("num_outputs", len(n.output)))
    weights = _Weights(model, base_dir)
    inits = weights.by_name
    nodes = targets(model, inits, only)
    if not nodes:
        raise SystemExit(f"no MatMul with a constant 2-D weight under {only!r}: not a DiT graph of export_dit.py")
    act_type = inits[nodes[0].input[1]].data_type  # the model dtype (fp16 in a pack, fp32 in CPU tests)
    act_np = NP[act_type]
    new_inits, quantised_inputs = [], {}
    consts = {
        "fp8/zero_point": _tensor("fp8/zero_point", FLOAT8E4M3FN, [], b"\x00"),
        "fp8/one": _tensor("fp8/one", FLOAT, [], np.float32(1).tobytes()),
        "fp8/e4m3_max": _tensor("fp8/e4m3_max", act_type, [], act_np(E4M3_MAX).tobytes()),
        # a floor on max |x|: an all-zero input still gets a finite scale (its codes are all zero anyway)
        "fp8/amax_floor": _tensor("fp8/amax_floor", act_type, [], act_np(2.0 ** -10).tobytes()),
    }
    new_inits += list(consts.values())
    def quantised(x: str, k: int) -> tuple[str, str, str, list]:
        """(codes [M, K], its fp32 scale, its model-dtype scale, the nodes making them: only for the first reader)
        of activation `x` — q, k and v read the same tensor and share one quantisation."""
        if x in quantised_inputs:
            return (*quantised_inputs[x], [])
        p = f"fp8/act{len(quantised_inputs)}"
        new_inits.append(_tensor(f"{p}/shape", 7, [2], np.array([-1, k], dtype=np.int64).tobytes()))
        if act_scales is not None:
            # calibrated (static) scales: no reduction over the activations at run time, one QuantizeLinear pass
            amax = float(act_scales.get(x, act_scales.get("*", 1.0)))
            sc = max(amax, 2.0 ** -10) / E4M3_MAX
            new_inits.extend([_tensor(f"{p}/scale", act_type, [], act_np(sc).tobytes()),
                              _tensor(f"{p}/scale32", FLOAT, [], np.float32(act_np(sc)).tobytes())])
            ops = [_node("Reshape", [x, f"{p}/shape"], [f"{p}/x2"], f"{p}/Reshape"),
                   _node("QuantizeLinear", [f"{p}/x2", f"{p}/scale", "fp8/zero_point"], [f"{p}/q"], f"{p}/Quantize")]
            quantised_inputs[x] = (f"{p}/q", f"{p}/scale32", f"{p}/scale")
            return (*quantised_inputs[x], ops)
        ops = [_node("Reshape", [x, f"{p}/shape"], [f"{p}/x2"], f"{p}/Reshape")]
        seen = f"{p}/x2"
        if act_sample > 1:
            # the scale from every act_sample-th token (all channels): a transformer's outlier channels are the same
            # in every token, so a sample of tokens sees them; QuantizeLinear saturates the rare larger value
            new_inits.extend([_tensor(f"{p}/s0", 7, [1], np.array([0], np.int64).tobytes()),
                              _tensor(f"{p}/s1", 7, [1], np.array([2 ** 62], np.int64).tobytes()),
                              _tensor(f"{p}/ax", 7, [1], np.array([0], np.int64).tobytes()),
                              _tensor(f"{p}/st", 7, [1], np.array([act_sample], np.int64).tobytes())])
            ops.append(_node("Slice", [f"{p}/x2", f"{p}/s0", f"{p}/s1", f"{p}/ax", f"{p}/st"], [f"{p}/sample"],
                             f"{p}/Sample"))
            seen = f"{p}/sample"
        ops += [
            _node("ReduceMax", [seen], [f"{p}/max"], f"{p}/ReduceMax", keepdims=0),
            _node("ReduceMin", [seen], [f"{p}/min"], f"{p}/ReduceMin", keepdims=0),
            _node("Abs", [f"{p}/max"], [f"{p}/absmax"], f"{p}/AbsMax"),
            _node("Abs", [f"{p}/min"], [f"{p}/absmin"], f"{p}/AbsMin"),
            _node("Max", [f"{p}/absmax", f"{p}/absmin", "fp8/amax_floor"], [f"{p}/amax"], f"{p}/Amax"),
            _node("Div", [f"{p}/amax", "fp8/e4m3_max"], [f"{p}/scale"], f"{p}/Scale"),
            _node("QuantizeLinear", [f"{p}/x2", f"{p}/scale", "fp8/zero_point"], [f"{p}/q"], f"{p}/Quantize"),
            _node("Cast", [f"{p}/scale"], [f"{p}/scale32"], f"{p}/Scale32", to=FLOAT),
        ]
        quantised_inputs[x] = (f"{p}/q", f"{p}/scale32", f"{p}/scale")
        return (*quantised_inputs[x], ops)

    converted, replaced = [], {}
    for n in nodes:
        w = weights.array(n.input[1]).astype(np.float32)
        k, nout = w.shape
        codes, scale = quantize_weight(w, per_channel)
        x, y, p = n.input[0], n.output[0], f"fp8/{n.name.strip('/')}"
        qx, sx32, sx, ops = quantised(x, k)
        out2 = f"{p}/y2"
        if emulate:
            # the same codes, dequantised: x̂ = codes·scale, ŵ = codes·scale, then a plain MatMul in the model dtype
            w_hat = (e4m3_decode(codes) * scale).astype(act_np)
            new_inits.append(_tensor(f"{p}/w_hat", act_type, [k, nout], w_hat.tobytes()))
            ops += [_node("DequantizeLinear", [qx, sx, "fp8/zero_point"], [f"{p}/x_hat"], f"{p}/Dequantize"),
                    _node("MatMul", [f"{p}/x_hat", f"{p}/w_hat"], [out2], f"{p}/MatMul")]
        else:
            new_inits.append(_tensor(f"{p}/w", FLOAT8E4M3FN, [nout, k], np.ascontiguousarray(codes.T).tobytes()))
            if per_channel:
                scale_b = "fp8/one"
            else:
                scale_b = f"{p}/w_scale32"
                new_inits.append(_tensor(scale_b, FLOAT, [], np.float32(scale).tobytes()))
            ops.append(_node("GemmFloat8", [qx, f"{p}/w", "", sx32, scale_b], [out2], f"{p}/GemmFloat8",
                             domain="com.microsoft", transA=0, transB=1,
                             dtype=FLOAT if gemm_out == "fp32" else act_type))
            if gemm_out == "fp32" and act_type != FLOAT:
                ops.append(_node("Cast", [out2], [f"{p}/y2c"], f"{p}/CastOut", to=act_type))
                out2 = f"{p}/y2c"
        # back to the MatMul's own output shape (x's leading dims + [N]); the per-channel scale on the last axis
        new_inits.append(_tensor(f"{p}/n", 7, [1], np.array([nout], dtype=np.int64).tobytes()))
        shaped = f"{p}/y3" if per_channel and not emulate else y
        ops += [_node("Shape", [x], [f"{p}/xshape"], f"{p}/Shape", end=-1),
                _node("Concat", [f"{p}/xshape", f"{p}/n"], [f"{p}/yshape"], f"{p}/YShape", axis=0),
                _node("Reshape", [out2, f"{p}/yshape"], [shaped], f"{p}/Reshape")]
        if per_channel and not emulate:
            new_inits.append(_tensor(f"{p}/w_scale", act_type, [nout], scale.astype(act_np).tobytes()))
            ops.append(_node("Mul", [shaped, f"{p}/w_scale"], [y], f"{p}/ChannelScale"))
        replaced[n.name] = ops
        converted.append({"node": n.name, "k": k, "n": nout})

    # the graph in order: each replacement where its MatMul stood (its input is computed before it)
    body, dead_weights = [], set()
    for n in model.graph.node:
        if n.name in replaced:
            body += replaced[n.name]
            dead_weights.add(n.input[1])
        else:
            body.append(n)
    del model.graph.node[:]
    model.graph.node.extend(body)
    still_used = {i for n in body for i in n.input}
    keep = [t for t in model.graph.initializer if t.name not in dead_weights or t.name in still_used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep + new_inits)
    for op in model.opset_import:
        if op.domain in ("", "ai.onnx"):
            op.version = max(op.version, 19)
    if not any(op.domain == "com.microsoft" for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    model.ir_version = 10  # float8 needs IR >= 9; onnxruntime 1.29 reads <= 10
    return {"per_channel": per_channel, "emulate": emulate, "gemm_out": gemm_out, "converted": len(converted),
            "activation_quantisers": len(quantised_inputs),
            "activation_scales": "static" if act_scales is not None else f"dynamic, 1 token in {act_sample}"}


def convert(src: str, dst: str, **kw) -> dict:
    """dit.onnx (+ .data) -> an fp8 copy, weights streamed into `<dst>.data`."""
    import onnx
    from external_data import gather_external_data
    t0 = time.time()
    model = onnx.load(src, load_external_data=False)
    facts = rewrite(model, os.path.dirname(os.path.abspath(src)), **kw)
    for f in (dst, dst + ".data"):
        if os.path.exists(f):
            os.remove(f)
    gather_external_data(src, dst, model=model)
    facts.update(bytes=os.path.getsize(dst) + os.path.getsize(dst + ".data"), seconds=round(time.time() - t0, 1))
    log("fp8 graph written:", dst, json.dumps(facts))
    return facts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--gemm-out", choices=["model", "fp32"], default="model",
                    help="GemmFloat8's output type: the model dtype, or fp32 cast back after")
    ap.add_argument("--per-tensor", action="store_true", help="one weight scale per matrix (no per-channel Mul)")
    ap.add_argument("--emulate", action="store_true", help="dequantised MatMuls instead of GemmFloat8 (any provider)")
    ap.add_argument("--act-sample", type=int, default=1,
                    help="activation scale from every N-th token (1: all; docs/fp8-notes.md)")
    a = ap.parse_args(argv)
    convert(a.src, a.dst, per_channel=not a.per_tensor, emulate=a.emulate, gemm_out=a.gemm_out,
            act_sample=a.act_sample)


if __name__ == "__main__":
    main()
