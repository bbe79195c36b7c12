"""Validation-only choice between committee/4's proportions and a committee of nine with a fourth
style member (reports/styles_selection.md, "A fourth style member"): A = 5/8 of the mean of two affine
runs + 3/8 of the mean of three styles runs; B = 5/9 of the same affine mean + 4/9 of the mean of four
styles runs. Scored as validation_second_style_member.py scores (selection_runs.compare_style_shares).
The new run (the others as in validation_third_style_member.py):

    python -m digitnet.train --arch deep_cnn --augment styles --seed 103 --validation-split 0.1 \\
        --output-dir runs/select/styles-loops-20-s103
"""
from selection_runs import compare_style_shares

AFFINE = ["affine-20-v2", "affine-20-s102-v2"]
STYLES = {"A": ["styles-loops-20", "styles-loops-20-s101", "styles-loops-20-s102"],
          "B": ["styles-loops-20", "styles-loops-20-s101", "styles-loops-20-s102", "styles-loops-20-s103"]}
STYLE_SHARE = {"A": 3 / 8, "B": 4 / 9}  # the style members' share of committee/4 and of a committee of nine

compare_style_shares(__file__, AFFINE, STYLES, STYLE_SHARE)
