#!/usr/bin/env bash
# The GPU check: one script, one call, on a machine with an NVIDIA GPU.
#
#   bash benchmarks/gpu_check.sh [WHEELHOUSE]
#
# Where TensorFlow runs (or installs: from PyPI, or offline from WHEELHOUSE, a
# folder holding tensorflow and its CUDA 12 wheels, `pip download
# "tensorflow[and-cuda]==2.21.*"`), it checks digitnet's own path: nvidia-smi's
# facts, the test suite, LeNet at the paper's settings on the GPU (default
# strategy: one GPU, steps_per_execution 10), deep_cnn for 2 epochs, the
# pipeline. Everything it prints goes to benchmarks/results/gpu_check_<gpu>-<n>cores_<date>.log,
# the numbers to gpu_check_<gpu>-<n>cores_<date>.json beside it. About 5-8 minutes on an H100.
#
# Where TensorFlow is absent and cannot be installed (the GPU machine lent to
# digitnet's sessions: JAX and PyTorch with CUDA 13, no network, wheels of at
# most 64 MiB per call), it measures the same registered models through Keras'
# JAX backend (benchmarks/keras_backends.py; WHEELHOUSE then holds keras and
# its missing dependencies, namex and optree) beside the PyTorch recipes of
# benchmarks/time_to_accuracy.py on the same GPU. About 3-5 minutes on an H200.
# That path needs the WHEELHOUSE argument: without it, a machine without
# TensorFlow takes the TensorFlow path and stops where TensorFlow cannot install.
set -uo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results
mkdir -p "$out"
# Results are never overwritten: each file is named after the GPU and the date.
stamp="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr 'A-Z' 'a-z' \
  | sed -e 's/nvidia//' -e 's/[^a-z0-9.]\{1,\}/-/g' -e 's/^-//' -e 's/-$//')-$(nproc)cores_$(date +%F)"
exec > >(tee "$out/gpu_check_$stamp.log") 2>&1
if ! python3 -c "import tensorflow" 2>/dev/null && [ -n "${1:-}" ] && ! ls "$1"/tensorflow-* >/dev/null 2>&1; then
  # The Keras-on-JAX path.
  source benchmarks/gpu_jax_setup.sh "$1"
  python3 benchmarks/keras_backends.py --models fast --seeds 5 --steps-per-execution 10 --output gpu_jax_fast
  python3 benchmarks/keras_backends.py --models fast --seeds 5 --steps-per-execution 1 --output gpu_jax_fast_spe1
  python3 benchmarks/keras_backends.py --models lenet --seeds 3 --steps-per-execution 10 --output gpu_jax_lenet
  python3 benchmarks/keras_backends.py --models deep_cnn --epochs 3 --seeds 1 --steps-per-execution 10 \
    --output gpu_jax_deep_cnn
  for race in fast lenet; do
    for seed in 0 1 2 3 4; do
      [ "$race" = lenet ] && [ "$seed" -gt 2 ] && continue
      started=$(date +%s.%N)
      if line=$(python3 benchmarks/time_to_accuracy.py --race "$race" --pytorch "$seed" --device cuda | tail -1) \
          && [ -n "$line" ]; then
        echo "{\"race\": \"$race\", \"seed\": $seed, \"process_seconds\": $(python3 -c "print($(date +%s.%N) - $started)"), \"pytorch\": $line}"
      else
        echo "PyTorch race $race seed $seed failed" >&2
      fi
    done
  done > "$out/gpu_pytorch_$stamp.jsonl"
  cat "$out/gpu_pytorch_$stamp.jsonl"
  exit 0
fi
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
python3 - "$run_dir" "$out/gpu_check_$stamp.json" <<'PYEOF'
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
