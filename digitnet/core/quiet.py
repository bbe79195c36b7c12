"""Hiding what TensorFlow's C++ start-up writes straight to the terminal.

At import and when it first looks for devices, TensorFlow writes absl,
oneDNN and CUDA notices ("Could not find cuda drivers", "failed call to
cuInit") to file descriptor 2, past Python's sys.stderr and past
TF_CPP_MIN_LOG_LEVEL. Commands hide them (cli.run_command turns this on
unless --debug); the library leaves them alone by default.
"""
from __future__ import annotations

import contextlib
import os
import sys

enabled = False


@contextlib.contextmanager
def native_stderr():
    """Points file descriptor 2 at /dev/null while enabled; Python's own errors are raised as usual."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
