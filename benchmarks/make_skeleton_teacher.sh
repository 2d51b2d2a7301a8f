#!/usr/bin/env bash
# The teacher of the one-pass skeleton model: the bundled model's six-pass ensemble (--tta) on the photos the
# distillation trains on (SK-LARGE train, DUTS-TR-2k), written as <name>_skeleton.npz into runs/skeleton/teacher
# (what data.teacher of lmsds_lite0_cpu_distill reads). Never on a test split or ECSSD. One core. Without --overwrite:
# a photo of the second folder whose name the first already wrote is refused, not written over (a rerun needs an
# empty OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${STRUCTNET_DATA:-../shared/data}
OUT=${OUT:-runs/skeleton/teacher}
export OMP_NUM_THREADS=1
for folder in "$DATA/sk-large/train/im" "$DATA/duts-tr-2k/images"; do
  $PY -m structnet.cli predict skeleton "$folder" --out "$OUT" --tta --threads 1 --quiet
done
