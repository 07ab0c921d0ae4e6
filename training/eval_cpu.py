"""Run parts of evaluate.py on CPU from a run's checkpoints (no GPU needed; slow: ~2 min per sampler pass).

  python3 training/eval_cpu.py extend 24 5 [--run training/runs/gpu1]    # n=24 clips, guidance 5
  python3 training/eval_cpu.py t2v 100 5,7
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import evaluate  # noqa: E402
from build_pack import CFG, make_tokenizer  # noqa: E402
from export import round_fp16_  # noqa: E402
from models import DiT, TextEncoder, VAEDecoder, VAEEncoder  # noqa: E402

what, n, arg = sys.argv[1], int(sys.argv[2]), sys.argv[3]
run = sys.argv[sys.argv.index("--run") + 1] if "--run" in sys.argv else "training/runs/gpu1"
torch.set_num_threads(os.cpu_count() or 2)
tok = make_tokenizer("/tmp/pusa_mini_tokenizer.json")
ck = torch.load(f"{run}/vae.pt", map_location="cpu")
enc, dec = VAEEncoder(), VAEDecoder()
enc.load_state_dict(ck["enc"])
dec.load_state_dict(ck["dec"])
ck = torch.load(f"{run}/dit.pt", map_location="cpu")
te, dit = TextEncoder(tok.get_vocab_size(), **CFG["text"]), DiT(**CFG["dit"])
te.load_state_dict(ck["te"])
dit.load_state_dict(ck["dit"])
for m in (enc, dec, te, dit):
    round_fp16_(m)  # the weights the pack stores
st = torch.load(f"{run}/stats.pt", map_location="cpu")
c = evaluate.Ctx(enc.eval(), dec.eval(), te.eval(), dit.eval(), tok, st["mean"], st["std"], torch.device("cpu"))
t = time.time()
if what == "t2v":
    r = evaluate.eval_t2v(c, n, [float(g) for g in arg.split(",")])[0]
else:
    p = evaluate.single_object_params(evaluate.SEED0 + 2, n)
    caps = [data.caption(p, i) for i in range(n)]
    r = evaluate.eval_extend(c, caps, n, float(arg), settings=((1, (0.0,)), (2, (0.0, 0.0)), (3, (0.0, 0.0, 0.0))))
with open(f"{run}/cpu_{what}.json", "w") as f:
    json.dump(r, f, indent=1)
print(json.dumps(r, indent=1), f"{time.time() - t:.0f}s")
