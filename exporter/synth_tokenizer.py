"""A umT5-layout tokenizer.json at umT5-XXL's full vocabulary size, for the full-size GPU run (issue [10] item 1).

    python3 exporter/synth_tokenizer.py --out /root/tok/tokenizer.json [--vocab 256384]

The real `google/umt5-xxl` tokenizer cannot be downloaded on any machine of this project (no network but npm and
Debian), so the run uses the test fixture's tokenizer (test/fixtures/umt5-mini-tokenizer: a SentencePiece Unigram in
umT5's layout — `<pad>` 0, `</s>` 1, `<unk>` 2, the Precompiled normaliser, Metaspace, `$A </s>` — trained on text
written for it) grown to the full vocabulary with filler pieces that no prompt can match (they begin with U+2063,
which the normaliser never produces from typed text), placed before the `<extra_id_N>` pieces as in umT5. What the
run measures is then the real one's: loading a 256k-piece Unigram model and tokenizing with it; the ids a prompt
gets are the fixture's.
"""
import argparse
import gzip
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "test", "fixtures", "umt5-mini-tokenizer", "tokenizer.json.gz")
UMT5_VOCAB = 256_384  # umT5-XXL's embedding rows (exporter/umt5.py UMT5_XXL.vocab)


def grow(tok: dict, vocab: int) -> dict:
    pieces = tok["model"]["vocab"]
    extra = [p for p in pieces if p[0].startswith("<extra_id_")]
    body = [p for p in pieces if not p[0].startswith("<extra_id_")]
    fill = vocab - len(pieces)
    if fill < 0:
        raise SystemExit(f"the fixture already has {len(pieces)} pieces, more than {vocab}")
    body += [[f"\u2063{i:06d}", -99.0] for i in range(fill)]
    tok["model"]["vocab"] = body + extra
    return tok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", type=int, default=UMT5_VOCAB)
    a = ap.parse_args(argv)
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as f:
        tok = grow(json.load(f), a.vocab)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    print(f"wrote {a.out}: {len(tok['model']['vocab'])} pieces, {os.path.getsize(a.out) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
