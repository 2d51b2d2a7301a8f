#!/usr/bin/env bash
# Train the skeleton models on one GPU within the 8-minute device budget and gather weights + evaluations in OUT/:
#   1. the paper's LMSDS-VGG16 setting (the packaged lmsds_vgg16_paper) -- only when ImageNet VGG16 weights
#      are on disk ($STRUCTNET_VGG16_WEIGHTS or ~/.cache/structnet/vgg16-397923af.pth); a machine without internet
#      has none, and the script says so in OUT/vgg16_skipped.txt instead of training VGG16 from scratch;
#   2. HED, FSDS and LMSDS on EfficientNet-Lite0 at an equal budget (the CPU recipes: the packaged lmsds_lite0_cpu,
#      benchmarks/configs/skeleton/{hed,fsds}_lite0_cpu.yaml, at a GPU
#      batch: full-resolution images cut to CROP x CROP crops, batch BATCH), so that the paper's order
#      HED < FSDS < LMSDS is measured on equal terms.
# Each run has a wall-clock budget (train.time_limit = SECONDS_PER_RUN, default 100 s): at the limit it stops with a
# checkpoint and writes the weights of that step, so OUT/ always gets weights. Each model is then scored on SK-LARGE
# test with `structnet eval skeleton` (maps on the GPU, matching on the CPU) into OUT/eval_<name>.json.
# Evaluate them on CPU too: structnet eval skeleton --weights OUT/<name>.safetensors --max-side 320
# Usage (repository root, structnet installed): bash benchmarks/gpu_train_skeleton.sh [OUT] [SECONDS_PER_RUN]
# On this project's lent machine the data must travel with the call (../shared does not; 64 MiB in all): SK-LARGE
# is 32 MiB, so copy it as it is:
#   mkdir -p .device_data && cp -r ../shared/data/sk-large .device_data/   (.device_data/ is in .gitignore), then
#   STRUCTNET_DATA=.device_data bash benchmarks/gpu_train_skeleton.sh "$OUT" 100   with carry [".device_data"].
# SKELETON_GPU_DRY_RUN=1 runs the same steps on the CPU with 2 iterations and 4 test images (a plumbing check).
set -euo pipefail
OUT=${1:-gpu_skeleton_weights}
LIMIT=${2:-100}
CROP=${CROP:-384}
BATCH=${BATCH:-16}
mkdir -p "$OUT"
EXTRA=()
EVAL_EXTRA=()
if [ "${SKELETON_GPU_DRY_RUN:-0}" = "1" ]; then
  EXTRA=(train.max_iters=2 train.batch_size=2 train.num_workers=0 data.crop=64 data.max_side=96)
  EVAL_EXTRA=(--max-images 4 --max-side 96)
  echo "dry run on the CPU"
else
  python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
fi
run() {  # name, config, overrides...
  local name=$1 config=$2; shift 2
  structnet train skeleton --config "$config" train.time_limit="$LIMIT" train.out_dir="runs/skeleton/gpu/$name" \
    "$@" "${EXTRA[@]}" > "$OUT/train_$name.log" 2>&1 || echo "$name: training failed (see $OUT/train_$name.log)"
  if [ -f "runs/skeleton/gpu/$name/model.safetensors" ]; then
    cp "runs/skeleton/gpu/$name/model.safetensors" "$OUT/$name.safetensors"
    structnet eval skeleton --weights "$OUT/$name.safetensors" --quiet "${EVAL_EXTRA[@]}" \
      --json "$OUT/eval_$name.json" > "$OUT/eval_$name.log" 2>&1 \
      || echo "$name: eval failed (see $OUT/eval_$name.log)"
  fi
}
VGG=${STRUCTNET_VGG16_WEIGHTS:-$HOME/.cache/structnet/vgg16-397923af.pth}
if [ -f "$VGG" ]; then
  run lmsds_vgg16_paper lmsds_vgg16_paper
else
  echo "lmsds_vgg16_paper skipped: no ImageNet VGG16 weights at $VGG (the paper fine-tunes VGG16 from ImageNet;" \
       "from scratch it would not be the paper's setting)" | tee "$OUT/vgg16_skipped.txt"
fi
GPU=(data.max_side=null data.crop="$CROP" train.batch_size="$BATCH" train.max_iters=4000 train.num_workers=8
     train.device=auto train.precision=auto schedule.warmup_iters=50)
for method in hed fsds lmsds; do
  config=benchmarks/configs/skeleton/${method}_lite0_cpu.yaml   # hed, fsds; lmsds_lite0_cpu is packaged
  [ -f "$config" ] || config=${method}_lite0_cpu
  run "${method}_lite0_gpu" "$config" "${GPU[@]}"
done
ls -la "$OUT"
