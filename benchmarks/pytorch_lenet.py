"""The issue's yardstick: the same LeNet in a plain PyTorch loop, on the same data.

    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    python benchmarks/pytorch_lenet.py [--epochs 4]

Same layers as digitnet's `lenet` (C1 6@5x5 'same', max pool, C3 16@5x5, max
pool, C5 120@5x5, F6 84, 10), ReLU, Adam at lr 0.005, batch 100, the embedded
training images held in memory as one float tensor, a new permutation each
epoch. Seconds per epoch are the median after the first (warm-up) epoch, so
they compare with `benchmarks/training.py --models lenet`. PyTorch is not a
dependency of digitnet: without it this script says so and stops.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from common import print_table, write_results

from digitnet.data.sources import load_digits


def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5), nn.ReLU(), nn.Flatten(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def synchronize(torch, device) -> None:
    """Waits for the GPU's queued work, so that a clock read next counts it (nothing to wait for on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def train_lenet(images, labels, epochs: int, batch_size: int, learning_rate: float):
    """Trains a fresh LeNet on float tensors [N, 1, 28, 28] in [0, 1], on their
    device; returns (model, seconds of each epoch)."""
    import torch
    from torch import nn

    device = images.device
    model = lenet(nn).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    seconds = []
    synchronize(torch, device)
    for _ in range(epochs):
        started = time.perf_counter()
        model.train()
        for batch in torch.randperm(len(images), device=device).split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(images[batch]), labels[batch])
            loss.backward()
            optimizer.step()
        synchronize(torch, device)
        seconds.append(time.perf_counter() - started)
    return model, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed; `pip install torch==2.13.0 --index-url "
                 "https://download.pytorch.org/whl/cpu` to run this comparison")
    torch.manual_seed(0)
    data = load_digits()
    images = torch.from_numpy(data.train_images.astype(np.float32) / 255.0).unsqueeze(1)
    labels = torch.from_numpy(data.train_labels.astype(np.int64))
    model, seconds = train_lenet(images, labels, args.epochs, args.batch_size, learning_rate=0.005)
    with torch.no_grad():
        test = torch.from_numpy(data.test_images.astype(np.float32) / 255.0).unsqueeze(1)
        accuracy = float((model(test).argmax(1).numpy() == data.test_labels).mean())
    per_epoch = float(np.median(seconds[1:] or seconds))
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "batch_size": args.batch_size,
              "epochs": args.epochs, "seconds_per_epoch": per_epoch, "epoch_seconds": seconds,
              "images_per_second": len(images) / per_epoch, "test_accuracy": accuracy}
    print_table(f"plain PyTorch {torch.__version__} LeNet, {torch.get_num_threads()} threads (median after the first epoch)",
                ["s/epoch", "images/s", f"test acc after {args.epochs} epochs"],
                [[f"{per_epoch:.2f}", f"{result['images_per_second']:,.0f}", f"{100 * accuracy:.2f} %"]])
    write_results("pytorch_lenet", result)


if __name__ == "__main__":
    main()
