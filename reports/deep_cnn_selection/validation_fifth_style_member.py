"""Validation-only choice between committee/5's proportions and a committee of ten with a fifth style
member (reports/styles_selection.md, "A fifth style member"): A = 5/9 of the mean of two affine runs +
4/9 of the mean of four styles runs; B = 5/10 of the same affine mean + 5/10 of the mean of five styles
runs. Scored as validation_second_style_member.py scores (selection_runs.compare_style_shares). The
six earlier runs are trained again, with their own commands, into folders named -r; the new run is
seed 104. Each is kept here once it has finished (selection_runs.py keep), so the score needs no
models:

    python -m digitnet.train --arch deep_cnn --augment affine --seed 100 --validation-split 0.1 \\
        --output-dir runs/select/affine-20-v2-r          # and --seed 102 ... affine-20-s102-v2-r
    python -m digitnet.train --arch deep_cnn --augment styles --seed 100 --validation-split 0.1 \\
        --output-dir runs/select/styles-loops-20-r       # and seeds 101-103 ... styles-loops-20-s10N-r
    python -m digitnet.train --arch deep_cnn --augment styles --seed 104 --validation-split 0.1 \\
        --output-dir runs/select/styles-loops-20-s104
    python reports/deep_cnn_selection/selection_runs.py keep <run name>
"""
from selection_runs import compare_style_shares

AFFINE = ["affine-20-v2-r", "affine-20-s102-v2-r"]
FOUR = ["styles-loops-20-r", "styles-loops-20-s101-r", "styles-loops-20-s102-r", "styles-loops-20-s103-r"]
STYLES = {"A": FOUR, "B": FOUR + ["styles-loops-20-s104"]}
STYLE_SHARE = {"A": 4 / 9, "B": 5 / 10}  # the style members' share of committee/5 and of a committee of ten

compare_style_shares(__file__, AFFINE, STYLES, STYLE_SHARE)
