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
