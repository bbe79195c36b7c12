"""Figures a person would rather look at than read (matplotlib, PNG)."""
from __future__ import annotations

import os
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from digitnet.core.ctc import decode, greedy  # noqa: E402
from digitnet.core.files import atomic_path  # noqa: E402
from digitnet.core.images import EVAL_BATCH, NUM_CLASSES  # noqa: E402


def _save(figure, path) -> str:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, bbox_inches="tight", format="png")
    plt.close(figure)
    return os.fspath(path)


def plot_all_losses(loss_rows: list[dict], path, title: str) -> str:
    """The loss of every batch over the whole run (the paper's Figures 5-7)."""
    figure, axis = plt.subplots(figsize=(8, 4))
    stages = list(dict.fromkeys(r["stage"] for r in loss_rows))
    for stage in stages:
        rows = [r for r in loss_rows if r["stage"] == stage]
        steps, losses = [int(r["step"]) for r in rows], np.array([float(r["loss"]) for r in rows])
        line, = axis.plot(steps, losses, linewidth=0.5, alpha=0.45, label=stage if len(stages) > 1 else None)
        window = min(50, len(losses))
        if window > 1:  # the trend hides in the batch-to-batch noise: overlay a moving mean
            trend = np.convolve(losses, np.ones(window) / window, mode="valid")
            axis.plot(steps[window - 1:], trend, color=line.get_color(), linewidth=1.6)
    if len(stages) > 1:
        axis.legend()
    axis.set(title=title, xlabel="batch (whole run)", ylabel="training loss")
    axis.set_yscale("log")
    axis.grid(alpha=0.3)
    return _save(figure, path)


def plot_reconstructions(images: np.ndarray, reconstructions: np.ndarray, path, title: str,
                         labels: tuple[str, str] = ("original", "reconstruction")) -> str:
    """Test digits (top row) above their reconstructions (the paper's Figures 8-9),
    or above any other image-to-image result, named by `labels`."""
    count = len(images)
    figure, axes = plt.subplots(2, count, figsize=(count * 0.9, 2.1))
    for column in range(count):
        for row, picture in enumerate((images[column], reconstructions[column])):
            axes[row, column].imshow(np.squeeze(picture), cmap="gray_r", vmin=0, vmax=1)
            axes[row, column].axis("off")
    axes[0, 0].set_title(labels[0], loc="left", fontsize=8)
    axes[1, 0].set_title(labels[1], loc="left", fontsize=8)
    figure.suptitle(title, fontsize=10)
    return _save(figure, path)


def plot_confusion_matrix(labels: np.ndarray, predictions: np.ndarray, path, title: str,
                          classes: int = NUM_CLASSES) -> str:
    """Counts of (true, predicted) over `classes` classes (the ten digits, unless a model has more)."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    figure, axis = plt.subplots(figsize=(6, 5.5))
    shown = np.where(np.eye(classes, dtype=bool), 0, matrix)  # colour the errors, not the diagonal
    axis.imshow(shown, cmap="Reds")
    for true_class in range(classes):
        for predicted in range(classes):
            count = matrix[true_class, predicted]
            if count:
                axis.text(predicted, true_class, str(count), ha="center", va="center", fontsize=7,
                          color="black" if true_class != predicted else "tab:blue")
    axis.set(xticks=range(classes), yticks=range(classes), xlabel="predicted", ylabel="true",
             title=f"{title}\n{matrix.trace()} / {matrix.sum()} correct")
    return _save(figure, path)


# The digit grid is one picture: cells of GRID_CELL pixels, each a caption band
# of GRID_CAPTION rows above a 28x28 digit inset by GRID_MARGIN columns (cells
# of wider inputs are as much wider). One image and a few texts draw much
# faster than one subplot per digit.
GRID_CELL = (38, 32)
GRID_CAPTION = 10
GRID_MARGIN = 2


def grid_cell(images: np.ndarray) -> tuple[int, int]:
    """GRID_CELL, taller and wider by as many pixels as the inputs are taller and wider than 28."""
    if np.ndim(images) < 3:
        return GRID_CELL
    return GRID_CELL[0] + np.shape(images)[1] - 28, GRID_CELL[1] + np.shape(images)[2] - 28


def digit_grid_picture(images: np.ndarray, columns: int) -> np.ndarray:
    """The digits [n, 28, 28(, 1)] (or [n, 28, W(, 1)]) in [0, 1] laid out row by row in grid_cell cells (0 elsewhere)."""
    rows = max(1, -(-len(images) // columns))
    height, width = grid_cell(images)
    picture = np.zeros((rows * height, columns * width), np.float32)
    for index, image in enumerate(images):
        top, left = divmod(index, columns)
        top, left = top * height + GRID_CAPTION, left * width + GRID_MARGIN
        image = np.squeeze(image)
        picture[top:top + image.shape[0], left:left + image.shape[1]] = image
    return picture


def plot_digit_grid(images: np.ndarray, captions: list[str], path, title: str, columns: int = 10) -> str:
    """The digits in rows of `columns`, each under its caption."""
    rows = max(1, -(-len(images) // columns))
    height, width = grid_cell(images)
    figure, axis = plt.subplots(figsize=(columns * 0.9 * width / GRID_CELL[1], rows * 1.05 * height / GRID_CELL[0]))
    axis.imshow(digit_grid_picture(images, columns), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    for index, caption in enumerate(captions[:len(images)]):
        row, column = divmod(index, columns)
        axis.text(column * width + width / 2, row * height + GRID_CAPTION / 2, caption,
                  ha="center", va="center", fontsize=7)
    axis.axis("off")
    figure.suptitle(title, fontsize=10)
    return _save(figure, path)


def classification_figures(model, inputs: np.ndarray, labels: np.ndarray, output_dir, name: str) -> list[str]:
    """Confusion matrix, and the misclassified test digits with their predictions; as many
    classes as the model has outputs."""
    probabilities = model.predict(inputs, batch_size=EVAL_BATCH, verbose=0)
    predictions = np.argmax(probabilities, axis=1)
    paths = [plot_confusion_matrix(labels, predictions, os.path.join(output_dir, "confusion_matrix.png"),
                                   f"{name}: test set", classes=probabilities.shape[1])]
    wrong = np.flatnonzero(predictions != labels)[:50]
    if len(wrong):
        paths.append(plot_digit_grid(
            inputs[wrong], [f"{labels[i]}→{predictions[i]}" for i in wrong],
            os.path.join(output_dir, "misclassified.png"),
            f"{name}: misclassified test digits (true→predicted), first {len(wrong)} of {int((predictions != labels).sum())}"))
    return paths


def reconstruction_figures(model, inputs: np.ndarray, labels: np.ndarray, output_dir, name: str) -> list[str]:
    """The first test example of each digit above its reconstruction."""
    picks = [int(np.flatnonzero(labels == digit)[0]) for digit in range(10) if (labels == digit).any()]
    reconstructions = model.predict(inputs[picks], verbose=0)
    return [plot_reconstructions(inputs[picks], reconstructions, os.path.join(output_dir, "reconstructions.png"),
                                 f"{name}: test digits and their reconstructions")]


def sequence_figures(model, inputs: np.ndarray, labels: np.ndarray, output_dir, name: str) -> list[str]:
    """The first test lines with their best-path readings, and the lines read wrong (true→read)."""
    logits = model.predict(inputs, batch_size=EVAL_BATCH, verbose=0)
    truth, read = [decode(label) for label in labels], [greedy(row) for row in logits]
    right = sum(t == r for t, r in zip(truth, read))
    paths = [plot_digit_grid(inputs[:12, ..., 0], [f"{t}→{r}" for t, r in zip(truth[:12], read[:12])],
                             os.path.join(output_dir, "line_readings.png"),
                             f"{name}: test lines (true→read); {right} of {len(truth)} read whole", columns=3)]
    wrong = [i for i, (t, r) in enumerate(zip(truth, read)) if t != r][:30]
    if wrong:
        paths.append(plot_digit_grid(inputs[wrong][..., 0], [f"{truth[i]}→{read[i]}" for i in wrong],
                                     os.path.join(output_dir, "misread_lines.png"),
                                     f"{name}: test lines read wrong (true→read), first {len(wrong)} of "
                                     f"{len(truth) - right}", columns=3))
    return paths


# Task name (tasks.Task.name) -> (model, test inputs, test labels, output folder, title) -> PNG paths written.
TASK_FIGURES: dict[str, Callable[..., list[str]]] = {
    "classification": classification_figures,
    "reconstruction": reconstruction_figures,
    "sequence": sequence_figures,
}


def figures_for(task) -> Callable[..., list[str]]:
    """The figure function of `task` (a tasks.Task): what training and committees draw after testing."""
    try:
        return TASK_FIGURES[task.name]
    except KeyError:
        raise KeyError(f"no figures for task {task.name!r}; known: {', '.join(TASK_FIGURES)}") from None


def _band(axis, values: np.ndarray, x, label=None, **style):
    mean = values.mean(axis=0)
    line, = axis.plot(x, mean, label=label, **style)
    if len(values) > 1:
        axis.fill_between(x, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.25, linewidth=0)


def plot_band(values: np.ndarray, path, title: str, xlabel: str, ylabel: str, log_scale: bool = False) -> str:
    """Mean over runs (rows of `values`) with the min-max range shaded, and a
    moving mean on top where there are enough batches to smooth."""
    figure, axis = plt.subplots(figsize=(8, 4))
    steps = np.arange(values.shape[1])
    _band(axis, values, steps, linewidth=0.5)
    window = min(20, values.shape[1] // 10)
    if window > 1:
        trend = np.convolve(values.mean(axis=0), np.ones(window) / window, mode="valid")
        axis.plot(steps[window - 1:], trend, color="black", linewidth=1.0, label=f"moving mean of {window} batches")
        axis.legend()
    axis.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if log_scale:
        axis.set_yscale("log")
    axis.grid(alpha=0.3)
    return _save(figure, path)


def plot_curves(curves: dict[str, np.ndarray], path, title: str, xlabel: str, ylabel: str) -> str:
    figure, axis = plt.subplots(figsize=(7, 4))
    for label, values in curves.items():
        _band(axis, values, np.arange(1, values.shape[1] + 1), label=label, linewidth=1.2, marker="o", markersize=3)
    axis.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axis.legend()
    axis.grid(alpha=0.3)
    return _save(figure, path)


def plot_misread_numbers(misread: list[tuple[np.ndarray, str, list]], path, title: str, columns: int = 3) -> str:
    """Numbers read wrong: each (photo [H, W] or [H, W, 3], the number, the reading's digits: objects with
    .box (left, top, right, bottom) and .digit), every digit's box drawn on its photo, green where the
    reading has the number's digit at that place and red elsewhere (all red when the counts differ)."""
    if not misread:
        raise ValueError("no misread numbers to draw")
    rows = -(-len(misread) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 3.2, rows * 1.5), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, (photo, number, digits) in zip(axes.ravel(), misread):
        read = "".join(str(d.digit) for d in digits)
        axis.imshow(photo, cmap="gray", vmin=0, vmax=255)
        for place, digit in enumerate(digits):
            left, top, right, bottom = digit.box
            right_place = len(read) == len(number) and read[place] == number[place]
            axis.add_patch(plt.Rectangle((left, top), right - left, bottom - top, fill=False, linewidth=1.2,
                                         edgecolor="tab:green" if right_place else "tab:red"))
        axis.set_title(f"{number} read {read or '(nothing)'}", fontsize=8)
    figure.suptitle(title, fontsize=10)
    return _save(figure, path)
