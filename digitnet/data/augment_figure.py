"""A figure of what an augmentation preset does to training digits: look at it
before training with a preset, to see that the digits stay readable.

The copies come from the tf.data pipeline's augment.py (TensorFlow, imported
when they are drawn here), or are given already drawn (the arrays feed draws
them with the model's own RandomAffine layer, on any Keras backend)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from digitnet.core.files import atomic_path  # noqa: E402
from digitnet.core.images import to_model_input  # noqa: E402
from digitnet.data.presets import get_augmentation  # noqa: E402


def augmented_versions(images_uint8: np.ndarray, preset: str, seed: int = 0, versions: int = 6,
                       labels: np.ndarray | None = None) -> np.ndarray:
    """float32 [n, versions, 28, 28]: `versions` augmented copies of each image,
    version k drawn with the stateless seed (seed, k) over the whole batch;
    `labels` let a preset's style edits draw the strokes of each digit."""
    import tensorflow as tf

    from digitnet.data.augment import augment_batch

    images = tf.constant(to_model_input(images_uint8))
    labels = None if labels is None else tf.constant(np.asarray(labels), tf.int32)
    copies = [augment_batch(images, tf.constant([seed, k], tf.int64), preset, labels) for k in range(versions)]
    return np.stack([np.asarray(c)[..., 0] for c in copies], axis=1)


def augmentation_grid(images_uint8: np.ndarray, preset: str, path, seed: int = 0, versions: int = 6,
                      labels: np.ndarray | None = None, augmented: np.ndarray | None = None) -> Path:
    """One row per digit: the training image, then `versions` augmented copies;
    titled with the preset and its parameters. Written atomically as PNG.
    A preset's style edits of strokes need the digits' `labels`; without them
    the title says that only its other edits are drawn. `augmented` (float32
    [n, versions, 28, 28] in [0, 1]) gives copies drawn elsewhere; by default
    augmented_versions draws them, copy k with the stateless seed (seed, k)."""
    augmentation = get_augmentation(preset)
    given = augmented is not None
    if not given:
        augmented = augmented_versions(images_uint8, preset, seed, versions, labels)
    versions = augmented.shape[1]
    rows = len(images_uint8)
    figure, axes = plt.subplots(rows, versions + 1, figsize=((versions + 1) * 0.9, rows * 0.95 + 0.5),
                                squeeze=False, layout="constrained")
    for row in range(rows):
        pictures = [images_uint8[row] / 255.0, *augmented[row]]
        for column, picture in enumerate(pictures):
            axis = axes[row, column]
            axis.imshow(picture, cmap="gray_r", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            # Frames show the image's edges (where a distortion cuts a digit off);
            # blue tells the original from its copies.
            for spine in axis.spines.values():
                spine.set_color("tab:blue" if column == 0 else "0.8")
    axes[0, 0].set_title("original", fontsize=7)
    for column in range(1, versions + 1):
        axes[0, column].set_title(f"draw {column}" if given else f"seed ({seed}, {column - 1})", fontsize=6)
    name = preset if isinstance(preset, str) else "custom"
    title = f"augmentation '{name}': {augmentation.describe()}"
    if augmentation.has_styles and labels is None:
        title += "\n(no labels given: stroke edits not drawn)"
    figure.suptitle(title, fontsize=9)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, bbox_inches="tight", format="png")
    plt.close(figure)
    return Path(path)
