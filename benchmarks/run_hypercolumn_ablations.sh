#!/usr/bin/env bash
# Figure-ground ablations (benchmarks/configs/hypercolumn/) at the budget of figure_ground_duts_cpu (600 steps), one core, one after the
# other: grid K = 1, then without the finest tap; each evaluated on ECSSD and the Weizmann horses in GT boxes.
#   bash benchmarks/run_hypercolumn_ablations.sh [config name ...]
set -u
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" OMP_NUM_THREADS=1
D=${STRUCTNET_DATA:-../shared/data}
for c in "${@:-figure_ground_duts_cpu_k1 figure_ground_duts_cpu_no_stage2}"; do
  for cfg in $c; do
    structnet train hypercolumn --config benchmarks/configs/hypercolumn/$cfg.yaml --threads 1 > benchmarks/logs/train_hypercolumn_$cfg.log 2>&1
    w=runs/hypercolumn/$cfg/model.safetensors
    s=${cfg#figure_ground_duts_cpu_}
    structnet eval hypercolumn --weights $w --task figure-ground --threads 1 --quiet \
      --json benchmarks/results/hypercolumn_fg_${s}_ecssd.json
    structnet eval hypercolumn --weights $w --task figure-ground --data $D/weizmann-horse --split test --threads 1 \
      --quiet --json benchmarks/results/hypercolumn_fg_${s}_horses.json
  done
done
