"""Write a folder in the official Wan2.1-T2V-14B layout with random weights, plus a Pusa LoRA and a LightX2V LoRA,
so the exporter's real loading code runs end to end without the real weights (issue 8, verification (c)).

    python3 exporter/make_fake_wan.py --out DIR --tokenizer tokenizer.json [--small] [--rank 8]

Layout: `diffusion_pytorch_model-0000N-of-00002.safetensors` + `diffusion_pytorch_model.safetensors.index.json`
(keys with no prefix, as the official shards), `Wan2.1_VAE.pth` (bare state dict), `models_t5_umt5-xxl-enc-bf16.pth`,
`google/umt5-xxl/tokenizer.json`, `pusa_v1.pt` (PEFT keys `blocks.N.<module>.lora_A.default.weight`, rank --rank,
every q/k/v/o/ffn.0/ffn.2 of both attentions, bf16, with the `diffusion_model.` prefix half of the time) and
`lightx2v.safetensors` (`lora_down`/`lora_up`/`alpha`).  Without --small the DiT is the full 14B shape: 28 GB.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export_dit  # noqa: E402
import export_text  # noqa: E402
import export_vae  # noqa: E402
import lora as lora_mod  # noqa: E402
import small_configs  # noqa: E402
from umt5 import UMT5_XXL  # noqa: E402
from wan_dit import WAN21_T2V_14B  # noqa: E402


def tokenizer_vocab(path: str) -> int:
    tok = json.load(open(path))
    vocab = tok["model"]["vocab"]  # Unigram: [[piece, score], ...] indexed by id; WordPiece/BPE: {piece: id}
    ids = list(range(len(vocab))) if isinstance(vocab, list) else list(vocab.values())
    return max(ids + [t["id"] for t in tok.get("added_tokens", [])]) + 1


@torch.no_grad()
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokenizer", required=True, help="a umT5-style tokenizer.json to place under google/umt5-xxl")
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--rank", type=int, default=8)
    a = ap.parse_args(argv)
    os.makedirs(os.path.join(a.out, "google", "umt5-xxl"), exist_ok=True)
    shutil.copy(a.tokenizer, os.path.join(a.out, "google", "umt5-xxl", "tokenizer.json"))
    g = torch.Generator().manual_seed(3)

    # DiT shards + index, bf16 like the official ones
    dit_cfg = small_configs.DIT if a.small else WAN21_T2V_14B
    dit = export_dit.build_model(dit_cfg, None, dtype=torch.bfloat16)
    sd = dit.state_dict()
    keys = sorted(sd)
    halves = [keys[: len(keys) // 2], keys[len(keys) // 2:]]
    from safetensors.torch import save_file
    index = {"metadata": {"total_size": sum(v.numel() * v.element_size() for v in sd.values())}, "weight_map": {}}
    for i, part in enumerate(halves, 1):
        name = f"diffusion_pytorch_model-0000{i}-of-00002.safetensors"
        save_file({k: sd[k].contiguous() for k in part}, os.path.join(a.out, name))
        index["weight_map"].update({k: name for k in part})
    json.dump(index, open(os.path.join(a.out, "diffusion_pytorch_model.safetensors.index.json"), "w"), indent=1)

    # Pusa LoRA (PEFT) and a LightX2V-style LoRA over the same targets
    pusa, l2v = {}, {}
    for k in keys:
        mod = k[: -len(".weight")]
        if not k.endswith(".weight") or not lora_mod.PUSA_TARGET.match(mod):
            continue
        out_f, in_f = sd[k].shape
        prefix = lora_mod.PREFIX if len(pusa) % 4 == 0 else ""
        pusa[f"{prefix}{mod}.lora_A.default.weight"] = (torch.randn(a.rank, in_f, generator=g) / in_f ** 0.5).bfloat16()
        pusa[f"{prefix}{mod}.lora_B.default.weight"] = (0.02 * torch.randn(out_f, a.rank, generator=g)).bfloat16()
        l2v[f"diffusion_model.{mod}.lora_down.weight"] = torch.randn(a.rank, in_f, generator=g) / in_f ** 0.5
        l2v[f"diffusion_model.{mod}.lora_up.weight"] = 0.02 * torch.randn(out_f, a.rank, generator=g)
        l2v[f"diffusion_model.{mod}.alpha"] = torch.tensor(float(a.rank))
    torch.save(pusa, os.path.join(a.out, "pusa_v1.pt"))
    save_file(l2v, os.path.join(a.out, "lightx2v.safetensors"))

    # VAE: the bare WanVAE_ state dict, fp32
    vae = export_vae.build_vae(None, small_configs.VAE if a.small else None)
    torch.save(vae.state_dict(), os.path.join(a.out, "Wan2.1_VAE.pth"))

    # umT5 encoder, bf16, vocab covering the tokenizer
    t5_cfg = small_configs.T5 if a.small else UMT5_XXL
    if a.small:
        t5_cfg = dataclasses.replace(t5_cfg, vocab=max(t5_cfg.vocab, tokenizer_vocab(a.tokenizer)))
    t5 = export_text.build_encoder(t5_cfg, None, dtype=torch.bfloat16)
    torch.save(t5.state_dict(), os.path.join(a.out, export_text.CHECKPOINT))
    print(json.dumps({"out": a.out, "dit_keys": len(keys), "pusa_pairs": len(pusa) // 2, "t5_vocab": t5_cfg.vocab,
                      "files": sorted(os.listdir(a.out))}))


if __name__ == "__main__":
    main()
