"""Validation-only choice between committee/2's proportions and a committee of seven with a second
style member (reports/styles_selection.md, "A second style member"): A = 5/6 of the mean of two
affine runs + 1/6 of a styles run; B = 5/7 of the same affine mean + 2/7 of the mean of two styles
runs. Errors on the 6,000 held-out digits as they are, and on the same digits restyled by
--augment styles with seed 0 (the tie-break). The runs (the first three as in
validation_style_member.py):

    python -m digitnet.train --arch deep_cnn --augment styles --seed 101 --validation-split 0.1 \\
        --output-dir runs/select/styles-loops-20-s101
"""
from selection_runs import compare_style_shares

AFFINE = ["affine-20-v2", "affine-20-s102-v2"]
STYLES = {"A": ["styles-loops-20"], "B": ["styles-loops-20", "styles-loops-20-s101"]}
STYLE_SHARE = {"A": 1 / 6, "B": 2 / 7}  # the style members' share of committee/2 and of a committee of seven

compare_style_shares(__file__, AFFINE, STYLES, STYLE_SHARE)
