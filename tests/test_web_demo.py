"""The web demo in a real browser: Debian's Chromium driven by Playwright.

It builds export/web (npm), serves it on 127.0.0.1, and checks that the page's
own preprocessing and LiteRT.js inference agree with Python's, for every model
the page offers: the committee (int8) first when saved_models/tflite/committee
holds one, then LeNet (int8, float32); and that it reads written numbers as
digitnet.serving.reading does (the same boxes, 28x28 inputs and answers, the cuts of touching
digits weighed by the same piece judge), and says "not a digit" where
digitnet.serving.judged_reading does (the judge, on by default in the page).
"""
import base64
import contextlib
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

from digitnet.serving import reading as reading_module
from digitnet.serving import segment
from digitnet.serving.judge import load_judge
from digitnet.serving.judged_reading import judged
from digitnet.serving.preprocess import ink_image, prepare_file
from digitnet.serving.reading import grey_of, read
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
    with _served(WEB / "dist") as address:
        yield address


@contextlib.contextmanager
def _served(directory: Path):
    """The address of `directory` served on 127.0.0.1 while the block runs."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
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


def _number_pngs(mnist, folder, count, seed):
    """Photographed numbers of 2-6 MNIST test digits (number_synth: touching to wide gaps, hard cases)."""
    from digitnet.data.number_synth import number_set

    lengths = np.random.default_rng(seed).integers(2, 7, count)
    paths = []
    for index, (photo, _, _) in enumerate(number_set(mnist.test_images, mnist.test_labels, lengths, seed)):
        path = folder / f"number{index:03d}.png"
        photo.save(path)
        paths.append(path)
    return paths


def _touching_pngs(mnist, folder, count, monkeypatch):
    """Clean photos of 3 MNIST test digits whose ink overlaps by 1-3 pixels: cuts to weigh."""
    from digitnet.data import number_synth

    monkeypatch.setattr(number_synth, "GAP", (-3.0, -1.0))
    paths = []
    for k in range(count):
        digits = mnist.test_images[np.random.default_rng(100 + k).integers(0, 10_000, 3)]
        photo, _ = number_synth.make_number(digits, (), np.random.default_rng(k), noise=False)
        paths.append(folder / f"touching{k:03d}.png")
        photo.save(paths[-1])
    return paths


def _check_numbers_against_python(page, paths, model) -> tuple[int, int]:
    """The page finds the digits Python finds: the same boxes, the same 28x28 inputs (within one
    grey level), the same answers (and probabilities) as digitnet.serving.reading.read with LiteRT
    (and its piece judge). Returns how many readings hold several digits, and how many the piece
    judge changes in Python (their boxes without it differ)."""
    page.evaluate("(model) => window.digitnet.loadModel(model)", model)
    encoded = [base64.b64encode(p.read_bytes()).decode() for p in paths]
    pages = page.evaluate("(pngs) => window.digitnet.readPngs(pngs)", encoded)
    predictor = TFLitePredictor(WEB / "dist" / "models" / f"{model}.tflite")
    several = changed = 0
    for path, found in zip(paths, pages):
        reading = read(path, predictor)
        assert [d["box"] for d in found] == [list(d.box) for d in reading.digits], path.name
        js_pixels = np.array([d["pixels"] for d in found]).reshape(-1, 28, 28)
        python_pixels = np.stack([d.image for d in reading.digits])
        assert np.abs(js_pixels.astype(int) - python_pixels.astype(int)).max() <= 1, path.name
        assert "".join(str(d["digit"]) for d in found) == reading.number, path.name
        np.testing.assert_allclose([d["probabilities"] for d in found],
                                   [d.probabilities for d in reading.digits], atol=1e-6)
        several += len(reading.digits) > 1
        unjudged = segment.find_digits(ink_image(grey_of(path), path.name), path.name, predictor)
        changed += [list(d.box) for d in unjudged] != [list(d.box) for d in reading.digits]
    return several, changed


def test_page_reads_numbers_like_python(site, page, mnist, tmp_path):
    paths = _number_pngs(mnist, tmp_path, 12, seed=70)
    several, _ = _check_numbers_against_python(page, paths, _offered(site)[0])
    assert several >= 0.8 * len(paths)  # numbers, not the single-digit path


@pytest.mark.skipif(not segment.PIECE_JUDGE_FILE.is_file(), reason="no digitnet/serving/piece_judge.npz")
def test_page_weighs_the_cuts_of_touching_digits_with_the_piece_judge(site, page, mnist, tmp_path, monkeypatch):
    assert (WEB / "dist" / "models" / "piece_judge.json").is_file()
    _, changed = _check_numbers_against_python(page, _touching_pngs(mnist, tmp_path, 12, monkeypatch),
                                               _offered(site)[0])
    # The piece judge decides some of these cuts, so a page that ignored it would fail above.
    assert changed >= 1, "the piece judge changes none of these readings in Python: the test checks nothing"


@pytest.mark.slow
@pytest.mark.parametrize("model", MODEL_IDS)
def test_page_reads_many_numbers_like_python(site, page, mnist, tmp_path, model):
    if model not in _offered(site):
        pytest.skip(f"no {model} exported under {SAVED_MODELS} (the page does not offer it)")
    paths = _number_pngs(mnist, tmp_path, 40, seed=71)
    several, _ = _check_numbers_against_python(page, paths, model)
    assert several >= 0.8 * len(paths)  # numbers, not the single-digit path


def _build(saved_models: Path, dist: Path, piece_judge: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DIGITNET_SAVED_MODELS": str(saved_models), "DIGITNET_WEB_DIST": str(dist)}
    if piece_judge is not None:
        env["DIGITNET_PIECE_JUDGE"] = str(piece_judge)
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


def test_the_build_gives_no_judge_without_one_and_refuses_a_broken_one(site, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(SAVED_MODELS / "tflite" / "lenet" / "1", models / "tflite" / "lenet" / "1")
    built = _build(models, tmp_path / "dist")
    assert built.returncode == 0, built.stderr
    manifest = json.loads((tmp_path / "dist" / "models" / "models.json").read_text())
    assert [m["judge"] for m in manifest] == [None, None]  # the page's box is off and disabled then
    assert not (tmp_path / "dist" / "models" / "judge.json").exists()
    judge = models / "not_a_digit" / "4"
    judge.mkdir(parents=True)
    (judge / "judge.json").write_text(json.dumps({"detector": {"file": "detector.npz", "threshold": 0.9}}))
    (judge / "detector.npz").write_bytes(b"not a zip file")
    refused = _build(models, tmp_path / "dist")
    assert refused.returncode != 0
    assert refused.stderr.strip() == (f"build.mjs: {judge / 'judge.json'}: not a readable judge (not a zip file)")


@pytest.mark.skipif(not segment.PIECE_JUDGE_FILE.is_file(), reason="no digitnet/serving/piece_judge.npz")
def test_the_build_exports_the_piece_judge_and_refuses_a_broken_one(site, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(SAVED_MODELS / "tflite" / "lenet" / "1", models / "tflite" / "lenet" / "1")
    assert _build(models, tmp_path / "dist").returncode == 0  # the package's piece_judge.npz
    spec = json.loads((tmp_path / "dist" / "models" / "piece_judge.json").read_text())
    with np.load(segment.PIECE_JUDGE_FILE) as stored:
        assert [(t["name"], tuple(t["shape"])) for t in spec["tensors"]] == [(k, stored[k].shape) for k in stored.files]
        weights = np.fromfile(tmp_path / "dist" / "models" / spec["file"], dtype="<f4")
        for tensor in spec["tensors"]:
            np.testing.assert_array_equal(weights[tensor["offset"]:tensor["offset"] + tensor["length"]],
                                          stored[tensor["name"]].astype(np.float32).ravel())
    broken = tmp_path / "piece_judge.npz"
    broken.write_bytes(b"not a zip file")
    refused = _build(models, tmp_path / "dist", broken)
    assert refused.returncode != 0
    assert refused.stderr.strip() == f"build.mjs: {broken}: not a readable piece judge (not a zip file)"


def test_without_a_piece_judge_the_build_writes_none_and_the_page_reads_as_python_without_one(
        site, page, mnist, tmp_path, monkeypatch):
    """A build without digitnet/serving/piece_judge.npz: the page weighs the cuts as Python does
    without one (segment.load_piece_judge gives None)."""
    dist = tmp_path / "dist"
    built = _build(SAVED_MODELS, dist, tmp_path / "missing.npz")
    assert built.returncode == 0, built.stderr
    assert not (dist / "models" / "piece_judge.json").exists() and not (dist / "models" / "piece_judge.bin").exists()
    monkeypatch.setattr(reading_module, "piece_judge", lambda: None)  # Python's reading without the file
    context = page.context.browser.new_context(viewport={"width": 400, "height": 820})
    try:
        with _served(dist) as address:
            bare = context.new_page()
            bare.goto(address)
            bare.wait_for_function("window.digitnet !== undefined", timeout=60_000)
            assert bare.evaluate("window.digitnet.ready"), bare.evaluate("window.digitnet.error")
            paths = _touching_pngs(mnist, tmp_path, 12, monkeypatch)
            _check_numbers_against_python(bare, paths, _offered(site)[0])
    finally:
        context.close()
    # a page that kept a judge would differ: with the committed one, Python reads some of these otherwise
    predictor = TFLitePredictor(WEB / "dist" / "models" / f"{_offered(site)[0]}.tflite")
    judge = segment.load_piece_judge()
    boxes = lambda path, one_digit: [d.box for d in segment.find_digits(  # noqa: E731
        ink_image(grey_of(path), path.name), path.name, predictor, one_digit)]
    assert any(boxes(path, judge) != boxes(path, None) for path in paths)


def _stroke(page, points):
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point)
    page.mouse.up()


def _judge(model):
    """Python's judge for one of the page's model files (the build copies them byte for byte)."""
    return load_judge(WEB / "dist" / "models" / f"{model}.tflite")


def _pad_reading(page, tmp_path):
    """Python's judged reading of what is on the pad, with the page's model file."""
    model = page.input_value("#model")
    pad = page.evaluate("document.getElementById('pad').toDataURL('image/png')")
    (tmp_path / "pad.png").write_bytes(base64.b64decode(pad.split(",", 1)[1]))
    reading = read(tmp_path / "pad.png", TFLitePredictor(WEB / "dist" / "models" / f"{model}.tflite"))
    return judged(reading, _judge(model))


def test_writing_a_number_with_the_mouse_shows_every_digit_with_its_bars(page, tmp_path):
    assert page.is_checked("#judge")  # "not a digit" is on by default
    page.click("#clear")
    assert page.text_content("#digit") == "–" and page.locator(".reading").count() == 0
    box = page.locator("#pad").bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    assert w >= 2.5 * h  # wide enough for a number
    _stroke(page, [(x + 0.25 * w, y + (0.15 + 0.7 * step / 20) * h) for step in range(21)])  # a "1"
    angles = np.linspace(0, 2 * np.pi, 41)  # then a "0" beside it
    _stroke(page, [(x + (0.55 + 0.08 * np.sin(a)) * w, y + (0.5 - 0.35 * np.cos(a)) * h) for a in angles])
    page.wait_for_function("document.querySelectorAll('.reading').length === 2", timeout=30_000)
    assert page.text_content("#digit") == "10"
    columns = page.eval_on_selector_all(".reading", """columns => columns.map(column => ({
        digit: column.querySelector("h2").textContent,
        bars: [...column.querySelectorAll(".bar")].map(row => ({
            digit: row.querySelector("span").textContent,
            width: row.querySelector("i").style.width,
            label: row.querySelector("b").textContent}))}))""")
    # The bars are the model's answer for what is on the pad, calibrated by the judge: Python reads
    # the pad's pixels with the same .tflite and judges them with the same temperature.
    model = page.input_value("#model")
    result = _pad_reading(page, tmp_path)
    assert result.number == "10" and [c["digit"] for c in columns] == ["1", "0"]
    for column, digit in zip(columns, result.verdicts):
        assert [bar["digit"] for bar in column["bars"]] == [str(d) for d in range(10)]
        shown_percent = np.array([float(bar["label"].removesuffix("%")) for bar in column["bars"]])
        np.testing.assert_array_equal([float(bar["width"].removesuffix("%")) for bar in column["bars"]],
                                      shown_percent)
        # calibrated probabilities, each rounded to 0.1 % for display
        assert abs(shown_percent.sum() - 100) <= 1.5, shown_percent
        np.testing.assert_allclose(shown_percent / 100, digit.probabilities, atol=0.001)
    assert re.fullmatch(rf"\d+\.\d\d ms \({model}, wasm\)", page.text_content("#timing"))
    # Phone-sized: nothing wider than the 400 px viewport, the pad and every digit's bars laid out in it.
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    for selector in ("#pad", ".reading >> nth=1", ".reading >> nth=1 >> .bar >> nth=9"):
        laid_out = page.locator(selector).bounding_box()
        assert laid_out["width"] > 0 and laid_out["x"] >= 0 and laid_out["x"] + laid_out["width"] <= 400


def _non_digit_pngs(mnist, folder):
    """Four generated non-digits of each kind (digitnet.data.negatives, crossed-out and overlaid
    ones from test digits) and six MNIST test digits, dark on light and enlarged on a page."""
    from digitnet.data.negatives import KINDS, generate

    negatives = generate(4 * len(KINDS), seed=310, digits=mnist.test_images[:500], labels=mnist.test_labels[:500])
    paths = []
    for index, image in enumerate(np.concatenate([negatives.images, mnist.test_images[200:206]])):
        picture = Image.fromarray(255 - image).resize((84, 84), Image.Resampling.BILINEAR)
        sheet = Image.new("L", (140, 120), 255)
        sheet.paste(picture, (10 + index % 30, 8 + index % 20))
        paths.append(folder / f"ink{index:03d}.png")
        sheet.save(paths[-1])
    return paths


def test_page_says_not_a_digit_where_python_does(site, page, mnist, tmp_path):
    """The page's judge (judge.js on the build's detector.bin and models.json's settings) gives
    judge.py's verdicts: on its own inputs to float32 precision, and the same decisions as
    predict --not-a-digit's judged reading of the same files."""
    model = _offered(site)[0]
    page.evaluate("(model) => window.digitnet.loadModel(model)", model)
    paths = _non_digit_pngs(mnist, tmp_path)
    pages = page.evaluate("(pngs) => window.digitnet.readPngs(pngs)",
                          [base64.b64encode(p.read_bytes()).decode() for p in paths])
    judge = _judge(model)
    predictor = TFLitePredictor(WEB / "dist" / "models" / f"{model}.tflite")
    refused = []
    for path, found in zip(paths, pages):
        pixels = np.array([d["pixels"] for d in found], dtype=np.uint8).reshape(-1, 28, 28)
        expected = judge.judge(pixels, np.array([d["probabilities"] for d in found], dtype=np.float64))
        verdicts = [d["verdict"] for d in found]
        np.testing.assert_allclose([v["notADigit"] for v in verdicts], [e.not_a_digit for e in expected], atol=1e-6)
        np.testing.assert_allclose([v["probabilities"] for v in verdicts], [e.probabilities for e in expected],
                                   atol=1e-9)
        python = judged(read(path, predictor), judge)
        assert [v["digit"] for v in verdicts] == [v.digit for v in python.verdicts], path.name
        refused.append(python.not_a_digit)
    assert np.mean(refused[:-6]) >= 0.8 and not any(refused[-6:]), refused  # non-digits, then digits


def test_drawing_a_non_digit_says_so_and_the_box_turns_the_judge_off(page, tmp_path):
    page.click("#clear")
    box = page.locator("#pad").bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    for a, b in (((0.42, 0.15), (0.40, 0.85)), ((0.52, 0.15), (0.50, 0.85)),  # a "#"
                 ((0.34, 0.38), (0.60, 0.38)), ((0.32, 0.62), (0.58, 0.62))):
        _stroke(page, [(x + (a[0] + (b[0] - a[0]) * t / 10) * w, y + (a[1] + (b[1] - a[1]) * t / 10) * h)
                       for t in range(11)])
    page.wait_for_function("document.getElementById('digit').textContent === 'not a digit'", timeout=30_000)
    python = _pad_reading(page, tmp_path)  # the line reader may count the "#" as two places: each is refused
    assert python.not_a_digit
    assert page.eval_on_selector_all(".reading h2", "hs => hs.map(h => [h.textContent, h.title])") == [
        ["not a digit", verdict.reason] for verdict in python.verdicts]
    page.uncheck("#judge")  # without the judge, the model's digit and its served probabilities
    try:
        page.wait_for_function("/^[0-9]+$/.test(document.getElementById('digit').textContent)", timeout=30_000)
        reading = _pad_reading(page, tmp_path).reading
        assert page.text_content("#digit") == reading.number
        shown = page.eval_on_selector_all(".reading >> nth=0 >> .bar b", "bs => bs.map(b => b.textContent)")
        np.testing.assert_allclose([float(p.removesuffix("%")) / 100 for p in shown], reading.digits[0].probabilities,
                                   atol=0.001)
    finally:
        page.check("#judge")
