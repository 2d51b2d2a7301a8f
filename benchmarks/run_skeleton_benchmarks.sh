#!/usr/bin/env bash
# After benchmarks/train_skeleton_ladder.sh: horse fine-tuning (WH-SYMMAX split) and the accuracy evaluations.
# Run from the repository root. Object segments are evaluated on the horses only: SK-LARGE's Table VI needs the
# MS-COCO instance masks of its images, which ../shared/data does not hold. Results: benchmarks/results/skeleton_{sk-large,weizmann-horse}.json (+ PR plots).
set -euo pipefail
for m in lmsds fsds hed; do
  structnet train skeleton --config benchmarks/configs/skeleton/${m}_lite0_horse_cpu.yaml train.progress_bar=false \
    > benchmarks/logs/train_${m}_lite0_horse_cpu.log 2>&1
done
# (--append: models already in the JSON, e.g. evaluated while HED was still training, are kept)
python benchmarks/eval_skeleton.py --dataset sk-large --root ../shared/data/sk-large --max-side 320 --append \
  --weights runs/skeleton/{hed,fsds}_lite0_cpu/model.safetensors --labels HED FSDS \
  --out benchmarks/results/skeleton_sk-large.json --plot benchmarks/results/skeleton_sk-large_pr.png \
  > benchmarks/logs/eval_sk-large_hed_fsds.log 2>&1
python benchmarks/eval_skeleton.py --dataset weizmann-horse --root ../shared/data/weizmann-horse --max-side 320 --segments \
  --weights runs/skeleton/{hed,fsds,lmsds}_lite0_horse_cpu/model.safetensors --labels HED FSDS LMSDS \
  --out benchmarks/results/skeleton_weizmann-horse.json --plot benchmarks/results/skeleton_weizmann-horse_pr.png \
  > benchmarks/logs/eval_weizmann-horse.log 2>&1
# bfloat16 vs float32 inference: skeleton F must agree within 0.005 (bfloat16 forced: on a CPU without native
# bfloat16 it is emulated: slower, and its accumulation may differ slightly from AMX's)
for p in float32 bfloat16; do
  python benchmarks/eval_skeleton.py --dataset sk-large --root ../shared/data/sk-large --max-side 320 --precision $p \
    --weights runs/skeleton/lmsds_lite0_cpu/model.safetensors --labels LMSDS \
    --out benchmarks/results/skeleton_sk-large_lmsds_$p.json > benchmarks/logs/eval_sk-large_$p.log 2>&1
done
