"""Validation only: does a LeNet (a different architecture, 38 validation errors) help the deep_cnn
validation runs when averaged in with a small weight? The LeNet run:

    python -m digitnet.train --arch lenet --validation-split 0.1 --seed 100 --output-dir runs/select/lenet-val
"""
from selection_runs import load_runs, record, validation_digits

x, y = validation_digits()
P = {k: m.predict(x, batch_size=500, verbose=0) for k, m in load_runs(["affine-20", "affine-20-s102", "lenet-val"]).items()}


def err(p):
    return int((p.argmax(1) != y).sum())


errors = {k: err(p) for k, p in P.items()}
errors["affine-20 + affine-20-s102"] = err(P["affine-20"] + P["affine-20-s102"])
for w in (0.1, 0.25, 0.5):
    errors[f"affine-20 + {w} lenet-val"] = err(P["affine-20"] + w * P["lenet-val"])
    errors[f"affine-20-s102 + {w} lenet-val"] = err(P["affine-20-s102"] + w * P["lenet-val"])
    errors[f"affine-20 + affine-20-s102 + {2 * w} lenet-val"] = err(P["affine-20"] + P["affine-20-s102"] + 2 * w * P["lenet-val"])
for key, count in errors.items():
    print(f"{key}: {count} validation errors of {len(y)}", flush=True)
record(__file__, errors)
