#!/usr/bin/env bash
# Trains HED, FSDS and LMSDS on EfficientNet-Lite0 with one CPU budget (src/structnet/configs/skeleton/*_lite0_cpu.yaml:
# 6000 iterations, batch 1, longer side 320, 36-way augmentation) on SK-LARGE train.
# Run from the repository root: bash benchmarks/train_skeleton_ladder.sh   (logs in benchmarks/logs/)
set -euo pipefail
for m in lmsds fsds hed; do
  /usr/bin/time -v structnet train skeleton --config src/structnet/configs/skeleton/${m}_lite0_cpu.yaml train.progress_bar=false \
    > benchmarks/logs/train_${m}_lite0_cpu.log 2>&1
done
