"""How each reference committee reads the 7s that the number reading misses as 1 on validation
(reports/number_reading.md, "The pair reader's veto"): validation 4-digit numbers 11, 38 and 82 of
seed 7001, each 7 cut from its true box and prepared as a single digit, read by every committee's
int8 TFLite. Prints, per committee, the digit each 7 is read as and its P(7).

    python reports/number_reading/short_bar_sevens.py
"""
from pathlib import Path

import numpy as np

from digitnet.data.number_synth import number_set
from digitnet.experiments.piece_judge_selection import COUNTS, DRAWS
from digitnet.experiments.reading_sets import split_digits
from digitnet.serving import preprocess
from digitnet.serving.reading import grey_of, predictor_of

ROOT = Path(__file__).resolve().parents[2]
SEVENS = [(11, 0), (38, 0), (82, 2)]  # (number, place) of the 7s read as 1
MARGIN = 5  # pixels around the true box


def main() -> None:
    digits, labels = split_digits("fit")
    numbers = number_set(digits, labels, [4] * COUNTS["4 digits"], DRAWS["small"].seeds["4 digits"])
    inputs = []
    for index, place in SEVENS:
        photo, number, boxes = numbers[index]
        assert number[place] == "7", (number, place)
        ink = preprocess.ink_image(grey_of(photo, "number"), "number")
        x0, y0, x1, y1 = (int(v) for v in boxes[place])
        digit, _ = preprocess.find_digit_box(ink[max(0, y0 - MARGIN):y1 + MARGIN, max(0, x0 - MARGIN):x1 + MARGIN], "7")
        inputs.append(preprocess.to_input(digit))
    print("| committee | " + " | ".join(f"number {i}, place {p}" for i, p in SEVENS) + " |")
    print("|---" * (len(SEVENS) + 1) + "|")
    for model in sorted((ROOT / "saved_models/tflite/committee").glob("*/committee_int8.tflite"),
                        key=lambda path: int(path.parent.name)):
        read = np.asarray(predictor_of(str(model))(np.stack(inputs)))
        print(f"| {model.parent.name} | " + " | ".join(f"{int(np.argmax(r))} (P(7) {r[7]:.2f})" for r in read) + " |")


if __name__ == "__main__":
    main()
