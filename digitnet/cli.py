"""What every digitnet command shares: quiet TF start-up, clear errors, Ctrl-C that is never lost."""
from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import traceback
from typing import Callable

# Silences TensorFlow's C++ info and warning logs (set before TF loads).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from digitnet import interrupts, quiet  # noqa: E402
from digitnet.errors import DigitnetError  # noqa: E402

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def add_debug_flag(parser) -> None:
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Imports TensorFlow, whenever a command first needs it, with its C++ start-up lines hidden
    (absl, oneDNN and CUDA notices that ignore TF_CPP_MIN_LOG_LEVEL)."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            execute = spec.loader.exec_module

            def exec_module(module):
                with quiet.native_stderr():
                    execute(module)

            spec.loader.exec_module = exec_module
        return spec


def run_command(main: Callable[[list[str] | None], int], argv: list[str] | None = None,
                interrupted_hint: str = "") -> int:
    """Runs `main`, turning digitnet errors into one line and exit code 2, and Ctrl-C into exit code 130."""
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    quiet.enabled = not debug
    if quiet.enabled and "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _QuietTensorFlowImport())
    interrupts.install()
    try:
        code = main(argv)
        interrupts.raise_if_requested()
        return code
    except DigitnetError as error:
        if debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\ninterrupted. {interrupted_hint}".rstrip(), file=sys.stderr)
        return EXIT_INTERRUPTED
