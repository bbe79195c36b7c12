"""Validation-only choice of the committee's views: two validation-split deep_cnn runs,
alone and averaged, with 1 and 5 views, on the last 6,000 training images. The runs:

    python -m digitnet.train --arch deep_cnn --augment affine --epochs 20 --validation-split 0.1 \
        --seed 100 --output-dir runs/select/affine-20          # and --seed 102 ... affine-20-s102
"""
import numpy as np, keras
from digitnet.data import load_digits
from digitnet.ensemble import build_committee
d = load_digits()
x = d.train_images[54000:][..., None].astype("float32") / 255.0
y = d.train_labels[54000:]
runs = ["runs/select/affine-20", "runs/select/affine-20-s102"]
for views in (1, 5):
    for chosen in ([runs[0]], [runs[1]], runs):
        model = build_committee([keras.models.load_model(f"{r}/model.keras") for r in chosen], views=views)
        errors = int((model.predict(x, batch_size=500, verbose=0).argmax(1) != y).sum())
        print(f"views {views}: {' + '.join(r.split('/')[-1] for r in chosen)}: {errors} validation errors of {len(y)}", flush=True)
