#!/usr/bin/env bash
# Train the two pose models on one GPU within the 8-minute device budget and gather their weights in one folder:
#   1. the paper's 8-stack MSS / MSR hourglass on LSP-extended (benchmarks/configs/pose2d/hourglass8_lspet_gpu.yaml);
#   2. the pretrained-encoder CPU default at a GPU batch (the packaged encoder_lite0_lspet_cpu, batch 64, 3000 steps).
# Each run has a wall-clock budget (train.time_limit, SECONDS_PER_RUN, default 210 s): at the limit it stops with a
# checkpoint and writes the weights of that step (re-running continues from the checkpoint), so OUT/ always gets
# weights. Then both are evaluated on LSPET val (annotated windows and whole images, flip test) into OUT/*.json.
# Evaluate them on CPU too: structnet eval pose2d --weights OUT/<name>.safetensors --window auto
# Usage (repository root, structnet installed): bash benchmarks/gpu_train_pose2d.sh [OUT] [SECONDS_PER_RUN]
# On this project's lent machine the data must travel with the call (../shared does not, 64 MiB in all):
#   python benchmarks/pack_lspet_for_device.py   (LSPET at <= 320 px into .device_data/, git-excluded), then run
#   STRUCTNET_DATA=.device_data bash benchmarks/gpu_train_pose2d.sh "$OUT" 210   with carry [".device_data"].
set -euo pipefail
OUT=${1:-gpu_pose2d_weights}
LIMIT=${2:-210}
mkdir -p "$OUT"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
run() {  # name, config, overrides...
  local name=$1 config=$2; shift 2
  structnet train pose2d --config "$config" train.progress_bar=false train.time_limit="$LIMIT" \
    train.out_dir="runs/pose2d/gpu/$name" "$@" > "$OUT/train_$name.log" 2>&1 \
    || echo "$name: training failed (see $OUT/train_$name.log)"
  if [ -f "runs/pose2d/gpu/$name/model.safetensors" ]; then
    cp "runs/pose2d/gpu/$name/model.safetensors" "$OUT/$name.safetensors"
    for window in annotation auto; do
      structnet eval pose2d --weights "$OUT/$name.safetensors" --window $window --quiet \
        --json "$OUT/eval_${name}_${window}.json" > "$OUT/eval_${name}_${window}.log" 2>&1 \
        || echo "$name: eval --window $window failed (see $OUT/eval_${name}_${window}.log)"
    done
  fi
}
run hourglass8_lspet benchmarks/configs/pose2d/hourglass8_lspet_gpu.yaml
run encoder_lite0_lspet encoder_lite0_lspet_cpu train.batch_size=64 train.max_iters=3000 train.num_workers=8 \
  train.device=auto train.precision=auto
ls -la "$OUT"
