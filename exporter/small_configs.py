"""Reduced configs of the three Wan2.1 models for the end-to-end pack test (`make_fake_wan.py --small` →
`build_pack.py --small` → the TypeScript runtime, test/fixtures/wan-small-pack).  Real architectures and key names,
tiny widths so the committed pack stays near 3 MB: one DiT block of one 128-wide head (RoPE keeps its real 44/42/42
split), a 4-wide VAE with the real stage layout, a 2-layer umT5.  The DiT's text width is the text encoder's, as in the
real pair (4096)."""
from umt5 import small_config as small_t5
from wan_dit import small_config as small_dit
from wan_vae import small_vae_config

T5 = small_t5(dim=32, dim_attn=32, dim_ffn=64, num_heads=2, num_layers=2, text_len=32)  # vocab: from the checkpoint
DIT = small_dit(dim=128, ffn_dim=256, num_heads=1, num_layers=1, text_dim=T5.dim)
VAE = small_vae_config(dim=4)
SIZES = [[64, 64], [96, 64]]  # [width, height], multiples of 16
