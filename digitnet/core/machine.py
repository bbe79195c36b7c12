"""The machine a measurement ran on: CPU, cores, GPUs and library versions.

Read by the reproduction report and the benchmarks. Keras and its backend
are imported only when the facts are asked for, so importing this module
stays cheap. Under Keras' TensorFlow backend (digitnet's) the GPUs are the
ones TensorFlow sees; under another backend (benchmarks/keras_backends.py on
a machine without TensorFlow) they are that backend's.
"""
from __future__ import annotations

import os
import platform


def _cpu() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            cpu = next(line.split(":", 1)[1].strip() for line in file if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return cpu


def _backend_facts(backend: str) -> dict:
    if backend == "tensorflow":
        import tensorflow as tf

        return {"gpus": len(tf.config.list_physical_devices("GPU")), "tensorflow": tf.__version__}
    if backend == "jax":
        import jax

        return {"gpus": len([d for d in jax.devices() if d.platform == "gpu"]), "jax": jax.__version__,
                "device": str(jax.devices()[0].device_kind)}
    if backend == "torch":
        import torch

        gpus = torch.cuda.device_count()
        return {"gpus": gpus, "torch": torch.__version__,
                **({"device": torch.cuda.get_device_name(0)} if gpus else {})}
    return {}


def machine_facts() -> dict:
    import keras

    backend = keras.backend.backend()
    return {"cpu": _cpu(), "cores": os.cpu_count(), **_backend_facts(backend), "keras": keras.__version__,
            **({} if backend == "tensorflow" else {"keras_backend": backend}),
            "python": platform.python_version()}
