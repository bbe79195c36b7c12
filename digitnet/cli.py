"""What every digitnet command shares: quiet TF start-up and clear errors."""
from __future__ import annotations

import os
import sys
import traceback
from typing import Callable

# Silences TensorFlow's C++ info and warning logs (set before TF loads). TF 2.21 still prints a few
# absl lines at import that ignore this variable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from digitnet.errors import DigitnetError  # noqa: E402

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def add_debug_flag(parser) -> None:
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def run_command(main: Callable[[list[str] | None], int], argv: list[str] | None = None,
                interrupted_hint: str = "") -> int:
    """Runs `main`, turning digitnet errors into one line and exit code 2."""
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        return main(argv)
    except DigitnetError as error:
        if debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\ninterrupted. {interrupted_hint}".rstrip(), file=sys.stderr)
        return EXIT_INTERRUPTED
