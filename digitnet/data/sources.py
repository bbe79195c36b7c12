"""MNIST arrays from the embedded files, any IDX folder, or tensorflow-datasets.

Every source ends in the same `DigitArrays` of uint8 images and labels, so the
tf.data pipeline (pipeline.py) and everything after it has one input path.
"""
from __future__ import annotations

import dataclasses
import importlib.resources
import os
from pathlib import Path

import numpy as np

from digitnet.core.errors import DataError
from digitnet.core.images import NUM_CLASSES
from digitnet.data.idx import read_idx

IMAGE_SHAPE = (28, 28)
DATA_SOURCES = ("embedded", "tfds")
# The four standard names; Fashion-MNIST and others reuse them.
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclasses.dataclass(frozen=True)
class DigitArrays:
    """uint8 images [N, 28, 28] and int labels [N] of the train and test splits."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def take_train(self, count: int | None) -> "DigitArrays":
        """The first `count` training examples (all when count is None)."""
        if count is None:
            return self
        return dataclasses.replace(
            self, train_images=self.train_images[:count], train_labels=self.train_labels[:count]
        )

    def take_test(self, count: int | None) -> "DigitArrays":
        if count is None:
            return self
        return dataclasses.replace(
            self, test_images=self.test_images[:count], test_labels=self.test_labels[:count]
        )


def embedded_data_dir() -> Path:
    """The folder of MNIST files shipped inside the package."""
    return Path(str(importlib.resources.files("digitnet") / "mnist"))


def _find_split_file(folder: Path, names: list[str], stem: str) -> Path:
    for candidate in (f"{stem}.gz", stem):
        if candidate in names:
            return folder / candidate
    raise DataError(f"{folder}: missing {stem}.gz (or uncompressed {stem}); the folder holds {names}")


def check_split(images: np.ndarray, labels: np.ndarray, images_name: str, labels_name: str) -> None:
    """Raises DataError unless images and labels form a valid digit split."""
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE or images.dtype != np.uint8:
        raise DataError(
            f"{images_name}: expected uint8 images of shape [N, 28, 28], found {images.dtype.name} {list(images.shape)}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DataError(f"{labels_name}: expected uint8 labels of shape [N], found {labels.dtype.name} {list(labels.shape)}")
    if len(images) != len(labels):
        raise DataError(f"{images_name} holds {len(images)} images but {labels_name} holds {len(labels)} labels")
    if len(labels) == 0:
        raise DataError(f"{labels_name}: holds no examples")
    if labels.max() >= NUM_CLASSES:
        bad = np.flatnonzero(labels >= NUM_CLASSES)
        raise DataError(
            f"{labels_name}: {len(bad)} labels outside 0-9 (first at index {bad[0]}: {labels[bad[0]]})"
        )


def load_idx_folder(folder: str | os.PathLike) -> DigitArrays:
    """Reads the four standard IDX files (gzip or raw) from `folder`."""
    folder = Path(folder)
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        raise DataError(f"{folder}: data folder not found") from None
    except NotADirectoryError:
        raise DataError(f"{folder}: is a file, expected a folder holding the four IDX files") from None
    except OSError as error:
        raise DataError(f"{folder}: data folder cannot be read ({error.strerror})") from None
    arrays = {}
    for split, (images_stem, labels_stem) in SPLIT_FILES.items():
        images_path = _find_split_file(folder, names, images_stem)
        labels_path = _find_split_file(folder, names, labels_stem)
        images, labels = read_idx(images_path), read_idx(labels_path)
        check_split(images, labels, str(images_path), str(labels_path))
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    return DigitArrays(**arrays, source=str(folder))


def tfds_prepare_hint(data_dir: str | None) -> str:
    where = f" --tfds-data-dir {data_dir}" if data_dir else ""
    return (
        f"prepare it offline from the embedded files with `python -m digitnet.prepare_tfds{where}`, "
        "or train on the embedded data with `--data-source embedded`"
    )


def load_tfds(data_dir: str | None = None) -> DigitArrays:
    """Reads TFDS's prepared `mnist`; never downloads (that would hang offline)."""
    import tensorflow_datasets as tfds

    builder = tfds.builder("mnist", data_dir=data_dir)
    if not builder.is_prepared():
        raise DataError(
            f"tensorflow-datasets has no prepared 'mnist' in {builder.data_dir}: {tfds_prepare_hint(data_dir)}"
        )
    arrays = {}
    for split in SPLIT_FILES:
        batch = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
        arrays[f"{split}_images"] = np.ascontiguousarray(batch["image"][..., 0], dtype=np.uint8)
        arrays[f"{split}_labels"] = batch["label"].astype(np.uint8)
        check_split(arrays[f"{split}_images"], arrays[f"{split}_labels"], f"tfds mnist/{split}", f"tfds mnist/{split}")
    return DigitArrays(**arrays, source=f"tfds:{builder.data_dir}")


def load_digits(source: str = "embedded", data_dir: str | None = None, tfds_data_dir: str | None = None) -> DigitArrays:
    """Loads train and test arrays. `data_dir` replaces the embedded folder.

    The embedded data's source reads "embedded", not the package's folder: run folders and model
    cards record it, and a machine's install path says nothing about the data."""
    if source == "embedded":
        if data_dir:
            return load_idx_folder(data_dir)
        return dataclasses.replace(load_idx_folder(embedded_data_dir()), source="embedded")
    if source == "tfds":
        return load_tfds(tfds_data_dir)
    raise DataError(f"unknown data source {source!r}; choose one of {', '.join(DATA_SOURCES)}")


def split_validation(images: np.ndarray, labels: np.ndarray, fraction: float):
    """Holds out the last `fraction` of the examples, as Keras' validation_split does."""
    held_out = int(round(len(images) * fraction))
    if held_out == 0:
        return (images, labels), None
    cut = len(images) - held_out
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])
