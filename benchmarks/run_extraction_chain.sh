#!/usr/bin/env bash
# Trains the extraction configs one after another on one core (each waits for a running one of the same name),
# then evaluates each on DUTS-TR-2k's held-out ids (validation) and ECSSD through the CLI. An argument "a,b" trains
# the stages a then b (--stages; b starts from a's weights) and evaluates b.
#   bash benchmarks/run_extraction_chain.sh separate_duts_cpu joint_duts_cpu
#   bash benchmarks/run_extraction_chain.sh joint_duts_cpu,joint_duts_cpu_ft
set -u
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
for arg in "$@"; do
  name="${arg##*,}"
  while pgrep -f -- "--config [^ ]*$name(\.yaml)? --threads" > /dev/null || pgrep -f -- "--stages [^ ]*$name(\.yaml)? --threads" > /dev/null
  do sleep 20; done
  w="runs/extraction/$name/model.safetensors"
  if [ ! -f "$w" ]; then   # a finished run (its weights written) is not re-run; an interrupted one resumes
    # a name is a packaged config, or benchmarks/configs/extraction/<name>.yaml where that file exists
    files=(); IFS=, read -ra parts <<< "$arg"
    for n in "${parts[@]}"; do
      f=benchmarks/configs/extraction/$n.yaml; if [ -f "$f" ]; then files+=("$f"); else files+=("$n"); fi
    done
    if [ "$arg" != "$name" ]; then how=(--stages "$(IFS=,; echo "${files[*]}")"); else how=(--config "${files[0]}"); fi
    structnet train extraction "${how[@]}" --threads 1 >> "benchmarks/logs/train_extraction_$name.log" 2>&1
  fi
  structnet eval extraction --weights "$w" --data ../shared/data/duts-tr-2k --split train --holdout 10 --threads 1 \
    --quiet --json "benchmarks/results/extraction_${name}_duts_val.json" > /dev/null 2>&1
  structnet eval extraction --weights "$w" --threads 1 --quiet \
    --json "benchmarks/results/extraction_${name}_ecssd.json" > /dev/null 2>&1
done
