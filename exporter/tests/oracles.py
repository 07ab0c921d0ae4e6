"""Load the upstream reference modules as oracles, from copies of their sources.

`exporter/.oracles/` (git-ignored) holds `wan_video_pusa.py` (Yaofang-Liu/Pusa-VidGen @ 8a8c4f5,
PusaV1/diffsynth/models/wan_video_pusa.py) and `wan_model.py` (Wan-Video/Wan2.1 @ 9737cba, wan/modules/model.py);
`ORACLE_DIR` overrides the folder.  Both are imported unmodified; only their package-relative imports are stubbed
(Pusa: `.utils.hash_state_dict_keys`; Wan: diffusers mixins and `.attention.flash_attention`, replaced by SDPA).
"""
import os
import sys
import types

import torch
import torch.nn.functional as F

ORACLE_DIR = os.environ.get("ORACLE_DIR", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                       ".oracles"))


def _load(pkg: str, name: str, path: str, stubs: dict):
    if pkg not in sys.modules:
        p = types.ModuleType(pkg)
        p.__path__ = []
        sys.modules[pkg] = p
    for sub, attrs in stubs.items():
        m = types.ModuleType(f"{pkg}.{sub}")
        m.__dict__.update(attrs)
        sys.modules[f"{pkg}.{sub}"] = m
    mod = types.ModuleType(f"{pkg}.{name}")
    mod.__package__ = pkg
    mod.__file__ = path
    src = open(path).read()
    exec(compile(src, path, "exec"), mod.__dict__)
    sys.modules[f"{pkg}.{name}"] = mod
    return mod


def available(fname):
    return os.path.exists(os.path.join(ORACLE_DIR, fname))


def pusa_module():
    return _load("pusa_oracle", "wan_video_pusa", os.path.join(ORACLE_DIR, "wan_video_pusa.py"),
                 {"utils": {"hash_state_dict_keys": lambda *a, **k: ""}})


def _sdpa_flash(q, k, v, k_lens=None, window_size=(-1, -1), **kw):
    # Wan's flash_attention: q [B,Lq,N,D], k/v [B,Lk,N,D] -> [B,Lq,N,D] (k_lens unused: full-length sequences)
    o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return o.transpose(1, 2).type_as(q)


def wan_module():
    if "diffusers" not in sys.modules:
        d = types.ModuleType("diffusers")
        d.__path__ = []
        cu = types.ModuleType("diffusers.configuration_utils")
        cu.ConfigMixin = object
        cu.register_to_config = lambda f: f
        mu = types.ModuleType("diffusers.models.modeling_utils")
        mu.ModelMixin = torch.nn.Module
        dm = types.ModuleType("diffusers.models")
        dm.__path__ = []
        sys.modules.update({"diffusers": d, "diffusers.configuration_utils": cu, "diffusers.models": dm,
                            "diffusers.models.modeling_utils": mu})
    return _load("wan_oracle", "model", os.path.join(ORACLE_DIR, "wan_model.py"),
                 {"attention": {"flash_attention": _sdpa_flash}})


# ---------------------------------------------------------------------------------------------------- VAE oracles
# `wan_vae.py` (Wan2.1 @ 9737cba, wan/modules/vae.py) and `wan_video_vae_pusa.py` (Pusa @ 8a8c4f5,
# PusaV1/diffsynth/models/wan_video_vae.py) have no package-relative imports.  They import einops (and Pusa tqdm);
# where those are not installed, a minimal stand-in is registered (only the two rearrange patterns they use on the
# encode/decode path, and a pass-through tqdm), never a change to the sources.


def _third_party_fallbacks():
    try:
        import einops  # noqa: F401
    except ImportError:
        def rearrange(x, pattern, **kw):
            left = pattern.split("->")[0].strip()
            if left.startswith("("):          # '(b t) c h w -> b c t h w', t=...
                t = kw["t"]
                bt, c, h, w = x.shape
                return x.reshape(bt // t, t, c, h, w).permute(0, 2, 1, 3, 4)
            b, c, t, h, w = x.shape           # 'b c t h w -> (b t) c h w'
            return x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        e = types.ModuleType("einops")
        e.rearrange = rearrange
        e.repeat = None  # only used by Pusa's tiling masks, which the tests do not call
        sys.modules["einops"] = e
    try:
        import tqdm  # noqa: F401
    except ImportError:
        q = types.ModuleType("tqdm")
        q.tqdm = lambda it, **k: it
        sys.modules["tqdm"] = q


def wan_vae_module():
    _third_party_fallbacks()
    return _load("wan_oracle", "vae", os.path.join(ORACLE_DIR, "wan_vae.py"), {})


def pusa_vae_module():
    _third_party_fallbacks()
    return _load("pusa_oracle", "wan_video_vae", os.path.join(ORACLE_DIR, "wan_video_vae_pusa.py"), {})


# ---------------------------------------------------------------------------------------------------- umT5 oracles
# `wan_t5.py` (Wan2.1 @ 9737cba, wan/modules/t5.py) and `wan_video_text_encoder_pusa.py` (Pusa-VidGen @ 8a8c4f5,
# PusaV1/diffsynth/models/wan_video_text_encoder.py).  Wan's file imports `.tokenizers` (transformers, ftfy), stubbed;
# its `T5EncoderModel` has `device=torch.cuda.current_device()` as a default argument, evaluated at import, so on a
# machine without CUDA that call is answered with "cpu" while the file is executed.


class _NoTokenizer:
    def __init__(self, *a, **k):
        raise RuntimeError("tokenizer stubbed in the oracle")


def wan_t5_module():
    real = torch.cuda.current_device
    if not torch.cuda.is_available():
        torch.cuda.current_device = lambda: "cpu"
    try:
        return _load("wan_oracle", "t5", os.path.join(ORACLE_DIR, "wan_t5.py"),
                     {"tokenizers": {"HuggingfaceTokenizer": _NoTokenizer}})
    finally:
        torch.cuda.current_device = real


def pusa_text_module():
    return _load("pusa_oracle", "wan_video_text_encoder", os.path.join(ORACLE_DIR, "wan_video_text_encoder_pusa.py"),
                 {})
