"""The Wan VAE decoder as one ONNX graph that decodes one latent frame at a time (the "chunked" layout).

Latent frame 0 goes through the first-chunk graph; an ONNX Loop runs the step graph over frames 1..F-1 with the
causal caches (wan_vae_frames.decode_chunk) as loop-carried state, so they stay on the device between chunks —
onnxruntime-node can keep no tensor on the GPU between two calls.  The chunks' videos are the Loop's scan output.
Both chunk graphs are traced from the same module; their weights are stored once (identical tensors deduplicated)
in the outer graph, where the loop body reads them from the enclosing scope.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings

import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

import wan_vae_frames
from wan_vae import WanVAE


class DecoderChunk(torch.nn.Module):
    """One chunk: f32 raw latents [1,16,Fc,h,w] (+ the previous chunk's caches, in the model dtype) -> f32 video and
    the new caches.  `first`: the clip's first chunk, which takes no caches."""

    def __init__(self, vae: WanVAE, first: bool):
        super().__init__()
        self.vae = vae
        self.first = first

    def forward(self, latents, *caches):
        dt = self.vae.conv2.weight.dtype
        video, out = wan_vae_frames.decode_chunk(self.vae, latents.to(dt), None if self.first else list(caches))
        return (video.float(), *out)


def _trace(wrapper, examples, in_names, out_names, axes, opset):
    with warnings.catch_warnings(), torch.no_grad(), tempfile.TemporaryDirectory() as tmpdir:
        warnings.simplefilter("ignore")
        tmp = os.path.join(tmpdir, "g.onnx")
        torch.onnx.export(wrapper, tuple(examples), tmp, dynamo=False, opset_version=opset, input_names=in_names,
                          output_names=out_names, dynamic_axes=axes, do_constant_folding=True)
        return onnx.load(tmp)


class _Weights:
    """The outer graph's initializers, one per distinct tensor."""

    def __init__(self):
        self.list, self.by_key = [], {}

    def take(self, graph) -> dict:
        names = {}
        for init in graph.initializer:
            arr = numpy_helper.to_array(init)
            key = (arr.dtype.str, arr.shape, hashlib.sha1(arr.tobytes()).hexdigest())
            if key not in self.by_key:
                self.by_key[key] = f"w{len(self.list)}"
                self.list.append(numpy_helper.from_array(arr, self.by_key[key]))
            names[init.name] = self.by_key[key]
        return names


def _inline(graph, prefix, feeds, weight_names):
    """The graph's nodes with its inputs renamed to `feeds`, its initializers to the outer weights and every other
    value prefixed (value names must be unique across the outer graph and the loop body) -> (nodes, output names)."""
    rename = {**feeds, **weight_names}

    def nm(v):
        return v if v == "" else rename.setdefault(v, f"{prefix}{v}")

    nodes = []
    for node in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = f"{prefix}{node.name}"
        del copy.input[:]
        copy.input.extend(nm(v) for v in node.input)
        del copy.output[:]
        copy.output.extend(nm(v) for v in node.output)
        nodes.append(copy)
    return nodes, [nm(o.name) for o in graph.output]


def _const(name, values):
    return helper.make_node("Constant", [], [name],
                            value=helper.make_tensor(f"{name}_value", TensorProto.INT64, [len(values)], values))


def trace_chunks(vae: WanVAE, device, opset: int):
    """The first-chunk and the step graph as standalone models -> (first, step, cache count).  The step graph alone
    is also what the GPU benchmark profiles: onnxruntime's profiler does not itemise a Loop body's kernels."""
    g = torch.Generator().manual_seed(0)
    z0 = torch.randn(1, vae.cfg.z_dim, 1, 4, 6, generator=g).to(device)
    with torch.no_grad():
        _, caches = wan_vae_frames.decode_chunk(vae, z0.to(vae.conv2.weight.dtype), None)
    n = len(caches)
    cache_in = [f"cache_in_{i}" for i in range(n)]
    cache_out = [f"cache_out_{i}" for i in range(n)]
    lat_axes, vid_axes = {3: "lh", 4: "lw"}, {2: "T", 3: "height", 4: "width"}
    spatial = {c: {2: f"h{i}", 3: f"w{i}"} for names in (cache_in, cache_out) for i, c in enumerate(names)}
    first = _trace(DecoderChunk(vae, True).eval(), [z0], ["latents"], ["video", *cache_out],
                   {"latents": lat_axes, "video": vid_axes, **{c: spatial[c] for c in cache_out}}, opset)
    step = _trace(DecoderChunk(vae, False).eval(), [z0, *caches], ["latents", *cache_in], ["video", *cache_out],
                  {"latents": lat_axes, "video": vid_axes, **spatial}, opset)
    for m in (first, step):
        m.ir_version = 8  # onnxruntime 1.29 reads IR <= 10 (onnx >= 1.20 writes 14)
    return first, step, n


def chunked_decoder_graph(vae: WanVAE, device, opset: int) -> onnx.ModelProto:
    first, step, n = trace_chunks(vae, device, opset)
    cache_in = [f"cache_in_{i}" for i in range(n)]
    cache_out = [f"cache_out_{i}" for i in range(n)]
    weights = _Weights()
    outer = [_const("k0", [0]), _const("k1", [1]), _const("k2", [2]), _const("k3", [3]), _const("k5", [5]),
             _const("kend", [2**62]), _const("kshape", [1, 3, -1]),
             helper.make_node("Slice", ["latents", "k0", "k1", "k2"], ["z_first"]),
             helper.make_node("Slice", ["latents", "k1", "kend", "k2"], ["z_rest"]),
             helper.make_node("Shape", ["latents"], ["lat_shape"]),
             helper.make_node("Slice", ["lat_shape", "k2", "k3"], ["frames"]),
             helper.make_node("Sub", ["frames", "k1"], ["steps1"]),
             helper.make_node("Squeeze", ["steps1", "k0"], ["steps"]),
             helper.make_node("Constant", [], ["cond"],
                              value=helper.make_tensor("cond_value", TensorProto.BOOL, [], [True]))]
    first_nodes, first_outs = _inline(first.graph, "first/", {"latents": "z_first"}, weights.take(first.graph))
    outer += first_nodes

    # the body: iteration i decodes latent frame 1 + i from the carried caches
    types = {vi.name: vi.type for vi in step.graph.input}
    body_in = [helper.make_tensor_value_info("i", TensorProto.INT64, []),
               helper.make_tensor_value_info("cond_in", TensorProto.BOOL, [])]
    for c in cache_in:
        vi = onnx.ValueInfoProto()
        vi.name = f"loop/{c}"
        vi.type.CopyFrom(types[c])
        body_in.append(vi)
    step_nodes, step_outs = _inline(step.graph, "step/", {"latents": "step/z", **{c: f"loop/{c}" for c in cache_in}},
                                    weights.take(step.graph))
    body_nodes = [helper.make_node("Unsqueeze", ["i", "k0"], ["step/i1"]),
                  helper.make_node("Gather", ["z_rest", "step/i1"], ["step/z"], axis=2),
                  helper.make_node("Identity", ["cond_in"], ["cond_out"]), *step_nodes]
    body_out = [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, [])]
    body_out += [helper.make_empty_tensor_value_info(v) for v in step_outs[1:]]  # the caches, carried
    body_out.append(helper.make_empty_tensor_value_info(step_outs[0]))  # this chunk's video, scanned
    body = helper.make_graph(body_nodes, "decode_step", body_in, body_out)
    outer.append(helper.make_node("Loop", ["steps", "cond", *first_outs[1:]],
                                  [*[f"final/{c}" for c in cache_out], "scan_video"], body=body))
    # scan_video [F-1, 1, 3, 4, H, W] -> [1, 3, 4(F-1), H, W], after frame 0's video [1, 3, 1, H, W]
    outer += [helper.make_node("Transpose", ["scan_video"], ["rest_t"], perm=[1, 2, 0, 3, 4, 5]),
              helper.make_node("Shape", [first_outs[0]], ["v0_shape"]),
              helper.make_node("Slice", ["v0_shape", "k3", "k5"], ["hw"]),
              helper.make_node("Concat", ["kshape", "hw"], ["rest_shape"], axis=0),
              helper.make_node("Reshape", ["rest_t", "rest_shape"], ["rest_video"]),
              helper.make_node("Concat", [first_outs[0], "rest_video"], ["video"], axis=2)]
    graph = helper.make_graph(
        outer, "wan_vae_decoder_chunked",
        [helper.make_tensor_value_info("latents", TensorProto.FLOAT, [1, vae.cfg.z_dim, "frames", "lh", "lw"])],
        [helper.make_tensor_value_info("video", TensorProto.FLOAT, [1, 3, "T", "height", "width"])], weights.list)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="pusa-bot")
    model.ir_version = 8  # onnxruntime 1.29 reads IR <= 10 (onnx >= 1.20 writes 14)
    return model
