#!/usr/bin/env bash
# The VAE run of issue [10] on the GPU machine, in steps that fit its limits: each call carries the repository
# (~29 MB) plus one part of onnxruntime's CUDA provider (`.gpu-stage/pN`, 36 MiB each, re-split from
# ../shared/gpu/stage.sh's output), and does one stage of the work while the parts gather in /root/ort-parts.
#   step 1..5: carry [".gpu-stage/pN"] — 1: exporter tests, 2: export graphs, 3-4: PyTorch baselines, 5: nothing
#   step 6:    carry [".gpu-stage/base", ".gpu-out"] — our decode through onnxruntime-node, then its error
# Results go to $OUT (vae-*.json, logs); docs/vae-notes.md records what each variant predicted and measured.
set -uo pipefail
STEP=$1
WORK=/root/vae
export PYTHONUNBUFFERED=1
mkdir -p "$WORK" /root/ort-parts "$OUT"
if [ "$STEP" -le 5 ]; then cp .gpu-stage/p"$STEP"/* /root/ort-parts/; ls /root/ort-parts; fi
case "$STEP" in
  1) nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
     python3 -m pytest -q -x exporter/tests/test_wan_vae.py -k "frames_layout or chunked or onnx_matches or fp16_graph or entry_point" 2>&1 | tail -25 ;;
  2) python3 -m pytest -q -x exporter/tests/test_wan_vae.py -k "chunked or onnx_matches or entry_point" 2>&1 | tail -4
     python3 exporter/vae_variants.py export --work "$WORK" --layouts chunked,ncdhw 2>&1 | grep -v Warning | tail -8 ;;
  torch) python3 exporter/vae_variants.py torch --work "$WORK" --res 480p,720p 2>&1 | tail -12; cp "$WORK/torch.json" "$OUT/vae-torch.json" ;;
  3|4|5) ls "$WORK" ;;
  6) . .gpu-stage/base/on-device.sh
     [ -e node_modules ] || ln -sfn /root/ort/node_modules node_modules  # ESM resolves from the bundle, not NODE_PATH
     B="node $PWD/.gpu-out/bench-gpu-vae.mjs --latents $WORK --dump $WORK"
     cd "$WORK"
     $B --graphs chunked="$WORK/chunked" --res 480p,720p --tiles none,3x3 --json "$OUT/vae-ort-chunked.json" 2>&1 \
       | grep -v VerifyEachNodeIsAssignedToAnEp | tail -30
     $B --graphs ncdhw="$WORK/ncdhw" --res 480p --tiles 3x3 --repeats 1 --profile no --json "$OUT/vae-ort-ncdhw.json" 2>&1 \
       | grep -v VerifyEachNodeIsAssignedToAnEp | tail -6
     cd "$OLDPWD"
     python3 exporter/vae_variants.py compare --work "$WORK" 2>&1 | tail -4; cp "$WORK/error.json" "$OUT/vae-error.json"
     cp "$WORK/graphs.json" "$OUT/vae-graphs.json" 2>/dev/null ;;
esac
