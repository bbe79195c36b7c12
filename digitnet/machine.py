"""The machine a measurement ran on: CPU, cores, GPUs and library versions.

Read by the reproduction report and the benchmarks. TensorFlow and Keras
are imported only when the facts are asked for, so importing this module
stays cheap.
"""
from __future__ import annotations

import os
import platform


def machine_facts() -> dict:
    import keras
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            cpu = next(line.split(":", 1)[1].strip() for line in file if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "gpus": len(tf.config.list_physical_devices("GPU")),
            "tensorflow": tf.__version__, "keras": keras.__version__, "python": platform.python_version()}
