#!/usr/bin/env bash
# The INSIGHT benchmark runs (docs/systems/insight.md, "Our measurements"), one after another, each resumed
# when its run directory already exists. Long: start it with
#   nohup cluster/insight_benchmark.sh [STORAGE] > STORAGE/insight_bench.log 2>&1 &
# and start it again after any interruption. Refresh the committed tables with
#   nsrl analyze STORAGE/insight_freeway --out docs/results/insight_freeway
exec "$(dirname "$0")/resume_specs.sh" "${1:-runs}" insight_freeway insight_pong_budget
