"""The web demo in a real browser: Debian's Chromium driven by Playwright.

It builds export/web (npm), serves it on 127.0.0.1, and checks that the page's
own preprocessing and LiteRT.js inference agree with Python's.
"""
import base64
import functools
import http.server
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitnet.preprocess import prepare_file
from digitnet.runtimes import TFLitePredictor

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "export" / "web"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() or shutil.which("npm") is None,
                                reason="needs Debian's chromium and npm (.ci/run installs both)")


@pytest.fixture(scope="module")
def site():
    if not (WEB / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True, timeout=600)
    subprocess.run(["npm", "run", "build"], cwd=WEB, check=True, timeout=300, capture_output=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(WEB / "dist"))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def page(site, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = browser.new_context(viewport={"width": 400, "height": 820})  # phone-sized
        page = context.new_page()
        page.goto(site)
        page.wait_for_function("window.digitnet !== undefined", timeout=60_000)
        assert page.evaluate("window.digitnet.ready"), page.evaluate("window.digitnet.error")
        yield page
        browser.close()


def _user_pngs(mnist, folder, count):
    """Dark-on-light, enlarged, off-centre digits: what the page has to prepare."""
    paths = []
    for index in range(count):
        image = Image.fromarray(255 - mnist.test_images[index]).resize((84, 84), Image.Resampling.BILINEAR)
        page = Image.new("L", (140, 120), 255)
        page.paste(image, (5 + index % 40, 3 + index % 30))
        path = folder / f"digit{index:03d}.png"
        page.save(path)
        paths.append(path)
    return paths


def test_page_preprocessing_and_inference_match_python(page, mnist, tmp_path):
    paths = _user_pngs(mnist, tmp_path, 100)
    encoded = [base64.b64encode(p.read_bytes()).decode() for p in paths]
    results = page.evaluate("(pngs) => window.digitnet.classifyPngs(pngs)", encoded)
    js_pixels = np.array([r["pixels"] for r in results]).reshape(100, 28, 28)
    python_pixels = np.stack([prepare_file(p) for p in paths])
    assert np.abs(js_pixels.astype(int) - python_pixels.astype(int)).max() <= 1
    predictor = TFLitePredictor(WEB / "dist" / "models" / "lenet_int8.tflite")
    python_digits = np.argmax(predictor(js_pixels.astype(np.uint8)), axis=1)
    np.testing.assert_array_equal([r["digit"] for r in results], python_digits)
    assert np.mean(python_digits == mnist.test_labels[:100]) > 0.95


def test_drawing_with_the_mouse_shows_a_prediction(page, tmp_path):
    page.click("#clear")
    box = page.locator("#pad").bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + 0.5 * w, y + 0.15 * h)
    page.mouse.down()
    for step in range(1, 21):  # a vertical stroke: a "1"
        page.mouse.move(x + 0.5 * w, y + (0.15 + 0.7 * step / 20) * h)
    page.mouse.up()
    page.wait_for_function("document.getElementById('digit').textContent !== '–'", timeout=30_000)
    assert page.text_content("#digit") in [str(d) for d in range(10)]
    assert page.locator(".bar").count() == 10
    assert "ms" in page.text_content("#timing")
    page.screenshot(path=str(tmp_path / "page.png"))
    assert (tmp_path / "page.png").stat().st_size > 10_000
