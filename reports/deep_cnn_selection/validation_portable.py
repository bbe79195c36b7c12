"""Validation-only check of members trained by digitnet.portable (Keras alone, as on the GPU machine
with JAX): two runs of the registered recipe on the first 54,000 training images, alone and
averaged, against digitnet.train's two runs of the same recipe (affine-20: seed 100,
affine-20-s102), on the last 6,000. Rule, fixed before these runs finished: portable members may
join the committee if each makes at most 21 validation errors (digitnet.train's made 18 and 19)
and their pair at most 19 (digitnet.train's pair: 17); otherwise the port loses accuracy and
members stay digitnet.train's.

    KERAS_BACKEND=tensorflow python -m digitnet.portable --arch deep_cnn --members 2 --seed 100 \
        --validation-split 0.1 --output-dir runs/select-portable
    # then: cp -r runs/select-portable/member-0 runs/select/portable-s100 (member-1: portable-s101)
"""
from selection_runs import load_runs, print_combinations, record, validation_digits

images, labels = validation_digits()
models = load_runs(["affine-20", "affine-20-s102", "portable-s100", "portable-s101"])
errors = {}
print_combinations(models, images, labels, errors)
record(__file__, errors, rule="each portable run at most 21 errors and their pair at most 19")
