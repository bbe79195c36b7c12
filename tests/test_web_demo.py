"""The web demo in a real browser: Debian's Chromium driven by Playwright.

It builds export/web (npm), serves it on 127.0.0.1, and checks that the page's
own preprocessing and LiteRT.js inference agree with Python's, for every model
the page offers: the committee (int8) first when saved_models/tflite/committee
holds one, then LeNet (int8, float32).
"""
import base64
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitnet.serving.preprocess import prepare_file
from digitnet.serving.runtimes import TFLitePredictor

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "export" / "web"
SAVED_MODELS = Path(os.environ.get("DIGITNET_SAVED_MODELS", ROOT / "saved_models"))
CHROMIUM = "/usr/bin/chromium"
MODEL_IDS = ["committee_int8", "lenet_int8", "lenet_float32"]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module", autouse=True)
def browser_tools():
    """Skips without Debian's chromium or npm, except under CI=true, where that is a failure:
    CI must run these tests, not pass by skipping them."""
    missing = [name for name, present in (("Debian's chromium", Path(CHROMIUM).exists()),
                                          ("npm", shutil.which("npm") is not None)) if not present]
    if missing:
        message = f"needs {' and '.join(missing)} (.ci/run installs both)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"{message}; CI=true, so this is a failure, not a skip", pytrace=False)
        pytest.skip(message)


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


def _photo_pngs(mnist, folder):
    """Photographed digits: 9 of each hard case of photo_synth, then one random mix (100 in all)."""
    from digitnet.data.photo_synth import CASES, photo_set

    photos = []
    for number, case in enumerate(CASES):
        photos += photo_set(mnist.test_images[9 * number:9 * number + 9], (case,), seed=40 + number)
    photos += photo_set(mnist.test_images[9 * len(CASES):100], None, seed=1)
    paths = []
    for index, photo in enumerate(photos):
        path = folder / f"photo{index:03d}.png"
        photo.save(path)
        paths.append(path)
    return paths


def _offered(site) -> list[str]:
    return [model["id"] for model in json.loads((WEB / "dist" / "models" / "models.json").read_text())]


def test_the_page_offers_the_committee_first_when_one_is_exported(site, page):
    committee = any(v.name.isdigit() for v in (SAVED_MODELS / "tflite" / "committee").glob("*"))
    expected = MODEL_IDS if committee else MODEL_IDS[1:]
    assert _offered(site) == expected
    options = page.eval_on_selector_all("#model option", "options => options.map(o => o.value)")
    assert options == expected and page.input_value("#model") == expected[0]


def _check_page_against_python(page, paths, model, labels):
    """The page's 28x28 arrays equal Python's (within one grey level), and its digits LiteRT's in Python."""
    page.evaluate("(model) => window.digitnet.loadModel(model)", model)
    encoded = [base64.b64encode(p.read_bytes()).decode() for p in paths]
    results = page.evaluate("(pngs) => window.digitnet.classifyPngs(pngs)", encoded)
    js_pixels = np.array([r["pixels"] for r in results]).reshape(len(paths), 28, 28)
    python_pixels = np.stack([prepare_file(p) for p in paths])
    assert np.abs(js_pixels.astype(int) - python_pixels.astype(int)).max() <= 1
    predictor = TFLitePredictor(WEB / "dist" / "models" / f"{model}.tflite")
    python_digits = np.argmax(predictor(js_pixels.astype(np.uint8)), axis=1)
    np.testing.assert_array_equal([r["digit"] for r in results], python_digits)
    assert np.mean(python_digits == labels[:len(paths)]) > 0.95


@pytest.mark.parametrize("model", MODEL_IDS)
def test_page_preprocessing_and_inference_match_python(site, page, mnist, tmp_path, model):
    if model not in _offered(site):
        pytest.skip(f"no {model} exported under {SAVED_MODELS} (the page does not offer it)")
    _check_page_against_python(page, _user_pngs(mnist, tmp_path, 100), model, mnist.test_labels)


@pytest.mark.slow
def test_page_reads_photographed_digits_like_python(site, page, mnist, tmp_path):
    paths = _photo_pngs(mnist, tmp_path)
    assert len(paths) == 100
    _check_page_against_python(page, paths, _offered(site)[0], mnist.test_labels)


def _build(saved_models: Path, dist: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DIGITNET_SAVED_MODELS": str(saved_models), "DIGITNET_WEB_DIST": str(dist)}
    return subprocess.run(["node", "build.mjs"], cwd=WEB, env=env, capture_output=True, text=True, timeout=300)


def test_the_build_takes_the_newest_version_and_refuses_a_card_without_quantization(site, tmp_path):
    lenet = SAVED_MODELS / "tflite" / "lenet" / "1"
    for version in ("2", "10"):  # 10 is newer than 2 (numbers, not strings)
        shutil.copytree(lenet, tmp_path / "models" / "tflite" / "lenet" / version)
    card_path = tmp_path / "models" / "tflite" / "lenet" / "10" / "model_card.json"
    card = json.loads(card_path.read_text())
    card["tflite_io"]["int8"]["output"]["scale"] = 0.5
    card_path.write_text(json.dumps(card))
    built = _build(tmp_path / "models", tmp_path / "dist")
    assert built.returncode == 0, built.stderr
    manifest = json.loads((tmp_path / "dist" / "models" / "models.json").read_text())
    assert [m["id"] for m in manifest] == ["lenet_int8", "lenet_float32"]
    assert manifest[0]["io"]["output"]["scale"] == 0.5
    del card["tflite_io"]
    card_path.write_text(json.dumps(card))
    refused = _build(tmp_path / "models", tmp_path / "dist")
    assert refused.returncode != 0
    assert "has no tflite_io.int8 (re-export the model)" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr  # one line, no stack trace


def test_drawing_with_the_mouse_shows_a_prediction(page, tmp_path):
    page.click("#clear")
    assert page.text_content("#digit") == "–"
    box = page.locator("#pad").bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + 0.5 * w, y + 0.15 * h)
    page.mouse.down()
    for step in range(1, 21):  # a vertical stroke: a "1"
        page.mouse.move(x + 0.5 * w, y + (0.15 + 0.7 * step / 20) * h)
    page.mouse.up()
    page.wait_for_function("document.getElementById('digit').textContent !== '–'", timeout=30_000)
    shown = page.text_content("#digit")
    assert shown == "1"
    bars = page.eval_on_selector_all(".bar", """rows => rows.map(row => ({
        digit: row.querySelector("span").textContent,
        width: row.querySelector("i").style.width,
        label: row.querySelector("b").textContent}))""")
    assert [bar["digit"] for bar in bars] == [str(d) for d in range(10)]
    shown_percent = np.array([float(bar["label"].removesuffix("%")) for bar in bars])
    np.testing.assert_array_equal([float(bar["width"].removesuffix("%")) for bar in bars], shown_percent)
    # quantized probabilities (steps of the output's scale), each rounded to 0.1 % for display
    assert abs(shown_percent.sum() - 100) <= 1.5, shown_percent
    assert shown_percent[int(shown)] == shown_percent.max()
    # The bars are the model's answer for what is on the pad: Python prepares the pad's pixels
    # and runs the same .tflite.
    model = page.input_value("#model")
    pad = page.evaluate("document.getElementById('pad').toDataURL('image/png')")
    (tmp_path / "pad.png").write_bytes(base64.b64decode(pad.split(",", 1)[1]))
    predictor = TFLitePredictor(WEB / "dist" / "models" / f"{model}.tflite")
    expected = predictor(prepare_file(tmp_path / "pad.png")[None])[0]
    np.testing.assert_allclose(shown_percent / 100, expected, atol=0.02)
    assert re.fullmatch(rf"\d+\.\d\d ms \({model}, wasm\)", page.text_content("#timing"))
    # Phone-sized: nothing wider than the 400 px viewport, the pad and all ten bars laid out in it.
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    for selector in ("#pad", ".bar >> nth=9"):
        laid_out = page.locator(selector).bounding_box()
        assert laid_out["width"] > 0 and laid_out["x"] >= 0 and laid_out["x"] + laid_out["width"] <= 400
