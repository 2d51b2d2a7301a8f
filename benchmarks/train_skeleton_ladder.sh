#!/usr/bin/env bash
# Trains HED, FSDS and LMSDS on EfficientNet-Lite0 with one CPU budget (lmsds_lite0_cpu and
# benchmarks/configs/skeleton/{hed,fsds}_lite0_cpu.yaml:
# 6000 iterations, batch 1, longer side 320, 36-way augmentation) on SK-LARGE train.
# Run from the repository root: bash benchmarks/train_skeleton_ladder.sh   (logs in benchmarks/logs/)
set -euo pipefail
for m in lmsds fsds hed; do
  /usr/bin/time -v structnet train skeleton --config "$(f=benchmarks/configs/skeleton/${m}_lite0_cpu.yaml; [ -f "$f" ] && echo "$f" || echo ${m}_lite0_cpu)" train.progress_bar=false \
    > benchmarks/logs/train_${m}_lite0_cpu.log 2>&1
done
