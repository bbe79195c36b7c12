"""What every digitnet command shares: quiet TF start-up, clear errors, Ctrl-C that is never lost,
and no time spent on Python's garbage collector walking TensorFlow's objects."""
from __future__ import annotations

import gc
import importlib.abc
import importlib.util
import os
import sys
import traceback
from typing import Callable, NoReturn

# Silences TensorFlow's C++ info and warning logs (set before TF loads).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from digitnet.core import interrupts, quiet  # noqa: E402
from digitnet.core.errors import DigitnetError  # noqa: E402

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# As a shell reports a command stopped by SIGPIPE.
EXIT_BROKEN_PIPE = 141


def add_debug_flag(parser) -> None:
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


class _TensorFlowImport(importlib.abc.MetaPathFinder):
    """Imports TensorFlow, whenever a command first needs it, with its C++ start-up lines hidden
    (absl, oneDNN and CUDA notices that ignore TF_CPP_MIN_LOG_LEVEL; shown under --debug) and
    without Python's cyclic garbage collector. The import creates hundreds of thousands of
    objects, and the collector would walk them again and again while it runs (benchmarks/
    run_phases.py --startup times it); afterwards they are frozen
    (gc.freeze), so no later collection walks them either. Collection then resumes as usual."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            execute = spec.loader.exec_module

            def exec_module(module):
                collecting = gc.isenabled()
                gc.disable()
                try:
                    with quiet.native_stderr():
                        execute(module)
                finally:
                    gc.freeze()
                    if collecting:
                        gc.enable()

            spec.loader.exec_module = exec_module
        return spec


def run_command(main: Callable[[list[str] | None], int], argv: list[str] | None = None,
                interrupted_hint: str = "") -> int:
    """Runs `main`, turning digitnet errors into one line and exit code 2, and Ctrl-C into exit code 130."""
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    quiet.enabled = not debug
    if "tensorflow" not in sys.modules and not any(isinstance(f, _TensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _TensorFlowImport())
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
    except BrokenPipeError:
        # The reader of stdout went away (`... | head`): nothing more to say to it. Later
        # writes, including the interpreter's final flush, go to /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def run_as_process(main: Callable[[list[str] | None], int], interrupted_hint: str = "") -> NoReturn:
    """A command's `__main__`: `run_command`, then the process exits with its code.

    Before exiting, every object still alive is frozen (gc.freeze): Python's
    shutdown otherwise ends with a collection over all of them, a noticeable wait after
    TensorFlow's import (benchmarks/run_phases.py).
    Every file is written and closed by then (atomic writes, context managers),
    and atexit handlers still run; the operating system takes the memory back.
    Not for code that goes on after the command (tests call `run_command`)."""
    code = run_command(main, interrupted_hint=interrupted_hint)
    gc.freeze()
    sys.exit(code)
