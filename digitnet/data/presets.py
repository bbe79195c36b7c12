"""The augmentation presets of `--augment`: what each one draws its random distortions from.

Plain Python (no TensorFlow), so that the flags, the configuration and the
Keras layer that distorts digits on any backend (layers.RandomAffine) read the
same presets as the tf.data pipeline's augment.py; both draw the style edits
(styles.py).
"""
from __future__ import annotations

import dataclasses

from digitnet.core.errors import ConfigError


def _check_probability(owner: str, name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ConfigError(f"{owner} {name} must be a probability in [0, 1], got {value!r}")


@dataclasses.dataclass(frozen=True)
class StyleCoverage:
    """How often styles.py rewrites a training digit the way writers outside MNIST
    write it, and how far. Probabilities are per image, drawn independently.

    stroke: a 1, 2, 4, 7 or 9 gets its digit's stroke edit: the 1 an up-stroke
        from the top of its stem (the continental 1) or, for `bare_one` of them,
        a redraw as one bare straight stroke; the 7 and the 2 a bar across the
        middle (the crossed 7, the crossed Z-like 2); the 4 an opened top; the 9
        a tail that curves or hooks to the left. A stroke that would close a
        loop or cross into one (a 9's hook meeting its loop, a bar across a
        curly 2's loop) draws another digit: that digit stays as it was.
    bare_one: the share of edited 1s redrawn as a bare stroke.
    foot: the share of up-stroke 1s that also get a foot.
    pen: the stroke is made thicker (a marker) or thinner (a fine pen), half each.
    shape: the digit is slanted by up to `slant_degrees` and made narrower or
        wider, by a width factor between `narrowest` and `widest`.
    """

    stroke: float = 0.5
    bare_one: float = 0.25
    foot: float = 0.4
    pen: float = 0.3
    shape: float = 0.3
    slant_degrees: float = 30.0
    narrowest: float = 0.55
    widest: float = 1.7

    def __post_init__(self):
        for name in ("stroke", "bare_one", "foot", "pen", "shape"):
            _check_probability("style coverage", name, getattr(self, name))
        if not 0 <= self.slant_degrees < 60:
            raise ConfigError(f"style coverage slant_degrees must be in [0, 60), got {self.slant_degrees!r}")
        if not 0 < self.narrowest <= 1 <= self.widest:
            raise ConfigError(f"style coverage needs 0 < narrowest <= 1 <= widest, got narrowest "
                              f"{self.narrowest!r} and widest {self.widest!r}")

    def describe(self) -> str:
        return (f"style edits (strokes {self.stroke:g}, pen {self.pen:g}, shape {self.shape:g}: "
                f"slant ±{self.slant_degrees:g}°, width x{self.narrowest:g}-{self.widest:g})")


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """The ranges that one preset draws its random distortions from.

    rotation_degrees: angle uniform in [-r, r]; positive turns the digit
        counter-clockwise as displayed.
    zoom: scale factor along x and along y, each uniform in [1 - zoom, 1 + zoom]
        (independent, so the aspect ratio varies too, as handwriting does).
    shear_degrees: slant angle uniform in [-s, s] (x shifts in proportion to y).
    shift: translation along x and along y, each uniform in [-shift, shift]
        times the image side.
    elastic_alpha, elastic_sigma: Simard's elastic field: uniform noise in
        [-1, 1] per pixel and axis, smoothed by a Gaussian of `elastic_sigma`
        pixels, times `elastic_alpha` pixels. alpha 0 means no elastic field.
    styles: the style edits drawn before the distortions (StyleCoverage), or None.
    """

    rotation_degrees: float = 0.0
    zoom: float = 0.0
    shear_degrees: float = 0.0
    shift: float = 0.0
    elastic_alpha: float = 0.0
    elastic_sigma: float = 4.0
    styles: StyleCoverage | None = None

    def __post_init__(self):
        if self.styles is not None and not isinstance(self.styles, StyleCoverage):
            raise ConfigError(f"augmentation styles must be a StyleCoverage or None, got {self.styles!r}")
        for field in dataclasses.fields(self):
            if field.name != "styles" and not getattr(self, field.name) >= 0:
                raise ConfigError(f"augmentation {field.name} must be >= 0, got {getattr(self, field.name)!r}")
        if self.zoom >= 1:
            raise ConfigError(f"augmentation zoom must be below 1 (scale in [1 - zoom, 1 + zoom]), got {self.zoom}")
        if self.elastic_alpha > 0 and self.elastic_sigma <= 0:
            raise ConfigError(f"augmentation elastic_sigma must be > 0 with elastic_alpha > 0, "
                              f"got {self.elastic_sigma}")

    @property
    def has_affine(self) -> bool:
        return any((self.rotation_degrees, self.zoom, self.shear_degrees, self.shift))

    @property
    def has_elastic(self) -> bool:
        return self.elastic_alpha > 0

    @property
    def has_styles(self) -> bool:
        return self.styles is not None

    @property
    def is_identity(self) -> bool:
        return not (self.has_affine or self.has_elastic or self.has_styles)

    def describe(self) -> str:
        """One line of the non-zero parameters, for figure titles and logs."""
        parts = []
        if self.rotation_degrees:
            parts.append(f"rotation ±{self.rotation_degrees:g}°")
        if self.zoom:
            parts.append(f"zoom ±{self.zoom:g}")
        if self.shear_degrees:
            parts.append(f"shear ±{self.shear_degrees:g}°")
        if self.shift:
            parts.append(f"shift ±{self.shift:g}")
        if self.has_elastic:
            parts.append(f"elastic alpha {self.elastic_alpha:g} sigma {self.elastic_sigma:g}")
        if self.has_styles:
            parts.append(self.styles.describe())
        return ", ".join(parts) or "no augmentation"


# Common MNIST ranges (rotation 10-15 degrees, zoom 0.1, shift 0.1), a little
# smaller so that the stacked distortions rarely push a stroke off the 28x28
# image (MNIST digits sit in a 20x20 box, 4 px from each edge).
_AFFINE = dict(rotation_degrees=12.0, zoom=0.1, shear_degrees=10.0, shift=0.08)
# Simard et al.'s alpha 34 with sigma 4.5 instead of their 4: at 4 a few loops
# (0, 6, 8) buckle into blots; at 6 the field is little more than a bend.
_ELASTIC = dict(elastic_alpha=34.0, elastic_sigma=4.5)
AUGMENTATIONS: dict[str, Augmentation] = {
    "none": Augmentation(),
    # Translation alone: the cheapest distortion, a baseline for the others.
    "shift": Augmentation(shift=_AFFINE["shift"]),
    "affine": Augmentation(**_AFFINE),
    # Simard et al.'s elastic field alone, to compare with affine as their Table 1 does.
    "elastic-only": Augmentation(**_ELASTIC),
    "elastic": Augmentation(**_AFFINE, **_ELASTIC),
    # The affine distortions plus style edits (styles.py): digits as writers
    # outside MNIST write them (continental 1, crossed 7 and 2, open 4, 9 with a
    # curved tail, slant, width, pen).
    "styles": Augmentation(**_AFFINE, styles=StyleCoverage()),
    # Half as many style edits (strokes, pens, shapes), the same edits: a deep_cnn candidate that
    # validation did not choose (reports/styles_selection.md), kept so its command reruns.
    "styles-light": Augmentation(**_AFFINE, styles=StyleCoverage(stroke=0.25, pen=0.15, shape=0.15)),
}


def get_augmentation(name) -> Augmentation:
    """The preset called `name`; an Augmentation passes through unchanged."""
    if isinstance(name, Augmentation):
        return name
    if name not in AUGMENTATIONS:
        raise ConfigError(f"unknown --augment {name!r}; choose one of {', '.join(AUGMENTATIONS)}")
    return AUGMENTATIONS[name]
