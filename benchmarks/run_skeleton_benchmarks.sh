#!/usr/bin/env bash
# After benchmarks/train_skeleton_ladder.sh: horse fine-tuning (WH-SYMMAX split) and the accuracy evaluations.
# Run from the repository root. Object segments are evaluated on the horses only: SK-LARGE's Table VI needs the
# MS-COCO instance masks of its images, which ../shared/data does not hold. Results: benchmarks/results/skeleton_{sk-large,weizmann-horse}.json (+ PR plots).
set -euo pipefail
for m in lmsds fsds hed; do
  structnet train skeleton --config configs/skeleton/${m}_lite0_horse_cpu.yaml train.progress_bar=false \
    > benchmarks/logs/train_${m}_lite0_horse_cpu.log 2>&1
done
python benchmarks/eval_skeleton.py --dataset sk-large --root ../shared/data/sk-large --max-side 320 \
  --weights runs/skeleton/{hed,fsds,lmsds}_lite0_cpu/model.safetensors --labels HED FSDS LMSDS \
  --out benchmarks/results/skeleton_sk-large.json --plot benchmarks/results/skeleton_sk-large_pr.png \
  > benchmarks/logs/eval_sk-large.log 2>&1
python benchmarks/eval_skeleton.py --dataset weizmann-horse --root ../shared/data/weizmann-horse --max-side 320 --segments \
  --weights runs/skeleton/{hed,fsds,lmsds}_lite0_horse_cpu/model.safetensors --labels HED FSDS LMSDS \
  --out benchmarks/results/skeleton_weizmann-horse.json --plot benchmarks/results/skeleton_weizmann-horse_pr.png \
  > benchmarks/logs/eval_weizmann-horse.log 2>&1
# bfloat16 (default "auto" above) vs float32 inference: skeleton F must agree within 0.005
python benchmarks/eval_skeleton.py --dataset sk-large --root ../shared/data/sk-large --max-side 320 --precision float32 \
  --weights runs/skeleton/lmsds_lite0_cpu/model.safetensors --labels LMSDS \
  --out benchmarks/results/skeleton_sk-large_lmsds_float32.json > benchmarks/logs/eval_sk-large_float32.log 2>&1
