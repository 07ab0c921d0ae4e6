import pytest

torch = pytest.importorskip("torch")

import lora  # noqa: E402


def _rand(*s, seed=0):
    return torch.randn(*s, generator=torch.Generator().manual_seed(seed))


def test_pusa_merge_raw_alpha_no_rank_division():
    r, o, i = 8, 12, 10
    W = _rand(o, i)
    A, B = _rand(r, i, seed=1), _rand(o, r, seed=2)
    state = {"blocks.0.self_attn.q.weight": W.clone(), "blocks.0.ffn.2.weight": W.clone()}
    lf = {"diffusion_model.blocks.0.self_attn.q.lora_A.default.weight": A,
          "diffusion_model.blocks.0.self_attn.q.lora_B.default.weight": B,
          "blocks.0.ffn.2.lora_A.weight": A, "blocks.0.ffn.2.lora_B.weight": B}
    merged = lora.merge_pusa(state, lf, alpha=1.4)
    assert sorted(merged) == ["blocks.0.ffn.2", "blocks.0.self_attn.q"]
    for k in state:
        torch.testing.assert_close(state[k], W + 1.4 * (B @ A))
    assert lora.PUSA_TARGET.match("blocks.3.cross_attn.v") and lora.PUSA_TARGET.match("blocks.3.ffn.0")
    with pytest.raises(KeyError):
        lora.merge_pusa({}, lf)


def test_lightx2v_merge_alpha_over_rank_then_pusa():
    r, o, i = 4, 6, 5
    W = _rand(o, i)
    down, up = _rand(r, i, seed=3), _rand(o, r, seed=4)
    A, B = _rand(2, i, seed=5), _rand(o, 2, seed=6)
    state = {"blocks.1.cross_attn.k.weight": W.clone(), "blocks.1.cross_attn.o.weight": W.clone()}
    l2v = {"diffusion_model.blocks.1.cross_attn.k.lora_down.weight": down,
           "diffusion_model.blocks.1.cross_attn.k.lora_up.weight": up,
           "diffusion_model.blocks.1.cross_attn.k.alpha": torch.tensor(8.0),
           "blocks.1.cross_attn.o.lora_down.weight": down, "blocks.1.cross_attn.o.lora_up.weight": up}  # no alpha
    lora.merge_lightx2v(state, l2v)
    torch.testing.assert_close(state["blocks.1.cross_attn.k.weight"], W + (8.0 / r) * (up @ down))
    torch.testing.assert_close(state["blocks.1.cross_attn.o.weight"], W + (1.0 / r) * (up @ down))
    lora.merge_pusa(state, {"blocks.1.cross_attn.k.lora_A.default.weight": A,
                            "blocks.1.cross_attn.k.lora_B.default.weight": B}, alpha=1.0)
    torch.testing.assert_close(state["blocks.1.cross_attn.k.weight"], W + 2.0 * (up @ down) + B @ A)


def test_bf16_merge_happens_in_model_dtype():
    W = _rand(16, 16).bfloat16()
    A, B = _rand(4, 16, seed=1).bfloat16(), _rand(16, 4, seed=2).bfloat16()
    state = {"blocks.0.self_attn.v.weight": W.clone()}
    lora.merge_pusa(state, {"blocks.0.self_attn.v.lora_A.default.weight": A,
                            "blocks.0.self_attn.v.lora_B.default.weight": B}, alpha=1.4)
    assert state["blocks.0.self_attn.v.weight"].dtype == torch.bfloat16
    torch.testing.assert_close(state["blocks.0.self_attn.v.weight"], W + 1.4 * (B @ A))
