"""The phone demo's models in a real browser: file size and LiteRT.js (wasm) inference time.

    python benchmarks/web_inference.py [--runs 200] [--chromium /usr/bin/chromium]

Builds export/web (npm), serves dist/ on 127.0.0.1, opens the page in
headless Chromium (Playwright) and, for each model the page offers, times
--runs inferences of one MNIST test digit through the page's own
`classify` (after 10 untimed ones). Needs npm and Chromium, as the browser
test does.
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import print_table, write_results

WEB = Path(__file__).resolve().parent.parent / "export" / "web"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def time_models(url: str, chromium: str, runs: int, pixels: list[int]) -> dict[str, list[float]]:
    """Model id -> milliseconds of each timed inference, measured by the page itself."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("window.digitnet !== undefined", timeout=60_000)
        if not page.evaluate("window.digitnet.ready"):
            sys.exit(f"web_inference.py: the page did not start: {page.evaluate('window.digitnet.error')}")
        times = {}
        for model in page.evaluate("window.digitnet.models"):  # the ids the page offers
            page.evaluate("(model) => window.digitnet.loadModel(model)", model)
            page.evaluate("([pixels]) => window.digitnet.timeInference(pixels, 10)", [pixels])
            times[model] = page.evaluate("([pixels, runs]) => window.digitnet.timeInference(pixels, runs)",
                                         [pixels, runs])
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from digitnet.data.sources import load_digits

    subprocess.run(["npm", "run", "build"], cwd=WEB, check=True, capture_output=True, timeout=300)
    manifest = {m["id"]: m for m in json.loads((WEB / "dist" / "models" / "models.json").read_text())}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(WEB / "dist")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        pixels = load_digits().test_images[0].ravel().tolist()
        times = time_models(f"http://127.0.0.1:{port}/", args.chromium, args.runs, pixels)
    finally:
        server.terminate()
    results = {model: {"bytes": manifest[model]["bytes"], "label": manifest[model]["label"],
                       "median_ms": statistics.median(ms), "p90_ms": statistics.quantiles(ms, n=10)[-1]}
               for model, ms in times.items()}
    print_table(f"The phone demo in headless Chromium (LiteRT.js, wasm), {args.runs} inferences each",
                ["model", "bytes", "median ms", "p90 ms"],
                [[m, r["bytes"], f"{r['median_ms']:.2f}", f"{r['p90_ms']:.2f}"] for m, r in results.items()])
    write_results("web_inference", {"runs": args.runs, "models": results})


if __name__ == "__main__":
    main()
