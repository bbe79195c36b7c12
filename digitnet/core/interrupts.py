"""Ctrl-C that is never lost.

Python raises KeyboardInterrupt wherever the main thread happens to be when
SIGINT arrives; inside a finaliser (TensorFlow deletes a dataset iterator at
every epoch's end) the exception is printed as "Exception ignored" and
training goes on. So the handler also records the request, and training
checks the record at every batch and epoch end (callbacks.StopOnInterrupt),
and the command checks it before it reports success (cli.run_command).
"""
from __future__ import annotations

import signal
import threading

_requested = threading.Event()


def _on_sigint(signum, frame):
    _requested.set()
    raise KeyboardInterrupt


def install() -> None:
    """Routes SIGINT through the recording handler (main thread only, as signal requires)."""
    _requested.clear()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)


def requested() -> bool:
    return _requested.is_set()


def raise_if_requested() -> None:
    if _requested.is_set():
        raise KeyboardInterrupt
