#!/usr/bin/env bash
# Every benchmark, as run for the README's performance section (results in benchmarks/results/).
set -euo pipefail
cd "$(dirname "$0")/.."
python benchmarks/pipeline.py --epochs 10
python benchmarks/training.py --models bpnn,lenet --epochs 8
python benchmarks/training.py --models bpnn,lenet --epochs 8 --steps-per-execution 1
python benchmarks/training.py --models bpnn,lenet --epochs 5 --jit-compile on --steps-per-execution 1
python benchmarks/training.py --models autoencoder,conv_autoencoder,ae_classifier --epochs 3
python benchmarks/inference.py
python benchmarks/memory.py --arch lenet
python benchmarks/profile_training.py --arch lenet
python benchmarks/profile_training.py --arch bpnn
python benchmarks/photo_accuracy.py
python benchmarks/photo_accuracy.py --model saved_models/committee/5 --output photo_accuracy_committee
if python -c "import sklearn" 2>/dev/null; then
  python benchmarks/other_writers.py --models saved_models/committee/5,saved_models/lenet/1,saved_models/bpnn/1
fi
if [ -x /usr/bin/chromium ] && command -v npm >/dev/null; then python benchmarks/web_inference.py; fi
if python -c "import torch" 2>/dev/null; then python benchmarks/pytorch_lenet.py; fi
if python -c "import torch" 2>/dev/null; then
  python benchmarks/time_to_accuracy.py --race fast --seeds 5
  python benchmarks/time_to_accuracy.py --race lenet --seeds 3
fi
