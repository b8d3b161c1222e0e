#!/usr/bin/env bash
# Run experiment specs one after another, each continued with --resume when its run directory already
# exists, so the same command starts a long benchmark and continues it after any interruption:
#   nohup cluster/resume_specs.sh runs symdqn_paper50 > runs/paper50.log 2>&1 &
#   nohup cluster/resume_specs.sh runs ilp_lifelong_tree ilp_lifelong_graph > runs/ilp.log 2>&1 &
# Arguments: STORAGE (the runs directory), then spec names of tune_configs/ (without .yaml).
set -u
if [ $# -lt 2 ]; then
  echo "usage: cluster/resume_specs.sh STORAGE SPEC_NAME..." >&2
  exit 2
fi
cd "$(dirname "$0")/.."
storage=$1
shift
for spec in "$@"; do
  if [ ! -f "tune_configs/$spec.yaml" ]; then
    echo "resume_specs: no spec tune_configs/$spec.yaml" >&2
    exit 2
  fi
done
for spec in "$@"; do
  if [ -f "$storage/$spec/nsrl_spec.json" ]; then
    nsrl run "tune_configs/$spec.yaml" --storage "$storage" --resume || exit $?
  else
    nsrl run "tune_configs/$spec.yaml" --storage "$storage" || exit $?
  fi
done
