"""LoRA merges into a Wan DiT state dict (spec §A.8, §B.4). Order: base -> LightX2V (optional) -> Pusa.

Pusa (PEFT keys, `pusa_v1.pt`):  W += alpha · (B @ A)            — raw multiplier, NO division by rank.
LightX2V (`lora_down/lora_up`):   W += (alpha_file / rank) · (up @ down), in fp32; alpha_file = `<param>.alpha` if
                                  present, else 1.0 (so a file without `.alpha` keys scales by 1/rank, spec E.11).
Both strip an optional `diffusion_model.` prefix.  Functions work on plain {name: tensor} dicts so they are testable on
small random tensors, and on the official shards lazily (the state dict can be the model's own parameters).
"""
from __future__ import annotations

import re

import torch

PREFIX = "diffusion_model."
# targets of train_wan_pusa.py: q,k,v,o,ffn.0,ffn.2 in both attentions of every block
PUSA_TARGET = re.compile(r"^blocks\.\d+\.(self_attn\.[qkvo]|cross_attn\.[qkvo]|ffn\.[02])$")


def _strip(k: str) -> str:
    return k[len(PREFIX):] if k.startswith(PREFIX) else k


def load_lora_file(path: str) -> dict:
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        return load_file(path)
    sd = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    return sd


def pusa_pairs(lora: dict) -> dict:
    """{module: (A, B)} from PEFT keys `<module>.lora_A[.default].weight` / `lora_B`."""
    pairs: dict = {}
    pat = re.compile(r"^(.*)\.lora_([AB])(?:\.[^.]+)?\.weight$")
    for k, v in lora.items():
        m = pat.match(_strip(k))
        if not m:
            continue
        pairs.setdefault(m.group(1), {})[m.group(2)] = v
    out = {}
    for mod, ab in pairs.items():
        if "A" not in ab or "B" not in ab:
            raise ValueError(f"incomplete LoRA pair for {mod}: {sorted(ab)}")
        out[mod] = (ab["A"], ab["B"])
    return out


def lightx2v_pairs(lora: dict, default_alpha: float = 1.0) -> dict:
    """{module: (down, up, scale)} with scale = alpha_file / rank."""
    downs, ups, alphas = {}, {}, {}
    for k, v in lora.items():
        k = _strip(k)
        if k.endswith(".lora_down.weight"):
            downs[k[: -len(".lora_down.weight")]] = v
        elif k.endswith(".lora_up.weight"):
            ups[k[: -len(".lora_up.weight")]] = v
        elif k.endswith(".alpha"):
            alphas[k[: -len(".alpha")]] = float(v)
    out = {}
    for mod, down in downs.items():
        if mod not in ups:
            raise ValueError(f"lora_down without lora_up for {mod}")
        rank = down.shape[0]
        out[mod] = (down, ups[mod], alphas.get(mod, default_alpha) / rank)
    return out


@torch.no_grad()
def merge_pusa(state: dict, lora: dict, alpha: float = 1.4, compute_dtype=None, strict: bool = True) -> list:
    """In place: state[m.weight] += alpha·(B@A). compute_dtype None = the weight's dtype (reference: bf16 on CUDA).
    Returns the merged module names. strict: every LoRA module must exist in `state`."""
    merged = []
    for mod, (a, b) in sorted(pusa_pairs(lora).items()):
        key = mod + ".weight"
        if key not in state:
            if strict:
                raise KeyError(f"LoRA target {key} not in the model")
            continue
        w = state[key]
        dt = compute_dtype or w.dtype
        delta = alpha * (b.to(w.device, dt) @ a.to(w.device, dt))
        if delta.shape != w.shape:
            raise ValueError(f"{key}: delta {tuple(delta.shape)} vs weight {tuple(w.shape)}")
        w.copy_((w.to(dt) + delta).to(w.dtype))
        merged.append(mod)
    return merged


@torch.no_grad()
def merge_lightx2v(state: dict, lora: dict, default_alpha: float = 1.0, strict: bool = True) -> list:
    """In place: state[m.weight] += (alpha_file/rank)·(up@down), computed in fp32 (model_manager.py)."""
    merged = []
    for mod, (down, up, scale) in sorted(lightx2v_pairs(lora, default_alpha).items()):
        key = mod + ".weight"
        if key not in state:
            if strict:
                raise KeyError(f"LoRA target {key} not in the model")
            continue
        w = state[key]
        delta = scale * (up.to(w.device, torch.float32) @ down.to(w.device, torch.float32))
        w.copy_((w.float() + delta).to(w.dtype))
        merged.append(mod)
    return merged
