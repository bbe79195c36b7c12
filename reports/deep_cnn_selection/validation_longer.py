"""Validation-only test of longer training for committee members: 40-epoch runs (elastic and
affine presets) against the registered 20 epochs, alone and averaged, on the last 6,000
training images. The runs (each on the other 54,000):

    python -m digitnet.train --arch deep_cnn --augment affine --epochs 20 --validation-split 0.1 \
        --seed 100 --output-dir runs/select/affine-20          # and --seed 102 ... affine-20-s102
    python -m digitnet.train --arch deep_cnn --augment elastic --epochs 40 --validation-split 0.1 \
        --seed 103 --output-dir runs/select/elastic-40
    python -m digitnet.train --arch deep_cnn --augment affine --epochs 40 --validation-split 0.1 \
        --seed 104 --output-dir runs/select/affine-40
"""
import itertools

from selection_runs import load_runs, record, validation_digits

from digitnet.experiments.committee import build_committee

x, y = validation_digits()
models = load_runs(["affine-20", "affine-20-s102", "elastic-40", "affine-40"])
errors = {}
for size in (1, 2, 3):
    for chosen in itertools.combinations(models, size):
        committee = build_committee([models[n] for n in chosen])
        errors[" + ".join(chosen)] = int((committee.predict(x, batch_size=500, verbose=0).argmax(1) != y).sum())
        print(f"{' + '.join(chosen)}: {errors[' + '.join(chosen)]} validation errors of {len(y)}", flush=True)
record(__file__, errors)
