"""Validation-only test of width-normalised committee members (--digit-width, Ciresan et al.
2011): two runs of the registered recipe on digits normalised to 12 and 18 pixels wide, alone
and averaged with the two runs of the registered recipe on digits as they are, on the last
6,000 training images. Rule, fixed before these runs finished: width members join the
committee if the four runs together make fewer validation errors than the best committee of
runs on unnormalised digits (17: the pair affine-20 + affine-20-s102; with affine-40, 16-18).

    python -m digitnet.train --arch deep_cnn --digit-width 12 --validation-split 0.1 --seed 105 \
        --output-dir runs/select/width-12         # and --digit-width 18 --seed 106 ... width-18
"""
from selection_runs import load_runs, print_combinations, record, validation_digits

from digitnet.experiments.committee import build_committee

images, labels = validation_digits()
models = load_runs(["affine-20", "affine-20-s102", "width-12", "width-18"])
errors = {}
probabilities = print_combinations(models, images, labels, errors)
committee = build_committee([models[name] for name in models])  # the Keras committee gives the same answers
keras_errors = int((committee.predict(images, batch_size=500, verbose=0).argmax(1) != labels).sum())
print(f"all {len(models)} as one Keras committee: {keras_errors} validation errors")
wrong = [set((probabilities[name].argmax(1) != labels).nonzero()[0]) for name in models]
print(f"digits wrong for any of the {len(models)} runs: {len(set.union(*wrong))}, "
      f"for all of them: {len(set.intersection(*wrong))}")
record(__file__, errors, rule="width members join if the four runs together make fewer than 17 errors",
       keras_committee_of_all=keras_errors, wrong_for_any_run=len(set.union(*wrong)),
       wrong_for_every_run=len(set.intersection(*wrong)))
