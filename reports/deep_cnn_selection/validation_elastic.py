"""Validation-only test of elastic members: the 20-epoch elastic run (seed 101) alone and averaged
with the registered recipe's run (affine-20, seed 100), on the last 6,000 training images. The runs:

    python -m digitnet.train --arch deep_cnn --augment affine --epochs 20 --validation-split 0.1 \
        --seed 100 --output-dir runs/select/affine-20
    python -m digitnet.train --arch deep_cnn --augment elastic --epochs 20 --validation-split 0.1 \
        --seed 101 --output-dir runs/select/elastic-20
"""
from selection_runs import load_runs, print_combinations, record, validation_digits

images, labels = validation_digits()
errors = {}
print_combinations(load_runs(["affine-20", "elastic-20"]), images, labels, errors)
record(__file__, errors)
