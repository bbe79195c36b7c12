"""Shared by the benchmark scripts: machine facts, tables, JSON output."""
from __future__ import annotations

import datetime
import os
import platform
import re
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
    """'mean ± std' with two decimals; the sample standard deviation (n - 1), as everywhere in digitnet."""
    import numpy as np

    spread = np.std(values, ddof=1) if len(values) > 1 else 0.0
    return f"{np.mean(values):.2f} ± {spread:.2f}"


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)))


def machine_label(facts: dict) -> str:
    """A short file-name label of a machine: its GPU if any, else its CPU, and its core count."""
    name = facts.get("device") if facts.get("gpus") else facts.get("cpu", "cpu")
    name = re.sub(r"\((r|tm)\)|\b(processor|cpu|nvidia|intel|amd)\b|@", " ", str(name).lower())
    return f"{'-'.join(re.findall(r'[a-z0-9.]+', name)) or 'cpu'}-{facts.get('cores', 0)}cores"


def uci_digits(script: str):
    """scikit-learn's copy of the UCI digits (13 writers outside MNIST, 1,797 8x8 scans: .images, .target);
    exits with code 2 naming what to install where scikit-learn is missing."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        print(f"{script}: needs scikit-learn for the UCI digits: pip install -e '.[benchmarks]'", file=sys.stderr)
        raise SystemExit(2) from None
    return load_digits()


def portable_argument(argument: str) -> str:
    """An argument as the results may record it: no absolute path of this machine."""
    if not os.path.isabs(argument):
        return argument
    path = Path(argument)
    if path.is_relative_to(Path.cwd()):
        return str(path.relative_to(Path.cwd()))
    return str(Path("...", *path.parts[-3:]))


def write_results(name: str, results: dict, output_dir: str = "benchmarks/results") -> Path:
    """Writes `output_dir/<name>_<machine>_<date>.json` (then `-2`, `-3`, ...), so a result is never
    overwritten; a `name` that is a path (a test's temporary file) is written as `<name>.json`."""
    from digitnet.core.files import write_json

    facts, date = machine(), datetime.date.today().isoformat()
    if os.sep in name:
        path = Path(f"{name}.json")
    else:
        stem = Path(output_dir) / f"{name}_{machine_label(facts)}_{date}"
        path, count = Path(f"{stem}.json"), 2
        while path.exists():
            path, count = Path(f"{stem}-{count}.json"), count + 1
    command = " ".join([Path(sys.executable).name, *map(portable_argument, sys.argv)])
    write_json(path, {"machine": facts, "date": date, "command": command, "python": platform.python_version(),
                      **results})
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
