#!/usr/bin/env bash
# Validation of the training input mix (data.sh_prob) of the keypoint MLP on S8, the held-out training subject
# (benchmarks/configs/pose3d/lift_keypoints_h36m_cpu_sh_select.yaml). One core; results in
# benchmarks/results/pose3d_select_sh_mix_<p>_{gt2d,sh}.json, logs in benchmarks/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
for p in ${PROBS:-0.0 0.5 1.0}; do
  out=runs/pose3d/select_sh_mix_$p
  $PY -m structnet.cli train pose3d --config benchmarks/configs/pose3d/lift_keypoints_h36m_cpu_sh_select.yaml \
      --threads 1 --no-resume data.sh_prob=$p train.out_dir=$out train.progress_bar=false \
      > benchmarks/logs/train_pose3d_select_sh_mix_$p.log 2>&1
  for input in gt2d sh; do
    $PY -m structnet.cli eval pose3d --weights $out/model.safetensors --subjects S8 --input $input --threads 1 \
        --json benchmarks/results/pose3d_select_sh_mix_${p}_$input.json > benchmarks/logs/eval_pose3d_select_sh_mix_${p}_$input.log 2>&1
  done
done
