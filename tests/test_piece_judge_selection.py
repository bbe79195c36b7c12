"""The piece judge's selection rule (reports/number_reading.md) as code."""
import json

import numpy as np
import pytest

from digitnet.core.errors import DataError
from digitnet.data.coarse import coarse
from digitnet.experiments import piece_judge_selection as selection
from digitnet.serving.segment import PIECE_JUDGE_FILE


def test_the_highest_total_wins_unless_a_simpler_one_is_within_the_tie():
    assert selection.choose({"none": 377, "small": 374, "large": 352}) == "none"  # 374 is within 3 of 377
    assert selection.choose({"none": 370, "small": 375, "large": 378}) == "small"  # 375 is within 3 of 378
    assert selection.choose({"none": 370, "small": 374, "large": 380}) == "large"


def test_the_four_sets_are_the_rules(monkeypatch):
    made_coarse = []

    def spy(digits):
        made_coarse.append(len(digits))
        return coarse(digits)

    monkeypatch.setattr(selection, "coarse", spy)
    sets = selection.validation_sets({"4 digits": 3, "2-6 digits": 4, "one digit": 2, "low resolution": 2})
    assert list(sets) == list(selection.COUNTS)
    assert [len(sets[name]) for name in sets] == [3, 4, 2, 2]
    assert all(len(number) == 4 for _, number in sets["4 digits"] + sets["low resolution"])
    assert all(2 <= len(number) <= 6 for _, number in sets["2-6 digits"])
    assert all(len(number) == 1 for _, number in sets["one digit"])
    assert all(ink.ndim == 2 and ink.size > 0 for name in sets for ink, _ in sets[name])
    assert made_coarse == [selection.LOW_RESOLUTION_POOL]  # the low-resolution set's digits, made coarse once


@pytest.mark.slow
def test_main_reads_every_candidate_and_writes_the_choice(tmp_path, monkeypatch):
    monkeypatch.setattr(selection, "COUNTS", {"4 digits": 2, "2-6 digits": 2, "one digit": 2, "low resolution": 2})
    output = tmp_path / "scores.json"
    assert selection.main(["--judge", "none", "--judge", str(PIECE_JUDGE_FILE), "--output", str(output)]) == 0
    found = json.loads(output.read_text())
    assert found["candidates"] == ["none", str(PIECE_JUDGE_FILE)]
    for candidate in found["candidates"]:
        assert sum(found["counts"][candidate].values()) == found["totals"][candidate]
        assert all(0 <= found["counts"][candidate][name] <= 2 for name in selection.COUNTS)
    assert found["chosen"] == selection.choose({c: found["totals"][c] for c in found["candidates"]})


def test_a_missing_judge_file_is_named(tmp_path):
    with pytest.raises(DataError, match="missing.npz"):
        selection.judge_of(str(tmp_path / "missing.npz"))
    assert selection.judge_of("none") is None
