"""Time to accuracy: a digitnet command against a plain PyTorch loop, as a user runs them.

    python benchmarks/time_to_accuracy.py                 # race 'fast': --arch fast vs the fastest published recipe
    python benchmarks/time_to_accuracy.py --race lenet    # the default LeNet command vs the same LeNet in PyTorch
    python benchmarks/time_to_accuracy.py --seeds 3 --race fast
    python benchmarks/time_to_accuracy.py --race lenet --digitnet-python ~/fresh/bin/python   # as a new user installs it

Each seed runs both sides back to back (interleaved, the order alternating
between seeds), each in a fresh process, so both meet the same load:
- digitnet: `python -m digitnet.train --arch A --seed S --output-dir <tmp> --quiet`,
  with this interpreter or `--digitnet-python`'s: a fresh virtual environment
  where only `pip install -e .` ran, as a new user installs digitnet (no
  scikit-learn, JAX or IPython for TensorFlow and Keras to import on the way).
  Training seconds are the sum of history.csv's epoch seconds (first epoch,
  with its tracing, included); test accuracy is metrics.json's.
- PyTorch (2.13 on this CPU), this script's `--pytorch S` (alone, on a GPU
  machine: `--pytorch S --device cuda`):
  - race 'fast': the final recipe of tuomaso/train_mnist_fast (0.76 s to 99 %
    on a GTX 1660 Ti): conv 24@5x5, max pool, ReLU, conv 32@3x3, max pool,
    ReLU, dense 256, 10; Adam lr 0.01, betas (0.7, 0.9); OneCycleLR without
    momentum cycling over one epoch of batch 256; the normalised images held as
    one tensor, shuffled once per seed, batches taken as slices.
  - race 'lenet': benchmarks/pytorch_lenet.py's LeNet loop at the paper's
    settings (6 epochs, Adam lr 0.005, batch 100, a new permutation each epoch).
  Training seconds are the training loop's wall time.
Whole-process seconds (start to exit, imports and evaluation included) are
measured from outside for both. The ratios digitnet/PyTorch are taken seed by
seed, then summarised, so slow moments of this shared machine hit both sides.
PyTorch is not a dependency of digitnet: without it this script says so and stops.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
from common import portable_argument, print_table, summary, timed_process, write_results

from digitnet.core.images import MNIST_PIXEL_MEAN, MNIST_PIXEL_STD
from digitnet.training.run_folder import RunFolder

NORMALISE = (MNIST_PIXEL_MEAN, MNIST_PIXEL_STD)  # as the PyTorch recipe uses them (and digitnet's `fast`)
RACES = {"fast": {"arch": "fast"}, "lenet": {"arch": "lenet"}}


def _torch():
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed; `pip install torch==2.13.0 --index-url "
                 "https://download.pytorch.org/whl/cpu` to run this comparison")
    return torch


def fast_recipe_net(nn):
    """tuomaso/train_mnist_fast's final network (pooling before ReLU, as there)."""
    return nn.Sequential(
        nn.Conv2d(1, 24, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(24, 32, 3), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Linear(800, 256), nn.ReLU(), nn.Linear(256, 10),
    )


def pytorch_fast(seed: int, images, labels, batch_size: int = 256, learning_rate: float = 0.01):
    """One epoch of the fast recipe on the tensors' device; returns (model, training seconds)."""
    torch = _torch()
    from pytorch_lenet import synchronize
    from torch import nn

    torch.manual_seed(seed)
    device = images.device
    order = torch.randperm(len(images), device=device)
    images, labels = images[order], labels[order]
    model = fast_recipe_net(nn).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, betas=(0.7, 0.9))
    steps = -(-len(images) // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=steps,
                                                    cycle_momentum=False)
    loss_fn = nn.CrossEntropyLoss()
    synchronize(torch, device)
    started = time.perf_counter()
    model.train()
    for step in range(steps):
        batch = slice(step * batch_size, (step + 1) * batch_size)
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(images[batch]), labels[batch]).backward()
        optimizer.step()
        scheduler.step()
    synchronize(torch, device)
    return model, time.perf_counter() - started


def pytorch_lenet(seed: int, images, labels):
    """benchmarks/pytorch_lenet.py's loop at the paper's settings; returns (model, training seconds)."""
    torch = _torch()
    from pytorch_lenet import train_lenet

    torch.manual_seed(seed)
    model, seconds = train_lenet(images, labels, epochs=6, batch_size=100, learning_rate=0.005)
    return model, float(sum(seconds))


def pytorch_run(race: str, seed: int, device: str = "cpu") -> dict:
    """The PyTorch side of one seed, in this process, on `device` (cpu, or cuda on a GPU machine)."""
    torch = _torch()
    from digitnet.data.sources import load_digits

    data = load_digits()
    mean, std = NORMALISE if race == "fast" else (0.0, 1.0)

    def tensor(images):
        return ((torch.from_numpy(images.astype(np.float32)) / 255.0 - mean) / std).unsqueeze(1).to(device)

    train = {"fast": pytorch_fast, "lenet": pytorch_lenet}[race]
    model, seconds = train(seed, tensor(data.train_images),
                           torch.from_numpy(data.train_labels.astype(np.int64)).to(device))
    model.eval()
    with torch.no_grad():
        predicted = model(tensor(data.test_images)).argmax(1).cpu().numpy()
    return {"training_seconds": seconds, "test_accuracy": float(np.mean(predicted == data.test_labels)),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "device": device}


def digitnet_side(arch: str, seed: int, python: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        process_seconds, _ = timed_process([python, "-m", "digitnet.train", "--arch", arch, "--seed", str(seed),
                                     "--output-dir", folder, "--quiet"])
        metrics = RunFolder(folder).read_metrics()
        epoch_seconds = [float(row["seconds"]) for row in RunFolder(folder).history_rows()]
    return {"training_seconds": float(sum(epoch_seconds)), "epoch_seconds": epoch_seconds,
            "process_seconds": process_seconds, "test_accuracy": metrics["test"]["accuracy"]}


def pytorch_side(race: str, seed: int) -> dict:
    process_seconds, stdout = timed_process([sys.executable, __file__, "--race", race, "--pytorch", str(seed)])
    return {**json.loads(stdout.strip().splitlines()[-1]), "process_seconds": process_seconds}


def race(name: str, seeds: int, digitnet_python: str) -> dict:
    arch = RACES[name]["arch"]
    rows = []
    for seed in range(seeds):
        sides = [("digitnet", lambda: digitnet_side(arch, seed, digitnet_python)), ("pytorch", lambda: pytorch_side(name, seed))]
        result = dict((side, run()) for side, run in (sides if seed % 2 == 0 else sides[::-1]))
        result["seed"] = seed
        rows.append(result)
        print(f"seed {seed}: " + "; ".join(
            f"{side} {result[side]['training_seconds']:.2f} s training, {result[side]['process_seconds']:.2f} s "
            f"process, {100 * result[side]['test_accuracy']:.2f} %" for side in ("digitnet", "pytorch")), flush=True)
    return {"race": name, "arch": arch, "digitnet_python": portable_argument(digitnet_python), "seeds": rows, "ratios": {
        kind: [r["digitnet"][f"{kind}_seconds"] / r["pytorch"][f"{kind}_seconds"] for r in rows]
        for kind in ("training", "process")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--race", default="fast", choices=list(RACES))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--pytorch", type=int, metavar="SEED",
                        help="run only the PyTorch side of this seed, in this process, and print it as JSON")
    parser.add_argument("--digitnet-python", default=sys.executable,
                        help="the interpreter of the digitnet side (default: this one)")
    parser.add_argument("--output-name", help="results file name (default: time_to_accuracy_<race>)")
    parser.add_argument("--device", default="cpu", help="PyTorch device of --pytorch (cpu, or cuda on a GPU machine)")
    args = parser.parse_args()
    if args.device != "cpu" and args.pytorch is None:
        parser.error(f"--device goes with --pytorch SEED (the race itself runs on the CPU), received {args.device!r}")
    if args.pytorch is not None:
        print(json.dumps(pytorch_run(args.race, args.pytorch, args.device)))
        return
    _torch()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = race(args.race, args.seeds, args.digitnet_python)
    table = []
    for side in ("digitnet", "pytorch"):
        sides = [r[side] for r in result["seeds"]]
        table.append([side if side == "pytorch" else f"digitnet --arch {result['arch']}",
                      summary([s["training_seconds"] for s in sides]), summary([s["process_seconds"] for s in sides]),
                      summary([100 * s["test_accuracy"] for s in sides]),
                      f"{100 * min(s['test_accuracy'] for s in sides):.2f}"])
    table.append(["digitnet / pytorch", summary(result["ratios"]["training"]),
                  summary(result["ratios"]["process"]), "", ""])
    print_table(f"race '{args.race}', {args.seeds} seeds, interleaved (mean ± std)",
                ["", "training s", "process s", "test accuracy %", "min %"], table)
    write_results(args.output_name or f"time_to_accuracy_{args.race}", result)


if __name__ == "__main__":
    main()
