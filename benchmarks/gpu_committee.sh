#!/usr/bin/env bash
# deep_cnn committee members on a machine with Keras on JAX and no TensorFlow (the GPU lent here): one script, one call.
#
#   bash benchmarks/gpu_committee.sh WHEELHOUSE FIRST COUNT SECONDS [FLAG...]
#
# WHEELHOUSE holds what Keras on JAX lacks there (keras 3.15.1, namex, optree
# for Python 3.12; the device tool's README says how to download them, and the
# call carries the folder). About 8 minutes of training fit one call: SECONDS
# 480 with a call limit of 570 s.
#
# First two validation runs (54,000 training images, the last 6,000 held out,
# seeds 100 and 101, as reports/deep_cnn_selection/validation_portable.py's),
# which say whether members trained there read held-out digits as well as
# digitnet.train's; then members FIRST..FIRST+COUNT-1 of the registered recipe
# on all 60,000 images (member k: seed k), all through `python -m
# digitnet.portable` (the training loop with --feed arrays), for at most SECONDS
# in all: a member cut off by the limit stops at its last completed epoch and
# stays behind (a call's folders do not outlive it), the finished ones are kept.
# Each finished run folder comes back in $OUT/runs-<n>.tar (three per archive, about 12 MB: the lending tool
# returns at most 8 files of 16 MiB), the log in $OUT/gpu_committee.log. Back here:
#
#   for t in "$FILES_AT"/runs-*.tar; do tar -xf "$t" -C runs; done
#   python -m digitnet.committee --arch deep_cnn --members $((FIRST + COUNT)) --output-dir runs/committee-deep_cnn
#
# reuses members 0..FIRST-1 trained here by digitnet.train and the new ones.
# FLAGs go to every run (a rehearsal on a CPU: --train-examples 600 --epochs 1).
# --augment styles trains the members with the style edits of other countries'
# writers (drawn on the device by the arrays feed's RandomAffine) instead of the
# registered affine distortions.
# FLAGs that change the recipe (--epochs 40, --augment styles) make members of another
# committee: extract them elsewhere and assemble them there with the same
# flags, FIRST 0, or digitnet.committee moves the other members aside.
# A deep_cnn epoch took 1.16 s on the H200 without augmentation
# (benchmarks/README.md), so a member of 20 epochs takes well under a minute.
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { echo "usage: bash benchmarks/gpu_committee.sh WHEELHOUSE FIRST COUNT SECONDS [FLAG...]" >&2; exit 2; }
out=${OUT:-benchmarks/results}
mkdir -p "$out" && out=$(cd "$out" && pwd)
exec > >(tee "$out/gpu_committee.log") 2>&1
source benchmarks/gpu_jax_setup.sh "$1"
first=$2 count=$3 deadline=$(( $(date +%s) + $4 ))
shift 4
work=$(mktemp -d)
left() { echo $(( deadline - $(date +%s) )); }
timeout -s INT -k 20 "$(left)" python3 -m digitnet.portable --arch deep_cnn --members 2 --seed 100 \
  --validation-split 0.1 --output-dir "$work/select-gpu" --quiet "$@"
[ "$(left)" -gt 30 ] && timeout -s INT -k 20 "$(left)" python3 -m digitnet.portable --arch deep_cnn \
  --members "$count" --first-member "$first" --output-dir "$work/committee-deep_cnn" --quiet "$@"
python3 - "$work" <<'PYEOF'
import csv, json, pathlib, sys
for metrics in sorted(pathlib.Path(sys.argv[1]).glob("*/member-*/metrics.json")):
    run = metrics.parent
    history = list(csv.DictReader(open(run / "history.csv")))
    validation = history[-1].get("val_accuracy")
    print(f"{run.parent.name}/{run.name}: {sum(float(r['seconds']) for r in history):.1f} s training, "
          f"test {100 * json.load(open(metrics))['test']['accuracy']:.2f} %"
          + (f", validation {100 * float(validation):.2f} %" if validation else ""))
PYEOF
cd "$work" && ls */member-*/metrics.json 2>/dev/null | xargs -r -n 1 dirname | xargs -r -n 3 | {
  n=0; while read -r runs; do tar -cf "$out/runs-$n.tar" $runs; n=$((n + 1)); done; }
ls -la "$out"
