#!/usr/bin/env bash
# The GPU check: one script, one call, on a machine with an NVIDIA GPU.
#
#   bash benchmarks/gpu_check.sh [WHEELHOUSE]
#
# Installs digitnet (from PyPI, or offline from WHEELHOUSE: a folder holding
# tensorflow and its CUDA 12 wheels, `pip download "tensorflow[and-cuda]==2.21.*"`),
# prints nvidia-smi's facts, runs the test suite, trains LeNet at the paper's
# settings on the GPU (default strategy: one GPU, steps_per_execution 10) and
# deep_cnn for 2 epochs, and measures the pipeline. Everything it prints is
# also written to benchmarks/results/gpu_check.log, and the numbers to
# benchmarks/results/gpu_check.json. About 5-8 minutes on an H100.
set -uo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results
mkdir -p "$out"
exec > >(tee "$out/gpu_check.log") 2>&1
if [ -n "${1:-}" ]; then
  python3 -m pip install -q --no-index --find-links "$1" "tensorflow[and-cuda]==2.21.*" || exit 1
fi
python3 -m pip install -q -e ".[test]" || exit 1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
python3 -c "import tensorflow as tf; gpus = tf.config.list_physical_devices('GPU'); print('TensorFlow sees', gpus); \
assert gpus, 'no GPU visible to TensorFlow: the CUDA 12 libraries are missing'" || exit 1
run_dir=$(mktemp -d)
timeout 240 python3 -m pytest -q -x -m "not slow" 2>&1 | tail -5
python3 -m digitnet.train --arch lenet --output-dir "$run_dir/lenet" --quiet
python3 -m digitnet.train --arch deep_cnn --epochs 2 --output-dir "$run_dir/deep_cnn" --quiet
python3 benchmarks/pipeline.py --epochs 5
python3 - "$run_dir" "$out/gpu_check.json" <<'PYEOF'
import csv, json, subprocess, sys
runs, target = sys.argv[1], sys.argv[2]
result = {"gpu": subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True).stdout.strip()}
for arch in ("lenet", "deep_cnn"):
    metrics = json.load(open(f"{runs}/{arch}/metrics.json"))
    seconds = [float(r["seconds"]) for r in csv.DictReader(open(f"{runs}/{arch}/history.csv"))]
    result[arch] = {"test": metrics["test"], "epoch_seconds": seconds, "training_seconds": sum(seconds)}
json.dump(result, open(target, "w"), indent=2)
print(json.dumps(result, indent=2))
PYEOF
rm -rf "$run_dir"
