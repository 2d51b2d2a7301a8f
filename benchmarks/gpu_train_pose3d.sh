#!/usr/bin/env bash
# Train the 3D pose system on one GPU within the 8-minute device budget and gather the weights in one folder:
#   1. the skeleton-map lifter (benchmarks/configs/pose3d/lift_maps_h36m_gpu.yaml: 64 x 64 maps, widths 2 / 4 / 6, noise 5 px);
#   2. the image -> maps network drawing its maps (image_maps_h36m_gpu.yaml: synthetic people, 256 x 256 crops).
# Each run has a wall-clock budget (train.time_limit, SECONDS_PER_RUN, default 200 s): at the limit it stops with a
# checkpoint and writes the weights of that step (re-running continues from the checkpoint). The lifter is then
# evaluated on every 5th test frame from GT 2D and SH detections (OUT/*.json); the synthetic-image evaluation needs
# ECSSD backgrounds, run it on CPU after fetching:
#   structnet eval pose3d --weights OUT/lift_maps_h36m_gpu.safetensors --input synthetic \
#       --maps-model OUT/image_maps_h36m_gpu.safetensors --every 10
# Usage (repository root, structnet installed): bash benchmarks/gpu_train_pose3d.sh [OUT] [SECONDS_PER_RUN]
# On this project's lent machine the data must travel with the call (../shared does not; 64 MiB in all):
#   echo /.device_data/ >> .git/info/exclude      # once: never committed (research-use data)
#   mkdir -p .device_data/duts-tr-2k && cp -r ../shared/data/h36m .device_data/ \
#     && cp -r ../shared/data/duts-tr-2k/images .device_data/duts-tr-2k/      # 53 MB
#   then run  STRUCTNET_DATA=.device_data bash benchmarks/gpu_train_pose3d.sh "$OUT" 200  with carry [".device_data"].
# DRY_RUN=1 skips the CUDA check (a CPU smoke run of the commands: a few seconds as SECONDS_PER_RUN, EVAL_EVERY=500).
set -euo pipefail
OUT=${1:-gpu_pose3d_weights}
LIMIT=${2:-200}
mkdir -p "$OUT"
if [ -z "${DRY_RUN:-}" ]; then
  python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
fi
run() {  # name, overrides...
  local name=$1; shift
  structnet train pose3d --config "benchmarks/configs/pose3d/$name.yaml" train.progress_bar=false train.time_limit="$LIMIT" \
    train.out_dir="runs/pose3d/gpu/$name" "$@" > "$OUT/train_$name.log" 2>&1 \
    || echo "$name: training failed (see $OUT/train_$name.log)"
  if [ -f "runs/pose3d/gpu/$name/model.safetensors" ]; then
    cp "runs/pose3d/gpu/$name/model.safetensors" "$OUT/$name.safetensors"
  fi
}
run lift_maps_h36m_gpu
run image_maps_h36m_gpu
if [ -f "$OUT/lift_maps_h36m_gpu.safetensors" ]; then
  for input in gt2d sh; do
    structnet eval pose3d --weights "$OUT/lift_maps_h36m_gpu.safetensors" --input $input --every "${EVAL_EVERY:-5}" --quiet \
      --json "$OUT/eval_lift_maps_h36m_gpu_${input}_every5.json" > "$OUT/eval_${input}.log" 2>&1 \
      || echo "eval --input $input failed (see $OUT/eval_${input}.log)"
  done
fi
ls -la "$OUT"
