#!/usr/bin/env bash
# The GPU benchmark of issue 8, on the GPU machine, from the project root:
#   bash exporter/gpu_bench.sh [WORKDIR]        (results: WORKDIR/{torch.json,ort.json,graphs.json,report.md})
# Needs `node` with onnxruntime-node + the CUDA provider (../shared/gpu/README.md: `.gpu-stage/base/on-device.sh`) and
# the bundle `.gpu-out/bench-gpu-dit.mjs` (`npm run -s bench:gpu:bundle` on a machine with the repo's node_modules).
# 1. exports full-width Wan2.1-14B DiTs with random weights at depth 1 and 3 (fp16 + int8/int4 weight-only copies)
#    and the full-size Wan VAE (fp16);  2. times the unmodified Pusa DiT in PyTorch eager (SDPA, bf16);
# 3. times the same work through our runtime on onnxruntime-node CUDA;  4. writes the comparison table.
set -euo pipefail
WORK=${1:-/root/gpu-bench}
mkdir -p "$WORK"
export PYTHONUNBUFFERED=1
if ! command -v node >/dev/null; then . .gpu-stage/base/on-device.sh; fi
[ -e node_modules ] || ln -sfn "$(dirname "$(command -v node)")/node_modules" node_modules
python3 exporter/bench_gpu.py export --out "$WORK/dit" --layers 1,3 --quant int8,int4
cp "$WORK/dit/graphs.json" "$WORK/graphs.json"
python3 exporter/export_vae.py --random --dtype fp16 --out "$WORK/vae"
python3 exporter/bench_gpu.py torch --layers 1,3 --res 480p,720p --json "$WORK/torch.json"
node .gpu-out/bench-gpu-dit.mjs --dir "$WORK/dit" --vae "$WORK/vae" --res 480p,720p --variants fp16,int8,int4 \
  --json "$WORK/ort.json" 2>&1 | grep -v VerifyEachNodeIsAssignedToAnEp
python3 exporter/bench_gpu.py torch --layers 1,3 --res 480p --json "$WORK/torch-after.json"
python3 exporter/bench_gpu.py report --work "$WORK" | tee "$WORK/report.md"
