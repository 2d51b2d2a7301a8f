#!/usr/bin/env bash
# The lifters trained on the Stacked Hourglass detections of all five training subjects (data.sh_prob chosen on S8
# held out: benchmarks/select_pose3d_sh_mix.sh), each followed by its S9 / S11 evaluation from GT 2D and from the
# detections. One core. STAGES: keypoints and/or maps; EVERY: every n-th stored test frame (1 = the protocol).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
EVERY=${EVERY:-1}
suffix=$([ "$EVERY" = 1 ] && echo "" || echo "_every$EVERY")
for stage in ${STAGES:-keypoints maps}; do
  cfg=lift_${stage}_h36m_cpu_sh
  out=runs/pose3d/$cfg
  $PY -m structnet.cli train pose3d --config $cfg --threads 1 --no-resume train.progress_bar=false \
      > benchmarks/logs/train_pose3d_${stage}_sh.log 2>&1
  for input in sh gt2d; do
    $PY -m structnet.cli eval pose3d --weights $out/model.safetensors --input $input --every $EVERY --threads 1 \
        --json benchmarks/results/pose3d_sh_trained_${stage}_${input}${suffix}.json \
        > benchmarks/logs/eval_pose3d_sh_trained_${stage}_${input}${suffix}.log 2>&1
  done
done
