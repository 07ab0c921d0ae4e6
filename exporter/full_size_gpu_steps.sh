#!/usr/bin/env bash
# Issue [10] item 1: the real model's architecture at its real size (40 blocks, full width, random weights) run
# whole through the product's own code on the GPU machine — `pusa t2v` / `pusa i2v` at 832×480, 81 frames, umT5 and
# the VAE graphs included — with per-stage times, the whole process's GPU peak and host RSS. Same staging as
# exporter/vae_gpu_steps.sh (run `exporter/vae_gpu_steps.sh stage` here first, then this script's `stage`, then
# `exporter/vae_gpu_steps.sh slim`), then back to back through the device tool, `bash exporter/full_size_gpu_steps.sh N`:
#   1  carry [".gpu-stage/q1"]             start the pack build in the background (≈ 10 min: DiT 28 GB, umT5 11 GB)
#   2  carry [".gpu-stage/q2"]             (parts) + wait for the build, up to 9 minutes
#   3  carry [".gpu-stage/q3"]             (parts) + wait
#   4  carry [".gpu-stage/q4"]             node + onnxruntime-node with CUDA
#   5  carry [".gpu-stage/media", ".gpu-out"]  ffmpeg/ffprobe/sharp when the machine has none; then t2v, 30 steps
#   6  carry [".gpu-out"]                  i2v, 30 steps;  7: the 4-step runs (PROFILE=80gb|48gb|24gb each)
# Results: $OUT/full-*.json (the CLI's JSON report + peak GPU GiB + peak host RSS GiB) and the build log.
set -uo pipefail
STEP=$1
PACK=/root/pack
PROFILE=${PROFILE:-80gb}
case "$STEP" in
  stage)  # here: ffmpeg, ffprobe and sharp for a GPU machine without them, and the CLI bundle
    mkdir -p .gpu-stage/media .gpu-out
    tar cf - -C node_modules @ffmpeg-installer/ffmpeg @ffmpeg-installer/linux-x64 @ffprobe-installer/ffprobe \
      @ffprobe-installer/linux-x64 sharp @img detect-libc semver | xz -T0 -6 > .gpu-stage/media/media.tar.xz
    npx esbuild cli/main.ts --bundle --platform=node --format=esm --external:onnxruntime-node --external:sharp \
      --external:@ffmpeg-installer/ffmpeg --external:@ffprobe-installer/ffprobe \
      --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" \
      --outfile=.gpu-out/pusa.mjs --log-level=warning
    du -sh .gpu-stage/media .gpu-out; exit 0 ;;
esac
mkdir -p /root/ort-parts "$OUT"
[ -d .gpu-stage/q"$STEP" ] && cp .gpu-stage/q"$STEP"/cuda.so.xz.part* .gpu-stage/q"$STEP"/*.so /root/ort-parts/ 2>/dev/null
wait_build() {  # up to $1 seconds for the background build; prints its tail
  for _ in $(seq 1 "$1"); do [ -f /root/build.done ] && break; sleep 1; done
  tail -5 /root/build.log; df -h /root | tail -1; [ -f /root/build.done ] && cat /root/build.done
}
# one CLI run under a GPU-memory and RSS sampler; $1 the report name, the rest the CLI's arguments
run_cli() {
  local name=$1; shift
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "/root/$name.gpu" &
  local smi=$!
  node "$PWD/.gpu-out/pusa.mjs" "$@" --model "$PACK" --provider cuda --memory-profile "$PROFILE" --json \
    > "/root/$name.json" 2> "/root/$name.err" &
  local cli=$! rss=0
  while kill -0 $cli 2>/dev/null; do
    r=$(awk '/VmHWM/ {print $2}' /proc/$cli/status 2>/dev/null); [ -n "$r" ] && [ "$r" -gt "$rss" ] && rss=$r; sleep 0.5
  done
  wait $cli; local rc=$?; kill $smi
  python3 - "$name" "$rc" "$rss" <<'PY'
import json, sys
name, rc, rss = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
gpu = [int(l) for l in open(f"/root/{name}.gpu") if l.strip().isdigit()]
try: report = json.load(open(f"/root/{name}.json"))
except Exception: report = {"error": open(f"/root/{name}.err").read()[-3000:]}
report.update(exit=rc, peak_gpu_gib=round(max(gpu, default=0) / 1024, 2), peak_host_rss_gib=round(rss / 2**20, 2))
json.dump(report, open(f"/root/{name}.report.json", "w"), indent=1)
print(name, json.dumps({k: report.get(k) for k in ("exit", "timings", "peak_gpu_gib", "peak_host_rss_gib", "error")}))
PY
  cp "/root/$name.report.json" "$OUT/full-$name.json"
}
case "$STEP" in
  1) nvidia-smi --query-gpu=name,memory.total --format=csv; df -h /root | tail -1
     which ffmpeg ffprobe || echo "no ffmpeg here: step 5 unpacks the carried one"
     python3 exporter/synth_tokenizer.py --out /root/tok/tokenizer.json
     rm -f /root/build.done
     setsid nohup bash -c "python3 exporter/build_pack.py --random 40 --tokenizer /root/tok/tokenizer.json \
       --out $PACK --dtype fp16 > /root/build.log 2>&1; echo exit \$? > /root/build.done" > /dev/null 2>&1 &
     sleep 20; tail -3 /root/build.log ;;
  2|3) wait_build 540; cp /root/build.log "$OUT/full-build.log" ;;
  4) . .gpu-stage/q4/on-device.sh; node -e "console.log('node', process.version)"; wait_build 500
     cp /root/build.log "$OUT/full-build.log"; ls -la "$PACK" ;;
  5|6|7)
     export PATH="/root/ort:$PATH" NODE_PATH=/root/ort/node_modules
     export LD_LIBRARY_PATH="/usr/local/cuda-13.0/targets/x86_64-linux/lib:/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
     if [ -f .gpu-stage/media/media.tar.xz ] && [ ! -d /root/ort/node_modules/sharp ]; then
       tar xJf .gpu-stage/media/media.tar.xz -C /root/ort/node_modules; fi
     [ -e node_modules ] || ln -sfn /root/ort/node_modules node_modules
     P="a hummingbird hovering at red flowers, slow motion, soft morning light"
     python3 -c "import numpy as n; from PIL import Image; Image.fromarray((n.random.default_rng(3).random((480,832,3))*255).astype('uint8')).save('/root/cond.png')" 2>/dev/null
     case "$STEP" in
       5) run_cli t2v-30 t2v --prompt "$P" --size 832x480 --frames 81 --seed 1 --output /root/t2v-30.mp4 ;;
       6) run_cli i2v-30 i2v --prompt "$P" --image /root/cond.png --size 832x480 --frames 81 --seed 1 \
            --output /root/i2v-30.mp4 ;;
       7) run_cli "t2v-4-$PROFILE" t2v --prompt "$P" --size 832x480 --frames 81 --seed 1 --steps 4 --cfg 1 \
            --output "/root/t2v-4-$PROFILE.mp4" ;;
     esac
     ls -la /root/*.mp4 2>/dev/null ;;
esac
