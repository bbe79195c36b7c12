#!/usr/bin/env bash
# The runs of validation_fifth_style_member.py, one after another, each kept here as it finishes
# (a run kept here is skipped, a finished one in runs/select is reused and kept, an interrupted one
# resumes). From the repository root:
#   bash reports/deep_cnn_selection/fifth_style_member_runs.sh
set -euo pipefail
run() {  # name augment seed
  [ -f "reports/deep_cnn_selection/$1/validation_probabilities.npz" ] && return
  python -m digitnet.train --arch deep_cnn --augment "$2" --seed "$3" --validation-split 0.1 \
    --output-dir "runs/select/$1"
  python reports/deep_cnn_selection/selection_runs.py keep "$1"
}
run styles-loops-20-s104 styles 104
run affine-20-v2-r affine 100
run affine-20-s102-v2-r affine 102
run styles-loops-20-r styles 100
run styles-loops-20-s101-r styles 101
run styles-loops-20-s102-r styles 102
run styles-loops-20-s103-r styles 103
python reports/deep_cnn_selection/validation_fifth_style_member.py
