"""The figures show what they claim: checked on the matplotlib objects, with known inputs."""

import numpy as np
import pytest
from conftest import run_python
from matplotlib.colors import to_hex, to_rgba
from PIL import Image

from digitnet.core import figures
from digitnet.models.registry import REGISTRY, get_spec


@pytest.fixture
def drawn(monkeypatch):
    """Every figure the functions save, kept for inspection (the PNG is still written)."""
    kept = []
    save = figures._save

    def keep(figure, path):
        kept.append(figure)
        return save(figure, path)

    monkeypatch.setattr(figures, "_save", keep)
    return kept


class FixedModel:
    """A stand-in model that answers `outputs`, and remembers what it was asked."""

    def __init__(self, outputs):
        self.outputs, self.asked = outputs, []

    def predict(self, inputs, **kwargs):
        self.asked.append(np.array(inputs))
        return self.outputs(np.asarray(inputs)) if callable(self.outputs) else self.outputs


def _distinct_digits(count, seed=0):
    """Images [count, 28, 28, 1] in [0, 1], each one different."""
    return np.random.default_rng(seed).random((count, 28, 28, 1)).astype(np.float32)


def _subplot_pictures(figure):
    """{(row, column): (picture, caption)} for every subplot that shows an image."""
    def cell(axis):
        spec = axis.get_subplotspec()
        return spec.rowspan.start, spec.colspan.start

    return {cell(axis): (np.asarray(axis.images[0].get_array()), axis.get_title() + axis.get_title(loc="left"))
            for axis in figure.axes if axis.images}


def _shown_pictures(figure):
    """{(row, column): (picture, caption)} for every cell of the digit grid that shows a caption."""
    (axis,) = figure.axes
    picture = np.asarray(axis.images[0].get_array())
    height, width = figures.GRID_CELL
    shown = {}
    for text in axis.texts:
        x, y = text.get_position()
        row, column = int(y // height), int(x // width)
        top, left = row * height + figures.GRID_CAPTION, column * width + figures.GRID_MARGIN
        shown[(row, column)] = (picture[top:top + 28, left:left + 28], text.get_text())
    return shown


def _assert_png(path, figure):
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 100 and image.size[1] > 100


def test_confusion_matrix_counts_every_pair(drawn, tmp_path):
    labels = np.array([0, 0, 1, 2, 2, 2, 9, 9, 9, 9])
    predictions = np.array([0, 1, 1, 2, 2, 3, 9, 9, 4, 9])
    path = figures.plot_confusion_matrix(labels, predictions, tmp_path / "cm.png", "toy")
    (figure,) = drawn
    _assert_png(path, figure)
    (axis,) = figure.axes
    written = {(int(round(text.get_position()[1])), int(round(text.get_position()[0]))): int(text.get_text())
               for text in axis.texts}  # (true, predicted) -> count, as printed in the cells
    assert written == {(0, 0): 1, (0, 1): 1, (1, 1): 1, (2, 2): 2, (2, 3): 1, (9, 9): 3, (9, 4): 1}
    for text in axis.texts:
        true_class, predicted = (int(round(v)) for v in text.get_position()[::-1])
        assert to_rgba(text.get_color()) == to_rgba("tab:blue" if true_class == predicted else "black")
    shown = np.asarray(axis.images[0].get_array())  # coloured: the errors only, the diagonal blanked
    expected = np.zeros((10, 10), int)
    expected[0, 1] = expected[2, 3] = expected[9, 4] = 1
    np.testing.assert_array_equal(shown, expected)
    assert axis.get_title() == "toy\n7 / 10 correct"
    assert (axis.get_xlabel(), axis.get_ylabel()) == ("predicted", "true")


def test_classification_figures_show_exactly_the_misclassified_digits(drawn, tmp_path):
    inputs = _distinct_digits(30)
    labels = np.arange(30) % 10
    predictions = labels.copy()
    wrong = [3, 7, 8, 21, 29]
    predictions[wrong] = (labels[wrong] + np.array([1, 2, 5, 9, 3])) % 10
    model = FixedModel(np.eye(10, dtype=np.float32)[predictions])
    paths = figures.classification_figures(model, inputs, labels, str(tmp_path), "toy")
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["confusion_matrix.png", "misclassified.png"]
    np.testing.assert_array_equal(model.asked[0], inputs)
    confusion, grid = drawn
    assert confusion.axes[0].get_title() == "toy: test set\n25 / 30 correct"
    _assert_png(paths[1], grid)
    pictures = _shown_pictures(grid)
    assert sorted(pictures) == [(0, column) for column in range(len(wrong))]  # one row of 10, five shown
    for column, index in enumerate(wrong):
        picture, caption = pictures[(0, column)]
        np.testing.assert_array_equal(picture, inputs[index, :, :, 0])
        assert caption == f"{labels[index]}→{predictions[index]}"
    assert grid.get_suptitle() == "toy: misclassified test digits (true→predicted), first 5 of 5"


def test_misclassified_grid_shows_the_first_fifty(drawn, tmp_path):
    inputs = _distinct_digits(80, seed=1)
    labels = np.arange(80) % 10
    predictions = np.where(np.arange(80) % 4 == 0, labels, (labels + 1) % 10)  # 60 wrong
    figures.classification_figures(FixedModel(np.eye(10)[predictions]), inputs, labels, str(tmp_path), "toy")
    pictures = _shown_pictures(drawn[1])
    wrong = np.flatnonzero(predictions != labels)[:50]
    assert len(pictures) == 50 and sorted(pictures) == [(i // 10, i % 10) for i in range(50)]
    for position, index in enumerate(wrong):
        np.testing.assert_array_equal(pictures[(position // 10, position % 10)][0], inputs[index, :, :, 0])
    assert drawn[1].get_suptitle().endswith("first 50 of 60")


def test_no_misclassified_figure_when_all_are_right(drawn, tmp_path):
    labels = np.arange(20) % 10
    paths = figures.classification_figures(FixedModel(np.eye(10)[labels]), _distinct_digits(20), labels,
                                           str(tmp_path), "toy")
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["confusion_matrix.png"]
    assert not (tmp_path / "misclassified.png").exists()
    assert drawn[0].axes[0].get_title().endswith("20 / 20 correct")


@pytest.mark.parametrize("arch", sorted(REGISTRY))
def test_every_registered_task_has_its_figures(arch):
    expected = {"classification": figures.classification_figures, "reconstruction": figures.reconstruction_figures}
    task = get_spec(arch).task
    assert figures.figures_for(task) is expected[task.name]


def test_importing_the_tasks_loads_no_plotting_library():
    script = ("import sys, digitnet.models.tasks\n"
              "assert 'matplotlib' not in sys.modules and 'digitnet.core.figures' not in sys.modules, "
              "sorted(m for m in sys.modules if 'matplotlib' in m or m == 'digitnet.core.figures')[:5]\n")
    done = run_python(script)
    assert done.returncode == 0, done.stderr[-2000:]


def test_reconstruction_grid_puts_the_inputs_above_their_reconstructions(drawn, tmp_path):
    inputs = _distinct_digits(40, seed=2)
    labels = np.array([5, 3, 5, 0, 9, 3, 1, 2, 4, 6, 7, 8, 0] + [7] * 27)
    firsts = [3, 6, 7, 1, 8, 0, 9, 10, 11, 4]  # first index of digit 0, 1, ..., 9
    model = FixedModel(lambda asked: 1 - asked)  # reconstructions distinct from inputs
    (path,) = figures.reconstruction_figures(model, inputs, labels, str(tmp_path), "toy")
    _assert_png(path, drawn[0])
    np.testing.assert_array_equal(model.asked[0], inputs[firsts])
    pictures = _subplot_pictures(drawn[0])
    assert sorted(pictures) == [(row, column) for row in (0, 1) for column in range(10)]
    for column, index in enumerate(firsts):
        np.testing.assert_array_equal(pictures[(0, column)][0], inputs[index, :, :, 0])
        np.testing.assert_array_equal(pictures[(1, column)][0], 1 - inputs[index, :, :, 0])
    assert pictures[(0, 0)][1] == "original" and pictures[(1, 0)][1] == "reconstruction"
    assert {caption for cell, (_, caption) in pictures.items() if cell[1] > 0} == {""}


def test_all_losses_plot_draws_every_batch_and_its_moving_mean(drawn, tmp_path):
    rows = ([{"stage": "pretrain", "step": str(step), "loss": str(2.0 + step)} for step in range(60)]
            + [{"stage": "train", "step": str(step), "loss": str(100.0 - step)} for step in range(60, 90)])
    path = figures.plot_all_losses(rows, tmp_path / "losses.png", "toy")
    (figure,) = drawn
    _assert_png(path, figure)
    (axis,) = figure.axes
    raw_pretrain, trend_pretrain, raw_train, trend_train = axis.lines
    np.testing.assert_array_equal(raw_pretrain.get_xdata(), range(60))
    np.testing.assert_array_equal(raw_pretrain.get_ydata(), 2.0 + np.arange(60))
    np.testing.assert_array_equal(raw_train.get_xdata(), range(60, 90))
    np.testing.assert_array_equal(raw_train.get_ydata(), 100.0 - np.arange(60, 90))
    # a moving mean of 50 batches (30 for the 30-batch stage), placed at each window's last batch;
    # on a straight line it is the value at the window's middle
    np.testing.assert_array_equal(trend_pretrain.get_xdata(), range(49, 60))
    np.testing.assert_allclose(trend_pretrain.get_ydata(), 2.0 + np.arange(49, 60) - 24.5)
    np.testing.assert_array_equal(trend_train.get_xdata(), [89])
    np.testing.assert_allclose(trend_train.get_ydata(), [100.0 - 74.5])
    assert trend_pretrain.get_color() == raw_pretrain.get_color() != raw_train.get_color() == trend_train.get_color()
    assert [text.get_text() for text in axis.get_legend().get_texts()] == ["pretrain", "train"]
    assert axis.get_yscale() == "log" and axis.get_title() == "toy"


def test_all_losses_plot_of_one_stage_has_no_legend(drawn, tmp_path):
    rows = [{"stage": "train", "step": step, "loss": 1.0 / (step + 1)} for step in range(5)]
    figures.plot_all_losses(rows, tmp_path / "losses.png", "toy")
    (axis,) = drawn[0].axes
    assert axis.get_legend() is None
    np.testing.assert_allclose(axis.lines[0].get_ydata(), 1.0 / np.arange(1, 6))
    np.testing.assert_allclose(axis.lines[1].get_ydata(), np.convolve(1.0 / np.arange(1, 6), np.ones(5) / 5, "valid"))


def _fill_range(collection):
    """(lowest, highest) y of a fill_between band."""
    vertices = collection.get_paths()[0].vertices
    return vertices[:, 1].min(), vertices[:, 1].max()


def test_band_shows_the_mean_over_runs_and_their_range(drawn, tmp_path):
    values = np.array([np.arange(40.0), np.arange(40.0) + 4, np.arange(40.0) + 2])  # three runs
    figures.plot_band(values, tmp_path / "band.png", "toy", "batch", "loss")
    (axis,) = drawn[0].axes
    mean, trend = axis.lines
    np.testing.assert_allclose(mean.get_ydata(), np.arange(40.0) + 2)
    (band,) = axis.collections
    assert _fill_range(band) == (0.0, 43.0)
    np.testing.assert_allclose(trend.get_ydata(), np.arange(3, 40.0) + 2 - 1.5)  # moving mean of 4
    assert [t.get_text() for t in axis.get_legend().get_texts()] == ["moving mean of 4 batches"]


def test_curves_show_each_mean_from_epoch_one(drawn, tmp_path):
    curves = {"lenet": np.array([[0.9, 0.95, 0.97], [0.92, 0.96, 0.99]]), "bpnn": np.array([[0.8, 0.85, 0.9]])}
    figures.plot_curves(curves, tmp_path / "curves.png", "toy", "epoch", "accuracy")
    (axis,) = drawn[0].axes
    lenet, bpnn = axis.lines
    np.testing.assert_array_equal(lenet.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(lenet.get_ydata(), [0.91, 0.955, 0.98])
    np.testing.assert_allclose(bpnn.get_ydata(), [0.8, 0.85, 0.9])
    assert len(axis.collections) == 1 and _fill_range(axis.collections[0]) == pytest.approx((0.9, 0.99))
    assert [t.get_text() for t in axis.get_legend().get_texts()] == ["lenet", "bpnn"]


def test_misread_numbers_box_each_digit_green_only_where_it_is_right(drawn, tmp_path):
    from types import SimpleNamespace

    def digits(read):
        return [SimpleNamespace(digit=int(d), box=(10 * k, 2, 10 * k + 8, 20)) for k, d in enumerate(read)]

    photo = np.full((24, 50), 255, np.uint8)
    misread = [(photo, "4731", digits("4734")), (photo, "4311", digits("431")), (photo, "12", [])]
    figures.plot_misread_numbers(misread, tmp_path / "misread.png", "toy", columns=2)
    axes = [axis for axis in drawn[0].axes if axis.get_title()]
    assert [axis.get_title() for axis in axes] == ["4731 read 4734", "4311 read 431", "12 read (nothing)"]
    colours = [[to_hex(box.get_edgecolor()) for box in axis.patches] for axis in axes]
    green, red = to_hex("tab:green"), to_hex("tab:red")
    assert colours == [[green, green, green, red], [red, red, red], []]
    assert [box.get_x() for box in axes[0].patches] == [0, 10, 20, 30]
    with pytest.raises(ValueError, match="no misread numbers"):
        figures.plot_misread_numbers([], tmp_path / "none.png", "toy")
