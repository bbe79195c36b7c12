"""Peak resident memory of a full training run, measured on a child process.

    python benchmarks/memory.py [--arch lenet]
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile

from common import print_table, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", default="lenet")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "digitnet.train", "--arch", args.arch, "--quiet", "--output-dir", folder],
                       check=True, stdout=subprocess.DEVNULL)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB
    print_table("peak resident memory of a full training run", ["model", "peak RSS, MiB"], [[args.arch, f"{peak_mib:.0f}"]])
    write_results(f"memory_{args.arch}", {"arch": args.arch, "peak_rss_mib": peak_mib})


if __name__ == "__main__":
    main()
