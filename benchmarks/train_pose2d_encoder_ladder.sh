#!/usr/bin/env bash
# The ablation ladder of Ke et al. 2018 (Sec. 4.3) on the pretrained encoder (issue 8): EfficientNet-Lite0 + upsampling
# decoder with one full-resolution head -> +MSS heads at every decoder level -> +MSR-net -> +structure-aware loss ->
# +keypoint masking. Every rung is encoder_lite0_lspet_cpu.yaml with its switches overridden and ONE budget: STEPS
# steps of batch 32 (default 200 = 1.6 epochs of LSPET train), each rung with every seed in SEEDS (default "0 1"),
# then each run's PCK@0.2 on LSPET val (annotated windows, flip test) and on whole images (--window auto, as
# predict). Mean and spread per rung: python benchmarks/report_pose2d.py (encoder ladder table).
# On 2 CPU cores two chains run side by side, one thread each (about 4.5-5 s/step at 1 thread: 10 runs of 200
# steps and their evaluations take about 1 h 45 min). On a GPU: DEVICE=cuda CHAINS=1 bash benchmarks/train_pose2d_encoder_ladder.sh
# Run from the repository root. Logs: benchmarks/logs/train_pose2d_enc_<rung>_s<seed>.log; results:
# benchmarks/results/pose2d_enc_ladder_<rung>_s<seed>{,_auto}.json. Re-running resumes unfinished trainings and skips
# finished evaluations.
set -euo pipefail
STEPS=${STEPS:-200}
SEEDS=${SEEDS:-"0 1"}
CHAINS=${CHAINS:-2}
DEVICE=${DEVICE:-auto}
mkdir -p benchmarks/logs benchmarks/results
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
declare -A SWITCHES=(
  [1_plain]="model.mss=false model.msr=false loss.alpha=0.0 loss.supervise=[stacks] data.keypoint_masking=false"
  [2_mss]="model.mss=true model.msr=false loss.alpha=0.0 loss.supervise=[stacks] data.keypoint_masking=false"
  [3_msr]="model.mss=true model.msr=true loss.alpha=0.0 data.keypoint_masking=false"
  [4_struct]="model.mss=true model.msr=true loss.alpha=0.5 data.keypoint_masking=false"
  [5_masking]="model.mss=true model.msr=true loss.alpha=0.5 data.keypoint_masking=true"
)
run_one() {  # rung seed
  local rung=$1 seed=$2 tag=enc_ladder_${1}_s${2}
  local out=runs/pose2d/encoder_ladder/${rung}_s${seed} res=benchmarks/results/pose2d_${tag}
  # shellcheck disable=SC2086
  [ -f "$out/model.safetensors" ] || /usr/bin/time -v structnet train pose2d --config encoder_lite0_lspet_cpu \
    --threads "$OMP_NUM_THREADS" ${SWITCHES[$rung]} train.seed="$seed" train.max_iters="$STEPS" \
    schedule.warmup_iters=30 train.checkpoint_every=100 train.device="$DEVICE" train.out_dir="$out" \
    train.progress_bar=false > "benchmarks/logs/train_pose2d_${tag}.log" 2>&1
  for window in annotation auto; do
    local json=$res$([ $window = auto ] && echo _auto).json
    [ -f "$json" ] || structnet eval pose2d --weights "$out/model.safetensors" --window $window --quiet \
      --threads "$OMP_NUM_THREADS" --json "$json" > "benchmarks/logs/eval_pose2d_${tag}_${window}.log" 2>&1
  done
}
runs=()
for seed in $SEEDS; do for rung in 1_plain 2_mss 3_msr 4_struct 5_masking; do runs+=("$rung $seed"); done; done
chain() {  # every CHAINS-th run starting at $1
  local i
  for ((i = $1; i < ${#runs[@]}; i += CHAINS)); do run_one ${runs[$i]}; done
}
pids=()
for ((c = 0; c < CHAINS; c++)); do chain $c & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
