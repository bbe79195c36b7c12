"""The documents' figures come from the committed files that hold them, and the documents describe the software.

Each headline number of README.md, benchmarks/README.md and reports/README.md is
rebuilt here from the JSON it comes from (reports/reproduction.json, the
committee's model card, benchmarks/results/, reports/deep_cnn_selection/),
formatted as the document prints it, and looked for in the document: a number
edited by hand, or a result file changed without its document, fails. Standard
deviations are the sample ones (n - 1), as the documents say.
"""
from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SELECTION = ROOT / "reports" / "deep_cnn_selection"
DESCRIPTIVE = ["benchmarks/README.md", "reports/README.md"]
# Words of a lab notebook rather than of a description (shared/hooks/before-stop greps the first six).
HISTORY = re.compile(r"this session|sessions|issue #[0-9]|the lent|first version|goal: (met|missed)|went from"
                     r"|\bnow\b|the issue's|as quoted", re.IGNORECASE)


def text(document: str) -> str:
    return (ROOT / document).read_text()


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def result(stem: str) -> dict:
    """The one committed results file whose name starts with `stem` + '_' (names end in _<machine>_<date>)."""
    matches = [p for p in RESULTS.glob(f"{stem}_*.json") if re.fullmatch(rf"{re.escape(stem)}_[a-z0-9.-]+cores_"
                                                                          r"\d{4}-\d\d-\d\d(-\d+)?\.json", p.name)]
    assert len(matches) == 1, (stem, matches)
    return load(matches[0])


def spread(values, digits: int = 2, unit: str = "") -> str:
    """'mean ± sample std' as the documents print it."""
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.{digits}f}{unit} ± {values.std(ddof=1):.{digits}f}{unit}"


def table_row(document: str, start: str) -> str:
    rows = [line for line in text(document).splitlines() if line.startswith(start)]
    assert len(rows) == 1, f"{document}: {len(rows)} rows start with {start!r}"
    return rows[0]


# README.md's table: the row, the reproduction row (arch, stage) and its decimals.
REPRODUCTION_ROWS = [("| `bpnn` |", "bpnn", "train", 2), ("| `lenet` |", "lenet", "train", 2),
                     ("| `ae_classifier`, frozen code |", "ae_classifier", "frozen", 2),
                     ("| `ae_classifier`, fine-tuned |", "ae_classifier", "fine_tuned", 2),
                     ("| `autoencoder`, test BCE |", "autoencoder", "train", 4),
                     ("| `conv_autoencoder`, test BCE |", "conv_autoencoder", "train", 4)]


@pytest.mark.parametrize("start, arch, stage, digits", REPRODUCTION_ROWS, ids=[r[0] for r in REPRODUCTION_ROWS])
def test_the_readme_reproduction_table_is_reproduction_json(start, arch, stage, digits):
    rows = [r for r in load(ROOT / "reports" / "reproduction.json")["rows"] if (r["arch"], r["stage"]) == (arch, stage)]
    assert len(rows) == 1
    row = rows[0]
    values = np.asarray(row["values"])
    assert row["std"] == pytest.approx(values.std(ddof=1)) and row["mean"] == pytest.approx(values.mean())
    f = f"{{:.{digits}f}}".format
    expected = f"**{f(row['mean'])}** ± {f(row['std'])} ({f(row['min'])} – {f(row['max'])}) | {row['runs']} |"
    assert expected in table_row("README.md", start)
    label = re.escape(row["label"])
    line = next(line for line in text("reports/reproduction.md").splitlines() if re.match(rf"\| {label} \|", line))
    assert f"| {f(row['mean'])} ± {f(row['std'])} | {f(row['min'])} | {f(row['max'])} |" in line


def committee_card(version: str = "1") -> dict:
    return load(ROOT / "saved_models" / "committee" / version / "model_card.json")


def test_the_committee_figures_are_its_model_card():
    card = committee_card()
    accuracy = card["test_metrics"]["keras"]["accuracy"]
    errors = round((1 - accuracy) * card["data"]["test_examples"])
    assert f"**{100 * accuracy:.2f}** ({errors} errors)" in table_row("README.md", "| its committee (5 seeds) |")
    assert f"{100 * accuracy:.2f}" == "99.71"
    assert f"| {100 * accuracy:.2f} % | {errors} |" in table_row("reports/README.md", "| committee/1: the 5, 1 view |")
    members = card["model"]["member_runs"]
    assert [m["seed"] for m in members] == [0, 1, 2, 3, 4]
    percent = [100 * m["test_accuracy"] for m in members]
    spread_text = f"{spread(percent)} ({min(percent):.2f} – {max(percent):.2f})"
    readme = table_row("README.md", "| `deep_cnn` (beyond the paper) |")
    assert f"**{spread_text.replace(' ±', '** ±')} | {len(members)} |" in readme
    assert " / ".join(f"{p:.2f}" for p in percent) in table_row("reports/README.md", "| members, seeds 0 / 1 / 2 / 3 / 4 |")
    assert f"**{spread(percent)} %** ({min(percent):.2f} – {max(percent):.2f})" in text("reports/README.md")
    assert "saw the test set" in card["selection"]["views"]


def test_the_reference_committee_figures_are_its_model_card():
    """committee/5: committee/4's eight members, recovered from it, and a fourth one trained with --augment styles."""
    card, before = committee_card("5"), committee_card("4")
    accuracy = card["test_metrics"]["keras"]["accuracy"]
    errors = round((1 - accuracy) * card["data"]["test_examples"])
    assert f"{100 * accuracy:.2f} % ({errors} errors" in text("README.md")
    assert f"| **{100 * accuracy:.2f} %** | **{errors}** |" in table_row("reports/README.md", "| committee/5: the 9, 1 view |")
    members = card["model"]["member_runs"]
    assert [(m["seed"], m["test_accuracy"]) for m in members[:8]] == [
        (m["seed"], m["test_accuracy"]) for m in before["model"]["member_runs"]]
    assert [m["augment"] for m in members] == ["affine"] * 5 + ["styles"] * 4 and [m["seed"] for m in members[5:]] == [5, 6, 7, 8]
    assert [m.get("published_in") for m in members] == ["saved_models/committee/1"] * 5 + [
        "saved_models/committee/2", "saved_models/committee/3", "saved_models/committee/4", None]
    for member in members[5:]:
        assert f"| {100 * member['test_accuracy']:.2f} % |" in table_row("reports/README.md", f"| member seed {member['seed']},")
    assert "64 errors against 75" in card["selection"]["rule"]


def test_the_committee_members_in_the_report_are_the_model_cards():
    views5 = load(SELECTION / "committee-views5" / "metrics.json")
    assert [(m["seed"], m["test"]["accuracy"]) for m in views5["members"]] == [
        (m["seed"], m["test_accuracy"]) for m in committee_card()["model"]["member_runs"]]
    assert views5["committee"]["errors"] == 29 and views5["views"] == 5


def test_the_fast_race_figures_are_its_results_file():
    race = result("time_to_accuracy_fast")
    digitnet = [s["digitnet"] for s in race["seeds"]]
    pytorch = [s["pytorch"] for s in race["seeds"]]
    accuracy = [100 * s["test_accuracy"] for s in digitnet]
    accuracy_text = f"{spread(accuracy)} ({min(accuracy):.2f} – {max(accuracy):.2f})"
    ratio = np.mean(race["ratios"]["training"])
    # README: the accuracy row and the ratio, with its machine and measure.
    assert f"**{accuracy_text.replace(' ±', '** ±')} | {len(accuracy)} |" in table_row("README.md", "| `fast` (one epoch")
    assert (f"`fast` takes {ratio:.2f}x the training time of the fastest published PyTorch recipe side by side on "
            f"2 Xeon cores ({np.mean(race['ratios']['process']):.2f}x the process)") in " ".join(text("README.md").split())
    row = table_row("benchmarks/README.md", "| `fast`, 5 seeds |")
    for expected in (f"{spread([s['training_seconds'] for s in digitnet])} s training",
                     f"{spread([s['process_seconds'] for s in digitnet])} s process", f"**{accuracy_text.replace('(', '%** (', 1)}",
                     f"{spread([s['training_seconds'] for s in pytorch])} s, {spread([s['process_seconds'] for s in pytorch])} s, "
                     f"{spread([100 * s['test_accuracy'] for s in pytorch])} %",
                     f"**{spread(race['ratios']['training'])}** training", f"{spread(race['ratios']['process'])} process"):
        assert expected in row, expected
    assert f"{spread(accuracy)} %" in text("reports/README.md")


@pytest.mark.parametrize("stem, start", [("time_to_accuracy_lenet", "| `lenet`, 3 seeds |"),
                                         ("time_to_accuracy_lenet_fresh-venv", "| `lenet`, 5 seeds, digitnet in a fresh")])
def test_the_lenet_race_figures_are_their_results_files(stem, start):
    race = result(stem)
    row = table_row("benchmarks/README.md", start)
    for side in ("digitnet", "pytorch"):
        runs = [s[side] for s in race["seeds"]]
        expected = (f"{spread([r['training_seconds'] for r in runs])} s, {spread([r['process_seconds'] for r in runs])} s, "
                    f"{np.mean([100 * r['test_accuracy'] for r in runs]):.2f} %")
        assert expected in row.replace(" s training, ", " s, ").replace(" s process, ", " s, "), (side, expected)
    assert f"{spread(race['ratios']['training'])} training, **{spread(race['ratios']['process'])}** process" in row
    assert len(race["seeds"]) == int(re.search(r"(\d) seeds", start).group(1))


def test_the_gpu_figures_are_their_results_files():
    fast = result("gpu_jax_fast")["runs"]
    later = [r["training_seconds"] for r in fast[1:]]
    accuracy = [100 * r["test_accuracy"] for r in fast]
    lines = [json.loads(line) for line in next(RESULTS.glob("gpu_pytorch_*.jsonl")).read_text().splitlines()]
    pytorch = [r["pytorch"]["training_seconds"] for r in lines if r["race"] == "fast"]
    readme = " ".join(text("README.md").split())
    assert (f"on an H200 (Keras on JAX) {np.mean(later):.1f} s of training to {np.mean(accuracy):.2f} % "
            f"({fast[0]['training_seconds']:.2f} s in a fresh process), PyTorch {np.mean(pytorch):.2f} s") in readme
    row = table_row("benchmarks/README.md", "| `fast`, Keras on JAX, 5 seeds |")
    assert (f"{fast[0]['training_seconds']:.2f}; **{np.mean(later):.2f}** ({min(later):.2f} – {max(later):.2f}) | "
            f"**{spread(accuracy)}** ({min(accuracy):.2f})") in row
    assert f"**{spread(pytorch)}** ({min(pytorch):.2f} – {max(pytorch):.2f})" in table_row(
        "benchmarks/README.md", "| PyTorch recipe, 5 fresh processes |")


def test_the_cpu_training_figures_are_their_results_files():
    lenet = result("training_bpnn-lenet_spe10_jit-auto")["models"]
    row = table_row("benchmarks/README.md", "| LeNet, defaults")
    assert f"**{lenet['lenet']['seconds_per_epoch']:.2f} s/epoch**, {lenet['lenet']['images_per_second']:,.0f} images/s" in row
    assert f"**{lenet['bpnn']['seconds_per_epoch']:.2f} s/epoch**" in table_row("benchmarks/README.md", "| BPNN, defaults |")
    torch = result("pytorch_lenet")
    assert f"{torch['seconds_per_epoch']:.2f} s/epoch" in table_row("benchmarks/README.md", "| the same LeNet in PyTorch")


def test_the_predict_figures_are_their_results_file():
    latency = result("predict_latency")
    for start, name in (("| the default: int8 TFLite", "default (TFLite)"), ("| the committee's SavedModel", "SavedModel")):
        command, image = latency["per_command"][name], latency["per_image"][name]
        assert (f"{command['mean']:.2f} ± {command['std']:.2f} s" in table_row("benchmarks/README.md", start)
                and f"| {image['ms_per_file']:.1f} / {image['ms_per_image_model_alone']:.2f} ms | "
                    f"{100 * image['accuracy']:.1f} % |" in table_row("benchmarks/README.md", start))
        assert command["std"] == pytest.approx(np.std(command["runs"], ddof=1))


def test_the_web_demo_figure_is_its_results_file():
    committee = result("web_inference")["models"]["committee_int8"]
    assert (f"int8 committee ({committee['bytes'] / 1e6:.1f} MB, {committee['median_ms']:.1f} ms in Chromium on 2 "
            "EPYC cores)") in text("README.md")


def validation_records() -> list[Path]:
    return sorted(SELECTION.glob("validation_*.json"))


def runs_named(script: Path) -> set[str]:
    """The validation runs a script names (quoted names of folders under runs/select/)."""
    return set(re.findall(r'"((?:affine|styles|elastic|width|portable|lenet)[-\w]*)"', script.read_text()))


def test_every_validation_script_has_its_committed_counts():
    """A script without its counts is one whose runs are still training: one of them is not kept here
    yet (selection_runs.py keep writes its history.csv beside its probabilities)."""
    scripts = sorted(SELECTION.glob("validation_*.py"))
    recorded = {p.stem for p in validation_records()}
    assert scripts and recorded <= {p.stem for p in scripts}
    for script in scripts:
        if script.stem not in recorded:
            pending = [name for name in runs_named(script) if not (SELECTION / name / "history.csv").exists()]
            assert pending, f"{script.name}: every run it names is kept, but its counts are not committed"


@pytest.mark.parametrize("record", validation_records(), ids=lambda p: p.name)
def test_each_runs_validation_count_is_its_history(record):
    """A run's count alone is its committed history.csv's last validation accuracy times 6,000."""
    errors = load(record)["errors"]
    checked = 0
    for key, count in errors.items():
        name = key.removeprefix("views 1: ")
        if (SELECTION / name / "history.csv").exists():
            rows = (SELECTION / name / "history.csv").read_text().strip().splitlines()
            accuracy = float(rows[-1].split(",")[rows[0].split(",").index("val_accuracy")])
            assert count == round((1 - accuracy) * 6000), (key, count)
            checked += 1
    assert checked >= 2


def test_the_reports_selection_table_is_the_committed_counts():
    counts = {p.stem: load(p)["errors"] for p in validation_records()}
    report = text("reports/README.md")
    views = counts["validation_views"]
    assert (f"favoured five\nviews: {views['views 5: affine-20 + affine-20-s102']} validation errors for the pair of "
            f"validation runs against {views['views 1: affine-20 + affine-20-s102']} with") in report
    widths = counts["validation_widths"]
    row = table_row("reports/README.md", "| digits 12 / 18 pixels wide")
    assert (f"| {widths['width-12']} / {widths['width-18']} | {widths['affine-20 + affine-20-s102 + width-12']} / "
            f"{widths['affine-20 + affine-20-s102 + width-18']}; "
            f"{widths['affine-20 + affine-20-s102 + width-12 + width-18']} all four") in row
    longer = counts["validation_longer"]
    assert (f"| {longer['affine-40']} | {longer['affine-20 + affine-40']} / {longer['affine-20-s102 + affine-40']} with each; "
            f"{longer['affine-20 + affine-20-s102 + affine-40']} all three") in table_row("reports/README.md", "| 40 epochs affine")
    portable = counts["validation_portable"]
    assert (f"| {portable['portable-s100']} / {portable['portable-s101']} | "
            f"{portable['affine-20 + affine-20-s102 + portable-s100 + portable-s101']} all four") in table_row(
        "reports/README.md", "| `digitnet.portable`")


@pytest.mark.parametrize("document", DESCRIPTIVE)
def test_the_descriptive_documents_are_short_and_describe_the_present(document):
    content = text(document)
    assert len(content.encode()) < 12_000, f"{document}: {len(content.encode())} bytes"
    assert not HISTORY.findall(content), HISTORY.findall(content)


@pytest.mark.parametrize("document", ["README.md", *DESCRIPTIVE, "export/README.md"])
def test_every_results_file_a_document_links_exists(document):
    for link in re.findall(r"\((?:\.\./)?(?:benchmarks/)?(results/[^)#\s]+)\)", text(document)):
        assert (ROOT / "benchmarks" / link).is_file(), f"{document} links {link}"


def test_every_results_file_is_cited_by_a_document():
    """benchmarks/results keeps what the documents cite, by name or by a pattern such as *_epyc-2cores_2026-11-26.json
    (the READMEs, and the reports that hold a subject's full tables, such as reports/not_a_digit.md)."""
    reports = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "reports").glob("*.md"))
    documents = " ".join(text(d) for d in ["README.md", *DESCRIPTIVE, "export/README.md", *reports])
    cited = set(re.findall(r"[\w.*-]+_[a-z0-9.-]+cores_\d{4}-\d\d-\d\d[\w.*-]*", documents))
    for path in map(Path, tracked("benchmarks/results")):
        assert any(fnmatch.fnmatch(path.name, c) or fnmatch.fnmatch(path.name, c + ".*") for c in cited), path.name
        assert re.search(r"_[a-z0-9.-]+cores_\d{4}-\d\d-\d\d(-\d+)?\.(json|jsonl|log)$", path.name), path.name


def tracked(*folders: str) -> list[str]:
    """The committed files under `folders` (a results file being written is not yet the documents' concern)."""
    return subprocess.run(["git", "ls-files", *folders], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.split()


def test_committed_artifacts_hold_no_machine_paths_or_unrelated_variables():
    texts = [f for f in tracked("benchmarks/results", "reports", "saved_models")
             if f.endswith((".json", ".jsonl", ".md", ".csv", ".log"))]
    assert len(texts) > 50
    for name in texts:
        content = (ROOT / name).read_text(errors="replace")
        assert not re.search(r"(?<![\w.])/(work|root|home|tmp)/|TF_CLI_CONFIG_FILE", content), name


def test_the_embedded_data_is_recorded_as_embedded():
    """Run folders and model cards record the data source; the embedded MNIST is "embedded", not a folder."""
    from digitnet.data.sources import load_digits

    assert load_digits().source == "embedded"
