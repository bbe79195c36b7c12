"""Shared by the benchmark scripts: machine facts, tables, JSON output."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def machine() -> dict:
    from digitnet.core.machine import machine_facts

    return machine_facts()


def timed_process(command: list[str]) -> tuple[float, str]:
    """Runs `command`, start to exit; its seconds and stdout. A failure stops the benchmark with stderr's tail."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def summary(values: list[float]) -> str:
    """'mean ± std' with two decimals."""
    import numpy as np

    return f"{np.mean(values):.2f} ± {np.std(values):.2f}"


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)))


def write_results(name: str, results: dict, output_dir: str = "benchmarks/results") -> Path:
    from digitnet.core.files import write_json

    path = Path(output_dir) / f"{name}.json"
    write_json(path, {"machine": machine(), "command": " ".join([Path(sys.executable).name, *sys.argv]),
                      "python": platform.python_version(), **results})
    print(f"\nwritten: {path}")
    return path


def matmul_peak_gflops(size: int = 2048, repeats: int = 10) -> float:
    """What this machine reaches on the friendliest kernel there is (a large
    float32 matmul): the practical peak that achieved GFLOP/s compare with."""
    import time

    import tensorflow as tf

    a = tf.random.stateless_uniform([size, size], seed=[0, 0])
    multiply = tf.function(lambda x: tf.matmul(x, x))
    multiply(a).numpy()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        multiply(a).numpy()
        seconds.append(time.perf_counter() - started)
    return 2 * size ** 3 / sorted(seconds)[len(seconds) // 2] / 1e9
