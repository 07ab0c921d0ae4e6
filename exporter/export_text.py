"""Export the umT5-XXL text encoder to `text_encoder.onnx` (+ `text_encoder.onnx.data`) and copy its tokenizer.

    python3 exporter/export_text.py --wan-dir Wan2.1-T2V-14B --out packs/pusa-v1 [--dtype fp16|fp32]
    python3 exporter/export_text.py --random-layers 2 --out /tmp/te      # random full-width weights, N layers
    python3 exporter/export_text.py --verify --out /tmp/te-verify        # reduced config, ORT CPU vs torch

Reads `<wan>/models_t5_umt5-xxl-enc-bf16.pth` (Wan's `T5Encoder` state dict) and `<wan>/google/umt5-xxl/`.
Graph (pack contract, docs/model-pack.md): inputs `input_ids` int64 [batch,512], `attention_mask` int64 [batch,512];
output `context` f32 [batch,512,4096] with rows at and past the true length exactly 0.  Batch is dynamic, the length
is fixed (the runtime always pads to text.maxLength).  Inside, compute is in --dtype; weights go to one external data
file (fp16 ≈ 11.4 GB, fp32 ≈ 22.7 GB, both over protobuf's 2 GB limit).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings

import torch
from external_data import gather_external_data

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umt5 import UMT5_XXL, UMT5Config, UMT5Encoder, small_config  # noqa: E402

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
OPSET = 17
CHECKPOINT = "models_t5_umt5-xxl-enc-bf16.pth"
TOKENIZER_DIR = os.path.join("google", "umt5-xxl")


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ---------------------------------------------------------------------------------------------------- loading


def load_checkpoint(wan_dir: str) -> dict:
    path = os.path.join(wan_dir, CHECKPOINT)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found (the official Wan2.1 folder has it beside the DiT shards)")
    # a plain tensor dict (Wan loads it with torch.load too); weights_only refuses anything executable
    return torch.load(path, map_location="cpu", weights_only=True)


def build_encoder(cfg: UMT5Config, state: dict | None, dtype=torch.float32, device="cpu", seed=0) -> UMT5Encoder:
    """Official state dict (or random when None) → strict load in `dtype`."""
    # allocate once, in the target dtype, without running nn.Linear's init on 5.7 B parameters
    with torch.device("meta"):
        model = UMT5Encoder(cfg).to(dtype=dtype)
    model = model.to_empty(device=device)
    if state is None:
        randomize_(model, seed)
    else:
        model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=True)
    return model.eval().requires_grad_(False)


@torch.no_grad()
def randomize_(model: UMT5Encoder, seed: int = 0):
    """Random weights with T5-like scales: unit-variance embeddings, 1/sqrt(fan_in) matrices, norms near 1 and a
    position bias large enough to matter (so every path is exercised).  Generated on the module's device."""
    dev = next(model.parameters()).device
    g = torch.Generator(device=dev).manual_seed(seed)
    for name, p in model.named_parameters():
        if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
            v = 1 + 0.1 * torch.randn(p.shape, generator=g, device=dev)
        elif "pos_embedding" in name:
            v = 0.5 * torch.randn(p.shape, generator=g, device=dev)
        elif name == "token_embedding.weight":
            v = torch.randn(p.shape, generator=g, device=dev)
        else:
            v = torch.randn(p.shape, generator=g, device=dev) / p.shape[1] ** 0.5
        p.copy_(v.to(p.dtype))


# ---------------------------------------------------------------------------------------------------- tokenizer


def copy_tokenizer(wan_dir: str, out_dir: str) -> dict:
    """Write `<out>/tokenizer.json` from `<wan>/google/umt5-xxl/` and return what the manifest needs:
    {"padId", "eosId", "unkId", "vocabSize", "source"}.

    Takes `tokenizer.json` when present; with only `spiece.model`, converts it with transformers' slow→fast T5
    converter (needs transformers + sentencepiece + protobuf).  Padding and truncation settings are dropped: the pack
    contract has the runtime pad/truncate (docs/model-pack.md, tokenizer contract)."""
    src_dir = os.path.join(wan_dir, TOKENIZER_DIR)
    fast, spm = os.path.join(src_dir, "tokenizer.json"), os.path.join(src_dir, "spiece.model")
    if os.path.exists(fast):
        with open(fast, encoding="utf-8") as f:
            tok = json.load(f)
        source = fast
    elif os.path.exists(spm):
        tok = convert_spiece(spm)
        source = spm + " (converted with transformers' T5 slow→fast converter)"
        log("no tokenizer.json; converted", spm)
    else:
        raise FileNotFoundError(f"neither tokenizer.json nor spiece.model in {src_dir}")
    return write_tokenizer(tok, out_dir, source)


def write_tokenizer(tok: dict, out_dir: str, source: str) -> dict:
    """`<out>/tokenizer.json` from a parsed tokenizer.json (padding and truncation dropped), and its manifest facts."""
    os.makedirs(out_dir, exist_ok=True)
    tok["padding"] = None
    tok["truncation"] = None
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    info = tokenizer_info(tok)
    info["source"] = source
    return info


def convert_spiece(spm_path: str, extra_ids: int = 100) -> dict:
    """tokenizer.json (as a dict) from a SentencePiece model with transformers' T5 slow→fast converter.

    The converter is driven directly with a stand-in for the slow tokenizer (the file path, the extra-id count, the
    `</s>` id): transformers 5 no longer builds a fast T5 tokenizer from `vocab_file` alone (T5TokenizerFast(vocab_file)
    silently gives an empty 104-token vocabulary there)."""
    try:
        import sentencepiece
        from transformers.convert_slow_tokenizer import T5Converter
    except ImportError as e:
        raise RuntimeError(f"{spm_path}: converting spiece.model needs `transformers`, `sentencepiece` and `protobuf` "
                           f"(pip install transformers sentencepiece protobuf), or put the model's tokenizer.json "
                           f"beside it") from e
    sp = sentencepiece.SentencePieceProcessor(model_file=spm_path)

    class SlowT5:  # the attributes T5Converter / SpmConverter read from a slow T5Tokenizer
        vocab_file = spm_path
        _extra_ids = extra_ids
        legacy = True
        add_prefix_space = True

        @staticmethod
        def convert_tokens_to_ids(token):
            return sp.piece_to_id(token)

    return json.loads(T5Converter(SlowT5()).converted().to_str())


def tokenizer_info(tok: dict) -> dict:
    """pad/eos/unk ids and vocab size (max id + 1 over the model vocabulary and the added tokens) of a tokenizer.json;
    checks the post-processor appends `</s>`, which the runtime's truncation relies on."""
    model = tok["model"]
    if model.get("type") == "Unigram":
        ids = {piece: i for i, (piece, _score) in enumerate(model["vocab"])}
    else:
        ids = dict(model["vocab"])
    for t in tok.get("added_tokens", []):
        ids[t["content"]] = t["id"]
    missing = [t for t in ("<pad>", "</s>", "<unk>") if t not in ids]
    if missing:
        raise ValueError(f"tokenizer.json lacks {missing}")
    post = json.dumps(tok.get("post_processor"))
    if "</s>" not in post:
        raise ValueError("tokenizer.json's post-processor does not append </s> (expected `$A </s>`)")
    return {"padId": ids["<pad>"], "eosId": ids["</s>"], "unkId": ids["<unk>"], "vocabSize": max(ids.values()) + 1}


# ---------------------------------------------------------------------------------------------------- export


class PackTextEncoder(torch.nn.Module):
    """Pack contract wrapper: int64 ids and mask in, compute in the model dtype, f32 context out."""

    def __init__(self, model: UMT5Encoder):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids, attention_mask).float()


def example_inputs(cfg: UMT5Config, lengths=(7,), seed=1, device="cpu"):
    """input_ids/attention_mask [len(lengths), text_len]: random real ids, `</s>` (1) last, `<pad>` (0) after."""
    g = torch.Generator().manual_seed(seed)
    b, l = len(lengths), cfg.text_len
    ids = torch.zeros(b, l, dtype=torch.int64)
    mask = torch.zeros(b, l, dtype=torch.int64)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(3, cfg.vocab, (n,), generator=g)
        ids[i, n - 1] = 1
        mask[i, :n] = 1
    return ids.to(device), mask.to(device)


def export_onnx(model: UMT5Encoder, path: str, example) -> str:
    """Trace with the legacy exporter (like export_dit.py); weights to one `<path>.data` file."""
    wrapper = PackTextEncoder(model).eval()
    out_dir = os.path.dirname(os.path.abspath(path))
    tmpdir = tempfile.mkdtemp(prefix="te-export-", dir=out_dir)
    tmp = os.path.join(tmpdir, "text_encoder.onnx")
    dyn = {"input_ids": {0: "batch"}, "attention_mask": {0: "batch"}, "context": {0: "batch"}}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            # constant folding turns the length-only bucket computation into one [L, L] int64 initializer shared by
            # all layers; each layer then gathers its own [buckets, heads] table once
            torch.onnx.export(wrapper, example, tmp, dynamo=False, opset_version=OPSET,
                              input_names=["input_ids", "attention_mask"], output_names=["context"],
                              dynamic_axes=dyn, do_constant_folding=True)
        for p in (path, path + ".data"):
            if os.path.exists(p):
                os.remove(p)
        gather_external_data(tmp, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path


def graph_summary(path: str) -> tuple:
    """({op: count}, number of Gather nodes reading a position-bias table)."""
    from onnx_facts import load_graph, op_histogram
    m = load_graph(path)
    ops = op_histogram(m)
    pos = sum(1 for n in m.graph.node if n.op_type == "Gather" and "pos_embedding" in n.input[0])
    return ops, pos


def export_text_encoder(state_dict_or_none: dict | None, cfg: UMT5Config, out_dir: str, dtype: str = "fp16",
                        device: str | None = None) -> dict:
    """Build (official state dict, or random weights when None), export `<out>/text_encoder.onnx` (+ .data) and
    return {"path", "bytes", "dataBytes", "inputs", "outputs", "ops", "seconds"} for the pack builder."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    t0 = time.time()
    model = build_encoder(cfg, state_dict_or_none, dtype=DTYPES[dtype], device=device)
    os.makedirs(out_dir, exist_ok=True)
    path = export_onnx(model, os.path.join(out_dir, "text_encoder.onnx"), example_inputs(cfg, (5,), device=device))
    del model
    L, D = cfg.text_len, cfg.dim
    res = {
        "path": path, "bytes": os.path.getsize(path),
        "dataBytes": os.path.getsize(path + ".data") if os.path.exists(path + ".data") else 0,
        "inputs": [{"name": "input_ids", "dtype": "int64", "shape": ["batch", L]},
                   {"name": "attention_mask", "dtype": "int64", "shape": ["batch", L]}],
        "outputs": [{"name": "context", "dtype": "float32", "shape": ["batch", L, D]}],
        "seconds": round(time.time() - t0, 1),
    }
    res["ops"], res["pos_gathers"] = graph_summary(path)
    log(f"wrote {path} ({res['bytes']} B + {res['dataBytes']} B data) in {res['seconds']} s")
    return res


# ---------------------------------------------------------------------------------------------------- verification


def ort_run(path, ids, mask, threads=0):
    from ort_quiet import load as _load_ort
    ort = _load_ort()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return sess.run(["context"], {"input_ids": ids.cpu().numpy(), "attention_mask": mask.cpu().numpy()})[0]


def verify(out_dir: str, cfg: UMT5Config | None = None) -> dict:
    """Reduced-config random-weight fp32 export; ORT CPU vs torch on batch 1 and 2 with different lengths."""
    cfg = cfg or small_config()
    res = export_text_encoder(None, cfg, out_dir, dtype="fp32", device="cpu")
    model = build_encoder(cfg, None, dtype=torch.float32, device="cpu")  # same seed → same weights
    res["cases"] = []
    for lengths in [(1,), (37,), (512,), (9, 300), (512, 2)]:
        ids, mask = example_inputs(cfg, lengths, seed=sum(lengths))
        with torch.no_grad():
            ref = PackTextEncoder(model)(ids, mask).numpy()
        out = ort_run(res["path"], ids, mask)
        pad_rows = [float(abs(out[i, n:]).max()) if n < cfg.text_len else 0.0 for i, n in enumerate(lengths)]
        case = {"lengths": lengths, "max_abs_err": float(abs(out - ref).max()), "ref_max_abs": float(abs(ref).max()),
                "pad_rows_max_abs": max(pad_rows)}
        res["cases"].append(case)
        log(f"verify {lengths}: max|ort-torch| = {case['max_abs_err']:.3e} (|ref|max {case['ref_max_abs']:.3f}), "
            f"pad rows max {case['pad_rows_max_abs']}")
    return res


def bench(path: str, cfg: UMT5Config, dtype: str, device: str | None = None, reps: int = 3) -> dict:
    """Median seconds of one call, batch 1 and 2: onnxruntime CPU on the exported graph (fp32 only: the CPU provider
    has no fp16 kernels for most of these ops) and eager torch of the same random weights on `device`."""
    import statistics
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    out = {}
    model = build_encoder(cfg, None, dtype=DTYPES[dtype], device=device)  # same seed as the export
    for b in (1, 2):
        ids, mask = example_inputs(cfg, (20, 300)[:b], device=device)
        times = []
        with torch.no_grad():
            for _ in range(reps + 1):
                if device == "cuda":
                    torch.cuda.synchronize()
                t = time.perf_counter()
                model(ids, mask)
                if device == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t)
        out[f"torch_{device}_{dtype}_b{b}_s"] = round(statistics.median(times[1:]), 4)
    del model
    if dtype == "fp32":
        from ort_quiet import load as _load_ort
        ort = _load_ort()
        so = ort.SessionOptions()
        so.log_severity_level = 3
        t = time.perf_counter()
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        out["ort_cpu_load_s"] = round(time.perf_counter() - t, 2)
        for b in (1, 2):
            ids, mask = example_inputs(cfg, (20, 300)[:b])
            feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
            times = []
            for _ in range(reps + 1):
                t = time.perf_counter()
                sess.run(["context"], feed)
                times.append(time.perf_counter() - t)
            out[f"ort_cpu_fp32_b{b}_s"] = round(statistics.median(times[1:]), 3)
    log("bench", out)
    return out


# ---------------------------------------------------------------------------------------------------- CLI


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wan-dir", help=f"official Wan2.1-T2V-14B folder ({CHECKPOINT}, {TOKENIZER_DIR}/)")
    ap.add_argument("--out", default="out/pusa-v1", help="pack folder; writes text_encoder.onnx(.data), tokenizer.json")
    ap.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16", help="compute dtype inside the graph")
    ap.add_argument("--device", default=None, help="where to build/trace (default cuda when available)")
    ap.add_argument("--random-layers", type=int, default=0,
                    help="no weights: random full-width umT5-XXL with this many layers (for benchmarks)")
    ap.add_argument("--verify", action="store_true", help="reduced-config random-weight parity check, then exit")
    ap.add_argument("--bench", action="store_true",
                    help="after exporting, time onnxruntime CPU (fp32 graphs) and eager torch, batch 1 and 2")
    a = ap.parse_args(argv)

    if a.verify:
        res = verify(a.out)
        print(json.dumps(res, indent=1))
        return 0 if all(c["max_abs_err"] < 1e-4 and c["pad_rows_max_abs"] == 0 for c in res["cases"]) else 1
    if a.random_layers:
        cfg = UMT5Config(**{**UMT5_XXL.to_dict(), "num_layers": a.random_layers})
        res = export_text_encoder(None, cfg, a.out, a.dtype, a.device)
        if a.bench:
            res["bench"] = bench(res["path"], cfg, a.dtype, a.device)
    else:
        if not a.wan_dir:
            ap.error("--wan-dir is required (or --random-layers / --verify)")
        log("loading", os.path.join(a.wan_dir, CHECKPOINT))
        res = export_text_encoder(load_checkpoint(a.wan_dir), UMT5_XXL, a.out, a.dtype, a.device)
        res["tokenizer"] = copy_tokenizer(a.wan_dir, a.out)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
