#!/usr/bin/env bash
# The hypercolumn benchmark chain on one core each (two chains side by side on a 2-core machine):
#   chain A: wait for parts_pascal_cpu, eval it; train + eval figure_ground_duts_cpu; train + eval keypoints_lsp_cpu
#   chain B: wait for parts_pascal_cpu_top, eval it; train + eval figure_ground_duts_cpu_top
# usage: bash benchmarks/run_hypercolumn_chain.sh A|B   (logs in benchmarks/logs, JSON in benchmarks/results)
set -u
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" OMP_NUM_THREADS=1
D=${STRUCTNET_DATA:-../shared/data}
R=benchmarks/results
L=benchmarks/logs
ev() {  # weights json [extra args]
  local w=$1 js=$2; shift 2
  structnet eval hypercolumn --weights "$w" --threads 1 --quiet --json "$js" "$@"
}
# a config name: the packaged one, or benchmarks/configs/hypercolumn/<name>.yaml where that file exists
cfg() { local f=benchmarks/configs/hypercolumn/$1.yaml; if [ -f "$f" ]; then echo "$f"; else echo "$1"; fi; }
wait_for() { while pgrep -f -- "--config $(cfg "$1") --threads" > /dev/null; do sleep 20; done; }
train() { structnet train hypercolumn --config "$(cfg "$1")" --threads 1 > "$L/train_hypercolumn_$1.log" 2>&1; }
if [ "$1" = A ]; then
  wait_for parts_pascal_cpu
  ev runs/hypercolumn/parts_pascal_cpu/model.safetensors $R/hypercolumn_parts_pascal_test_run.json --task parts
  train figure_ground_duts_cpu
  ev runs/hypercolumn/figure_ground_duts_cpu/model.safetensors $R/hypercolumn_fg_ecssd_run.json --task figure-ground
  ev runs/hypercolumn/figure_ground_duts_cpu/model.safetensors $R/hypercolumn_fg_horses_run.json --task figure-ground \
     --data $D/weizmann-horse --split test
  train keypoints_lsp_cpu
  ev runs/hypercolumn/keypoints_lsp_cpu/model.safetensors $R/hypercolumn_keypoints_lspet_val_run.json --task keypoints
else
  wait_for parts_pascal_cpu_top
  ev runs/hypercolumn/parts_pascal_cpu_top/model.safetensors $R/hypercolumn_parts_pascal_test_top.json --task parts
  train figure_ground_duts_cpu_top
  ev runs/hypercolumn/figure_ground_duts_cpu_top/model.safetensors $R/hypercolumn_fg_top_ecssd.json --task figure-ground
  ev runs/hypercolumn/figure_ground_duts_cpu_top/model.safetensors $R/hypercolumn_fg_top_horses.json \
     --task figure-ground --data $D/weizmann-horse --split test
fi
echo "chain $1 done"
