"""Validation-only choice between committee/3's proportions and a committee of eight with a third
style member (reports/styles_selection.md, "A third style member"): A = 5/7 of the mean of two affine
runs + 2/7 of the mean of two styles runs; B = 5/8 of the same affine mean + 3/8 of the mean of three
styles runs. Scored as validation_second_style_member.py scores (selection_runs.compare_style_shares).
The new run (the others as in validation_second_style_member.py):

    python -m digitnet.train --arch deep_cnn --augment styles --seed 102 --validation-split 0.1 \\
        --output-dir runs/select/styles-loops-20-s102
"""
from selection_runs import compare_style_shares

AFFINE = ["affine-20-v2", "affine-20-s102-v2"]
STYLES = {"A": ["styles-loops-20", "styles-loops-20-s101"],
          "B": ["styles-loops-20", "styles-loops-20-s101", "styles-loops-20-s102"]}
STYLE_SHARE = {"A": 2 / 7, "B": 3 / 8}  # the style members' share of committee/3 and of a committee of eight

compare_style_shares(__file__, AFFINE, STYLES, STYLE_SHARE)
