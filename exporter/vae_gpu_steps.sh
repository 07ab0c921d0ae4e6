#!/usr/bin/env bash
# The VAE run of issue [10] on the GPU machine, in four calls that fit its limits (64 MiB carried per call, the
# machine bare at each start and kept only while calls follow each other within ~30 s).
#
# Here, once:   exporter/vae_gpu_steps.sh stage
#   builds .gpu-stage with ../shared/gpu/stage.sh, re-splits onnxruntime's CUDA provider into q1..q4 (q4 also holds
#   the base: node + onnxruntime-node) and bundles bench/gpu-vae.ts into .gpu-out. Before the calls move the
#   pusa-mini graphs out of the tree (`exporter/vae_gpu_steps.sh slim`; `unslim` puts them back): the tree then
#   travels in ~5 MB and each call fits its part.
# Then, back to back, through the device tool, each command `bash exporter/vae_gpu_steps.sh N`:
#   1  carry [".gpu-stage/q1"]                  export the chunked graphs (+ the exporter's VAE tests with TESTS=1),
#                                               the correctness cases and the fp32 references
#   2  carry [".gpu-stage/q2", ".gpu-oracle"]   PyTorch: Wan2.1's own vae.py (fetched, carried in .gpu-oracle, never
#                                               committed) and our chunked module, bf16/fp16, 480p/720p; one chunk's
#                                               kernels under torch.profiler
#   3  carry [".gpu-stage/q3"]                  the rest of the exporter's VAE tests
#   4  carry [".gpu-stage/q4", ".gpu-out"]      through onnxruntime-node: correctness against the module, decode and
#                                               encode timings, the 480p error; one loop step's kernels under
#                                               Nsight Compute (QUICK=1: only that)
# Results go to $OUT (vae-*.json, logs); docs/vae-notes.md records what each variant predicted and measured.
set -uo pipefail
STEP=$1
WORK=/root/vae
export PYTHONUNBUFFERED=1
case "$STEP" in
  stage)
    ../shared/gpu/stage.sh
    parts=$(mktemp -d)
    cat .gpu-stage/p1/cuda.so.xz.part* .gpu-stage/p2/cuda.so.xz.part* .gpu-stage/p3/cuda.so.xz.part* > "$parts/all.xz"
    mkdir -p .gpu-stage/q1 .gpu-stage/q2 .gpu-stage/q3 .gpu-stage/q4
    split -b 50000000 -d "$parts/all.xz" "$parts/cuda.so.xz.part"
    for n in 0 1 2 3; do mv "$parts/cuda.so.xz.part0$n" ".gpu-stage/q$((n + 1))/"; done
    mv .gpu-stage/p3/libonnxruntime_providers_shared.so .gpu-stage/q4/
    mv .gpu-stage/base/* .gpu-stage/q4/
    rm -rf .gpu-stage/p1 .gpu-stage/p2 .gpu-stage/p3 .gpu-stage/base "$parts"
    npx esbuild bench/gpu-vae.ts --bundle --platform=node --format=esm --external:onnxruntime-node \
      --outfile=.gpu-out/bench-gpu-vae.mjs --log-level=warning
    du -sh .gpu-stage/* .gpu-out
    exit 0 ;;
  slim) mkdir -p /tmp/pusa-mini-graphs && mv models/pusa-mini/*.onnx /tmp/pusa-mini-graphs/ && exit 0 ;;
  unslim) mv /tmp/pusa-mini-graphs/*.onnx models/pusa-mini/ && git status --short models && exit 0 ;;
esac

mkdir -p "$WORK" /root/ort-parts "$OUT"
cp .gpu-stage/q"$STEP"/cuda.so.xz.part* .gpu-stage/q"$STEP"/*.so /root/ort-parts/ 2>/dev/null
ls /root/ort-parts
T="python3 -m pytest -q exporter/tests/test_wan_vae.py"
case "$STEP" in
  1) nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
     [ "${TESTS:-0}" = 1 ] && $T -x -k "chunked or onnx_matches or entry_point" 2>&1 | tail -4
     python3 exporter/vae_variants.py export --work "$WORK" --layouts chunked 2>&1 | grep -v Warning | tail -4
     python3 exporter/vae_variants.py refs --work "$WORK" 2>&1 | tail -8
     cp "$WORK/graphs.json" "$OUT/vae-graphs.json" ;;
  2) python3 exporter/vae_torch_oracle.py upstream --work "$WORK" 2>&1 | grep -v Warning | tail -12
     python3 exporter/vae_torch_oracle.py profile --work "$WORK" 2>&1 | grep -v Warning | tail -28
     cp "$WORK/torch-upstream.json" "$OUT/vae-torch-upstream.json" ;;
  3) $T -k "not (chunked or onnx_matches or entry_point)" 2>&1 | tail -4 ;;
  4) . .gpu-stage/q4/on-device.sh
     [ -e node_modules ] || ln -sfn /root/ort/node_modules node_modules  # ESM resolves from the bundle, not NODE_PATH
     B="node $PWD/.gpu-out/bench-gpu-vae.mjs --latents $WORK"
     G="--graphs chunked=$WORK/chunked"
     R=$PWD
     cd "$WORK"
     quiet() { grep -v VerifyEachNodeIsAssignedToAnEp | tail -"$1"; }
     if [ "${QUICK:-0}" != 1 ]; then
       $B $G --check --json "$OUT/vae-check.json" 2>&1 | quiet 40
       $B $G --dump "$WORK" --res 480p,720p --json "$OUT/vae-ort-chunked.json" 2>&1 | quiet 30
       python3 "$R/exporter/vae_torch_oracle.py" check --work "$WORK" 2>&1 | tail -8
     fi
     NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
     if [ -n "$NCU" ]; then
       PROBE_PLAIN=1 timeout 420 "$NCU" --metrics gpu__time_duration.sum --csv --log-file "$WORK/ncu.csv" \
         $B $G --probe 2>&1 | quiet 4
       python3 "$R/exporter/ncu_summary.py" "$WORK/ncu.csv" --top 30 | tee "$OUT/vae-ncu-step.txt"
     fi ;;
esac
