"""Validation-only choice of the committee's views: two validation-split deep_cnn runs,
alone and averaged, with 1 and 5 views, on the last 6,000 training images. The runs:

    python -m digitnet.train --arch deep_cnn --augment affine --epochs 20 --validation-split 0.1 \
        --seed 100 --output-dir runs/select/affine-20          # and --seed 102 ... affine-20-s102
"""
from selection_runs import load_runs, record, validation_digits

from digitnet.experiments.committee import build_committee

x, y = validation_digits()
runs = ["affine-20", "affine-20-s102"]
errors = {}
for views in (1, 5):
    for chosen in ([runs[0]], [runs[1]], runs):
        model = build_committee(list(load_runs(chosen).values()), views=views)
        key = f"views {views}: {' + '.join(chosen)}"
        errors[key] = int((model.predict(x, batch_size=500, verbose=0).argmax(1) != y).sum())
        print(f"{key}: {errors[key]} validation errors of {len(y)}", flush=True)
record(__file__, errors)
