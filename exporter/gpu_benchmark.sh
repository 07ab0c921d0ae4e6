#!/usr/bin/env bash
# The whole GPU benchmark of issue [10] (docs/benchmarks.md "The real model at full size"): the Wan VAE through our
# runtime beside Wan2.1's own vae.py in PyTorch, then a 40-block full-width pack with random weights built by the
# exporter's real code and run whole through the product's CLI (`pusa t2v` / `pusa i2v`, 832×480, 81 frames) under
# each memory profile, with per-stage times, the process's GPU peak and host RSS.
#
# Here (the development machine, once; ~4 minutes):
#   bash exporter/gpu_benchmark.sh stage     # onnxruntime's CUDA provider in parts, node, ffmpeg/sharp, the bundles
#   bash exporter/gpu_benchmark.sh slim      # moves the pusa-mini graphs out of the tree (`unslim` puts them back)
# On a GPU machine that holds this checkout and .gpu-stage/.gpu-out/.gpu-oracle (about 25 minutes on an H200):
#   bash exporter/gpu_benchmark.sh all       # steps 1..7 in order; results in $OUT (default ./gpu-results)
# Through the device tool (64 MiB carried per call, 10 minutes per call, the machine kept only while calls follow
# each other within ~30 s — on 2026-12-04 a pause to read a result lost the machine, its pack and its staging), the
# same steps one call each, back to back, reading results only after the last — `bash exporter/gpu_benchmark.sh N`:
#   1  carry [".gpu-stage/q1"]                 GPU facts; starts the pack build in the background (fp16 pack, then its
#                                              int4 copy); the VAE graphs exported, their tests, the fp32 references
#   2  carry [".gpu-stage/q2", ".gpu-oracle"]  PyTorch: Wan2.1's own vae.py (fetched from the public repository into
#                                              .gpu-oracle, never committed) and our module, bf16, 480p and 720p
#   3  carry [".gpu-stage/q3"]                 the quantised-pack test; the build's progress
#   4  carry [".gpu-stage/q4", ".gpu-out"]     node + onnxruntime-node CUDA: our VAE's correctness, decode (whole frame,
#                                              and the reference's tiles), encode, peak; waits for the build
#   5  carry [".gpu-stage/media", ".gpu-out"]  ffmpeg/sharp if the machine lacks them; `pusa t2v`, 30 guided steps (80gb)
#   6  carry [".gpu-out"]                      4 unguided steps (the LightX2V recipe's count) under each profile: 80gb,
#                                              48gb (fp16 DiT), 24gb (int4 DiT); `pusa i2v` the same way (80gb)
#   7  carry [".gpu-out"]                      30 guided steps under 48gb and 24gb (PROFILES to choose)
#   8  carry [".gpu-out", "exporter/.oracles"] the fp8 DiT ([11]): depth-1/3 full-width graphs (random and heavy-
#                                              tailed weights) and their fp8 copies; PyTorch's unmodified Pusa block
#                                              (bf16, batch 2, cuDNN attention and default dispatch)
#   9  carry [".gpu-out"]                      onnxruntime-node: fp16 vs fp8 (per-channel, per-tensor) per guided
#                                              block at 480p/720p and their error; every attention backend
#   10 carry [".gpu-out"]                      4-step clips of the fp8 pack (141gb and 80gb profiles)
# Or, better (no step waits for a reply): call 1 `bash exporter/gpu_benchmark.sh bg` carrying [".gpu-stage/q1",
# ".gpu-oracle", "exporter/.oracles", ".gpu-out"], then calls carrying q2, q3, q4 and media with a plain `true`,
# then `bash exporter/gpu_benchmark.sh poll` again and again until it prints "== all done"; results.tgz comes back.
# .gpu-oracle: `git --git-dir=<a clone of github.com/Wan-Video/Wan2.1> show HEAD:wan/modules/vae.py
#   > .gpu-oracle/wan_upstream_vae.py`; exporter/.oracles/wan_video_pusa.py likewise from Pusa-VidGen
#   (PusaV1/diffsynth/models/wan_video_pusa.py). Options: TESTS=0 skips the exporter tests of step 1; NCU=1 adds one
#   decoder loop step under Nsight Compute to step 4. Suggested order on one machine: 1 2 3 4 8 9 6 10 7 (6, 10 and 7
#   wait for the pack build that step 1 starts).
set -uo pipefail
STEP=${1:?usage: gpu_benchmark.sh stage|slim|unslim|all|bg|poll [secs]|1..10}
OUT=${OUT:-$PWD/gpu-results}
PACK=/root/pack
PACK_INT4=/root/pack-int4
PACK_FP8=/root/pack-fp8
DIT=/root/dit
VAE=/root/vae
export PYTHONUNBUFFERED=1

case "$STEP" in
  stage)
    ../shared/gpu/stage.sh
    parts=$(mktemp -d)
    cat .gpu-stage/p1/cuda.so.xz.part* .gpu-stage/p2/cuda.so.xz.part* .gpu-stage/p3/cuda.so.xz.part* > "$parts/all.xz"
    mkdir -p .gpu-stage/q1 .gpu-stage/q2 .gpu-stage/q3 .gpu-stage/q4 .gpu-stage/media .gpu-out
    split -b 50000000 -d "$parts/all.xz" "$parts/cuda.so.xz.part"
    for n in 0 1 2 3; do mv "$parts/cuda.so.xz.part0$n" ".gpu-stage/q$((n + 1))/"; done
    mv .gpu-stage/p3/libonnxruntime_providers_shared.so .gpu-stage/q4/
    mv .gpu-stage/base/* .gpu-stage/q4/
    rm -rf .gpu-stage/p1 .gpu-stage/p2 .gpu-stage/p3 .gpu-stage/base "$parts"
    tar cf - -C node_modules @ffmpeg-installer/ffmpeg @ffmpeg-installer/linux-x64 @ffprobe-installer/ffprobe \
      @ffprobe-installer/linux-x64 sharp @img detect-libc semver | xz -T0 -6 > .gpu-stage/media/media.tar.xz
    bundle=(--bundle --platform=node --format=esm --external:onnxruntime-node --external:sharp
      --external:@ffmpeg-installer/ffmpeg --external:@ffprobe-installer/ffprobe --log-level=warning
      "--banner:js=import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);")
    npx esbuild bench/gpu-vae.ts "${bundle[@]}" --outfile=.gpu-out/bench-gpu-vae.mjs
    npx esbuild cli/main.ts "${bundle[@]}" --outfile=.gpu-out/pusa.mjs
    npx esbuild bench/gpu-dit.ts "${bundle[@]}" --outfile=.gpu-out/bench-gpu-dit.mjs
    [ -f .gpu-oracle/wan_upstream_vae.py ] || echo "no .gpu-oracle/wan_upstream_vae.py: step 2 needs it (see the header)"
    [ -f exporter/.oracles/wan_video_pusa.py ] || echo "no exporter/.oracles/wan_video_pusa.py: step 8 needs it"
    du -sh .gpu-stage/* .gpu-out; exit 0 ;;
  slim) mkdir -p /tmp/pusa-mini-graphs && mv models/pusa-mini/*.onnx /tmp/pusa-mini-graphs/ && exit 0 ;;
  unslim) mv /tmp/pusa-mini-graphs/*.onnx models/pusa-mini/ && git status --short models && exit 0 ;;
  all)
    for n in ${STEPS:-1 2 3 4 8 9 6 10 7 5}; do echo "== step $n $(date +%T)"; OUT=$OUT bash "$0" "$n"; done
    echo "== all done $(date +%T)"; exit 0 ;;
  bg)  # the whole run in the background on the GPU machine: no step waits for a call (see `poll`)
    mkdir -p /root/results
    [ -f /root/all.log ] && { echo "already started"; tail -3 /root/all.log; exit 0; }
    OUT=/root/results setsid nohup bash "$0" all > /root/all.log 2>&1 < /dev/null &
    sleep 2; head -3 /root/all.log; exit 0 ;;
  poll)  # wait up to $2 s (default 540) while the background run goes on; print its new lines; bring results back
    # in one archive (a call brings back at most 8 files). Issue the next poll at once: the machine is given back
    # about 30 s after a call ends, with everything on it.
    from=$(cat /root/all.log.seen 2>/dev/null || echo 0)
    for _ in $(seq 1 "${2:-540}"); do grep -q "== all done" /root/all.log 2>/dev/null && break; sleep 1; done
    tail -c +"$((from + 1))" /root/all.log | grep -v -E "VerifyEachNodeIsAssignedToAnEp|Warning" | cut -c1-400 | tail -80
    wc -c < /root/all.log > /root/all.log.seen
    df -h /root | tail -1
    tar czf "$OUT/results.tgz" -C /root results all.log 2>/dev/null; exit 0 ;;
esac

mkdir -p "$VAE" /root/ort-parts "$OUT"
[ -d .gpu-stage/q"$STEP" ] && cp .gpu-stage/q"$STEP"/cuda.so.xz.part* .gpu-stage/q"$STEP"/*.so /root/ort-parts/ 2>/dev/null
builds() {  # the background build's progress; with $1, waits up to $1 seconds for it to end
  for _ in $(seq 1 "${1:-0}"); do [ -f /root/build.done ] && break; sleep 1; done
  tail -3 /root/build.log 2>/dev/null; df -h /root | tail -1
  [ -f /root/build.done ] && cat /root/build.done; cp /root/build.log "$OUT/full-build.log" 2>/dev/null
}
node_env() {
  . .gpu-stage/q4/on-device.sh 2>/dev/null || export PATH="/root/ort:$PATH" NODE_PATH=/root/ort/node_modules \
    LD_LIBRARY_PATH="/usr/local/cuda-13.0/targets/x86_64-linux/lib:/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  [ -e node_modules ] || ln -sfn /root/ort/node_modules node_modules  # ESM resolves from the bundle, not NODE_PATH
}
# one CLI run under a GPU-memory sampler (nvidia-smi every 100 ms, the CLI process's own memory: a build in the
# background does not count) and a host-RSS one; $1 report name, $2 profile, $3 pack, the rest the CLI's arguments
run_cli() {
  local name=$1 profile=$2 pack=$3; shift 3
  nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits -lms 100 > "/root/$name.gpu" &
  local smi=$!
  node "$PWD/.gpu-out/pusa.mjs" "$@" --model "$pack" --provider cuda --memory-profile "$profile" --json \
    > "/root/$name.json" 2> "/root/$name.err" &
  local cli=$! rss=0 r
  while kill -0 $cli 2>/dev/null; do
    r=$(awk '/VmHWM/ {print $2}' /proc/$cli/status 2>/dev/null); [ -n "$r" ] && [ "$r" -gt "$rss" ] && rss=$r; sleep 0.5
  done
  wait $cli; local rc=$?; kill $smi
  python3 - "$name" "$rc" "$rss" "$profile" "$pack" "$cli" <<'PY'
import json, sys
name, rc, rss, profile, pack, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
rows = [l.split(",") for l in open(f"/root/{name}.gpu")]
gpu = [int(r[1]) for r in rows if len(r) == 2 and r[0].strip() == pid and r[1].strip().isdigit()]
try: report = json.load(open(f"/root/{name}.json"))
except Exception: report = {"error": open(f"/root/{name}.err").read()[-3000:]}
report.update(exit=rc, profile=profile, pack=pack, peak_gpu_gib=round(max(gpu, default=0) / 1024, 2),
              peak_host_rss_gib=round(rss / 2**20, 2))
json.dump(report, open(f"/root/{name}.report.json", "w"), indent=1)
print(name, json.dumps({k: report.get(k) for k in ("exit", "timings", "peak_gpu_gib", "peak_host_rss_gib", "error")}))
PY
  cp "/root/$name.report.json" "$OUT/full-$name.json"
}
P="a hummingbird hovering at red flowers, slow motion, soft morning light"
CLIP=(--prompt "$P" --size 832x480 --frames 81 --seed 1)

case "$STEP" in
  1) nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"; df -h /root | tail -1
     python3 exporter/synth_tokenizer.py --out /root/tok/tokenizer.json
     rm -f /root/build.done
     # the fp16 pack, then its fp8 copy ([11]) and its int4 copy for the 24gb profile (the shared graphs
     # hard-linked: no second copy)
     setsid nohup bash -c "python3 exporter/build_pack.py --random 40 --tokenizer /root/tok/tokenizer.json \
       --out $PACK --dtype fp16 > /root/build.log 2>&1 && echo fp16 pack built >> /root/build.log && \
       python3 exporter/quantize_pack.py --pack $PACK --out $PACK_FP8 --quant fp8 --gemm-out \${GEMM_OUT:-model} \
       >> /root/build.log 2>&1; echo fp8 copy exit \$? >> /root/build.log; \
       python3 exporter/quantize_pack.py --pack $PACK --out $PACK_INT4 --quant int4 >> /root/build.log 2>&1; \
       echo exit \$? > /root/build.done" > /dev/null 2>&1 &
     if [ "${TESTS:-1}" = 1 ]; then
       timeout 200 python3 -m pytest -q -x exporter/tests/test_wan_vae.py -k "chunk or onnx_matches or entry_point" 2>&1 | tail -4
       timeout 60 python3 -m pytest -q exporter/tests/test_fp8.py 2>&1 | tail -3
     fi
     python3 exporter/vae_variants.py export --work "$VAE" --layouts chunked,chunked-v1,chunked-v3 2>&1 | grep -v Warning | tail -4
     python3 exporter/vae_variants.py refs --work "$VAE" 2>&1 | tail -4
     cp "$VAE/graphs.json" "$OUT/vae-graphs.json"; builds ;;
  2) python3 exporter/vae_torch_oracle.py upstream --work "$VAE" --dtypes "${DTYPES:-bf16}" 2>&1 | grep -v Warning | tail -8
     cp "$VAE/torch-upstream.json" "$OUT/vae-torch-upstream.json"; builds ;;
  3) [ "${TESTS:-1}" = 1 ] && timeout 300 python3 -m pytest -q exporter/tests/test_build_pack.py -k "quantized or fp8" 2>&1 | tail -4
     builds ;;
  4) node_env; node -e "console.log('node', process.version)"
     B="node $PWD/.gpu-out/bench-gpu-vae.mjs --latents $VAE"
     G="--graphs chunked=$VAE/chunked,chunked-v1=$VAE/chunked-v1,chunked-v3=$VAE/chunked-v3"
     R=$PWD
     quiet() { grep -v VerifyEachNodeIsAssignedToAnEp | tail -"$1"; }
     (cd "$VAE" && $B $G --check --json "$OUT/vae-check.json" 2>&1 | quiet 12)
     (cd "$VAE" && $B $G --dump "$VAE" --res 480p,720p --profile no --json "$OUT/vae-ort-chunked.json" 2>&1 | quiet 12)
     (cd "$VAE" && $B $G --res 480p --tiles 3x3 --repeats 2 --profile no --json "$OUT/vae-ort-chunked-tiles.json" 2>&1 | quiet 6)
     python3 "$R/exporter/vae_torch_oracle.py" check --work "$VAE" 2>&1 | tail -4
     if [ "${NCU:-0}" = 1 ]; then
       NCU_BIN=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
       (cd "$VAE" && PROBE_PLAIN=1 timeout 420 "$NCU_BIN" --metrics gpu__time_duration.sum --csv \
         --log-file "$VAE/ncu.csv" $B $G --probe 2>&1 | quiet 4)
       python3 "$R/exporter/ncu_summary.py" "$VAE/ncu.csv" --top 30 | tee "$OUT/vae-ncu-step.txt"
     fi
     builds; ls -la "$PACK" "$PACK_INT4" 2>/dev/null ;;
  8) # the fp8 DiT, PyTorch half: graphs (fp16 and their fp8 copies, random and heavy-tailed weights) + the baseline
     node_env
     python3 exporter/fp8_probe.py --work /root/fp8probe 2>&1 | grep "fp8 probe" | tee "$OUT/fp8-probe.txt"
     python3 exporter/fp8_gemm_probe.py --work /root/gemmprobe 2>&1 | grep "gemm probe" | tee "$OUT/fp8-gemm-probe.txt"
     python3 exporter/bench_gpu.py export --out "$DIT" --layers 1,3 --quant fp8t,fp8t16 --gemm-out "${GEMM_OUT:-model}" \
       2>&1 | grep -v Warning | grep -E "exported|quantised|fp8 graph" | cut -c1-220
     python3 exporter/bench_gpu.py export --out "$DIT-heavy" --layers 1 --quant fp8,fp8t,fp8t16 --weights heavy \
       --gemm-out "${GEMM_OUT:-model}" 2>&1 | grep -v Warning | grep -E "exported|fp8 graph" | cut -c1-160
     cp "$DIT/graphs.json" "$OUT/dit-graphs.json"
     # the strongest plain PyTorch: the unmodified Pusa block, bf16, batch 2 (batched guidance), cuDNN attention
     # pinned; then the default dispatch, for the record
     OUT=$OUT python3 exporter/bench_block.py --tokens 480p,720p --dtypes bf16 --batch 2 --pusa --sdpa cudnn --n 5 \
       2>&1 | grep '"pusa"' | cut -c1-200
     OUT=$OUT python3 exporter/bench_block.py --tokens 480p --dtypes bf16 --batch 2 --pusa --sdpa default --n 5 \
       2>&1 | grep '"pusa"' | cut -c1-200
     builds ;;
  9) # the fp8 DiT through our runtime: per guided block (slope over depth 1 and 3), error vs fp16, attention backends
     node_env
     D="node $PWD/.gpu-out/bench-gpu-dit.mjs --provider cuda --repeats 5"
     pick() { grep -E "per_block|rel_l2|child failed|Error" | cut -c1-260; }
     $D --dir "$DIT" --res 480p,720p --variants fp16,fp8t,fp8t16 --json "$OUT/dit-ort.json" 2>&1 | pick
     $D --dir "$DIT-heavy" --res 480p --layers 1 --variants fp16,fp8,fp8t,fp8t16 --json "$OUT/dit-ort-heavy.json" 2>&1 | pick
     # onnxruntime's attention kernels for MultiHeadAttention, chosen by its environment variables (Node passes no
     # CUDA provider options); the debug flag prints which kernel each node really ran
     for b in flash cudnn efficient lean; do
       case $b in
         flash) E="ORT_ENABLE_CUDNN_FLASH_ATTENTION=0"; V=fp16 ;;
         cudnn) E="ORT_ENABLE_CUDNN_FLASH_ATTENTION=1"; V=fp16,fp8t16 ;;
         efficient) E="ORT_ENABLE_CUDNN_FLASH_ATTENTION=0 ORT_DISABLE_FLASH_ATTENTION=1"; V=fp16 ;;
         lean) E="ORT_ENABLE_CUDNN_FLASH_ATTENTION=0 ORT_DISABLE_FLASH_ATTENTION=1 ORT_ENABLE_LEAN_ATTENTION=1"; V=fp16 ;;
       esac
       echo "== attention $b"
       env $E ORT_ENABLE_ATTENTION_KERNEL_DEBUG_INFO=1 $D --dir "$DIT" --res 480p --variants $V \
         --json "$OUT/dit-ort-attn-$b.json" 2>&1 | grep -E "per_block|child failed|Operator=MultiHeadAttention" \
         | sort -u | head -4 | cut -c1-260
     done ;;
  5|6|7|10)
     node_env
     if ! command -v ffmpeg > /dev/null && [ -f .gpu-stage/media/media.tar.xz ] && [ ! -d /root/ort/node_modules/sharp ]; then
       tar xJf .gpu-stage/media/media.tar.xz -C /root/ort/node_modules; fi
     [ -f /root/build.done ] || builds 400
     python3 -c "import numpy as n; from PIL import Image; Image.fromarray((n.random.default_rng(3).random((480,832,3))*255).astype('uint8')).save('/root/cond.png')"
     pack_for() { if [ "$1" = 24gb ]; then echo "$PACK_INT4"; else echo "$PACK"; fi; }
     case "$STEP" in
       5) run_cli t2v-30-80gb 80gb "$PACK" t2v "${CLIP[@]}" --output /root/t2v-30-80gb.mp4 ;;
       6) for profile in ${PROFILES:-141gb 80gb 48gb 24gb}; do
            run_cli "t2v-4-$profile" "$profile" "$(pack_for "$profile")" t2v "${CLIP[@]}" --steps 4 --cfg 1 \
              --output "/root/t2v-4-$profile.mp4"
          done
          run_cli i2v-4-80gb 80gb "$PACK" i2v "${CLIP[@]}" --image /root/cond.png --steps 4 --cfg 1 \
            --output /root/i2v-4-80gb.mp4 ;;
       7) for profile in ${PROFILES:-48gb 24gb}; do
            run_cli "t2v-30-$profile" "$profile" "$(pack_for "$profile")" t2v "${CLIP[@]}" --output "/root/t2v-30-$profile.mp4"
          done ;;
       10) grep -E "fp8 (copy|graph)" /root/build.log | tail -2
          for profile in ${PROFILES:-141gb 80gb}; do
            run_cli "t2v-4-fp8-$profile" "$profile" "$PACK_FP8" t2v "${CLIP[@]}" --steps 4 --cfg 1 \
              --output "/root/t2v-4-fp8-$profile.mp4"
          done
          cp /root/t2v-4-fp8-141gb.mp4 "$OUT/" 2>/dev/null ;;
     esac
     ls -la /root/*.mp4 2>/dev/null ;;
esac
