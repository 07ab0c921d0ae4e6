"""A weight-quantised copy of a built pack, for 24 GB GPUs (issue [10] item 3), without exporting again.

    python3 exporter/quantize_pack.py --pack packs/pusa-v1 --out packs/pusa-v1-int4 --quant int4 [--copy]

The DiT becomes onnxruntime's weight-only `MatMulNBits` (the same quantiser as `build_pack.py --quant`), or with
`--quant fp8` the GemmFloat8 graph of exporter/fp8.py (Ada/Hopper; the manifest's `files.dit.quant` says so and the
worker refuses it elsewhere); the text
encoder, the VAE graphs and the tokenizer are hard-linked from the source pack (copied with `--copy`, or when the
two folders are on different file systems), so a second pack costs only its DiT on disk: at full size 7 GB beside
the fp16 pack's 28 GB instead of another 47 GB. The manifest is the source's with the DiT's entry (checksum, bytes,
I/O read back from the new graph) and the name changed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SHARED = ("text_encoder.onnx", "vae_encoder.onnx", "vae_decoder.onnx")


def link_or_copy(src: str, dst: str, copy: bool) -> None:
    if os.path.exists(dst):
        os.remove(dst)
    if not copy:
        try:
            os.link(src, dst)
            return
        except OSError:  # another file system
            pass
    shutil.copyfile(src, dst)


def quantize_pack(pack: str, out: str, quant: str, copy: bool = False, per_channel: bool = True,
                  gemm_out: str = "model") -> dict:
    from bench_gpu import quantize
    from build_pack import file_entry

    t0 = time.time()
    with open(os.path.join(pack, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    if os.path.realpath(pack) == os.path.realpath(out):
        raise SystemExit("--out must be another folder: the source pack keeps its fp16 DiT")
    os.makedirs(out, exist_ok=True)
    files = manifest["files"]
    for key, spec in files.items():
        if key == "dit":
            continue
        for name in (spec["path"], spec["path"] + ".data"):
            if os.path.exists(os.path.join(pack, name)):
                link_or_copy(os.path.join(pack, name), os.path.join(out, name), copy)
    tokenizer = manifest["text"]["tokenizer"]
    link_or_copy(os.path.join(pack, tokenizer), os.path.join(out, tokenizer), copy)
    src = os.path.join(pack, files["dit"]["path"])
    if quant == "fp8":
        from fp8 import convert
        q = convert(src, os.path.join(out, "dit.onnx"), per_channel=per_channel, gemm_out=gemm_out)
        how = f"fp8 e4m3 (GemmFloat8, {'per-channel' if per_channel else 'per-tensor'} weight scales)"
    else:
        q = quantize(src, os.path.join(out, "dit.onnx"), bits=int(quant.removeprefix("int")))
        how = f"{quant} (MatMulNBits)"
    files["dit"] = {**file_entry(out, "dit.onnx"), "quant": quant}
    manifest["name"] = f"{manifest['name']}-{quant}"
    manifest["description"] = f"{manifest['description']} DiT weights quantised to {how}."
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    facts = {"source": pack, "quant": quant, "dit_bytes": q["bytes"], "seconds": round(time.time() - t0)}
    with open(os.path.join(out, "build.json"), "w", encoding="utf-8") as f:
        json.dump(facts, f, indent=1)
    print("quantised pack written:", json.dumps(facts), flush=True)
    return facts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", required=True, help="a pack folder written by build_pack.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--quant", choices=["int8", "int4", "fp8"], default="int4",
                    help="int8/int4: weight-only MatMulNBits (any GPU); fp8: GemmFloat8 (compute capability >= 8.9)")
    ap.add_argument("--copy", action="store_true", help="copy the shared graphs instead of hard-linking them")
    ap.add_argument("--per-tensor", action="store_true", help="fp8: one weight scale per matrix")
    ap.add_argument("--gemm-out", choices=["model", "fp32"], default="model", help="fp8: GemmFloat8's output type")
    a = ap.parse_args(argv)
    quantize_pack(a.pack, a.out, a.quant, a.copy, per_channel=not a.per_tensor, gemm_out=a.gemm_out)


if __name__ == "__main__":
    main()
