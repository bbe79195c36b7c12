"""The piece judge's selection rule (reports/number_reading.md) as code."""
import json
from pathlib import Path

import numpy as np
import pytest

from digitnet.core.errors import DataError
from digitnet.data.coarse import coarse
from digitnet.experiments import piece_judge_selection as selection
from digitnet.serving.segment import PAIR_READER_FILE, PIECE_JUDGE_FILE


def test_the_highest_total_wins_unless_a_simpler_one_is_within_the_tie():
    assert selection.choose({"none": 377, "small": 374, "large": 352}) == "none"  # 374 is within 3 of 377
    assert selection.choose({"none": 370, "small": 375, "large": 378}) == "small"  # 375 is within 3 of 378
    assert selection.choose({"none": 370, "small": 374, "large": 380}) == "large"


def test_a_setting_as_it_is_stays_only_within_the_tie_of_the_highest():
    """reports/number_reading.md: for the segmenter's settings only the first (as it is) takes a tie."""
    assert selection.choose({"cuts 3": 399, "cuts 4": 405, "cuts 6": 406}, settings=True) == "cuts 6"
    assert selection.choose({"cuts 3": 403, "cuts 4": 405, "cuts 6": 406}, settings=True) == "cuts 3"
    assert selection.choose({"cuts 3": 399, "cuts 4": 405, "cuts 6": 406}) == "cuts 4"  # the judges' rule differs


@pytest.mark.slow
@pytest.mark.parametrize("flags, candidates, seen", [
    # settings other than pair readers are read with the shipped pair reader, as reading does
    (["--cuts", "3", "--cuts", "5"], ["cuts 3", "cuts 5"], {(0.9, 0.3, 3, 0.0, True, False, 1.4, False, False, False, False), (0.9, 0.3, 5, 0.0, True, False, 1.4, False, False, False, False)}),
    (["--width-prior", "0.9,0.3", "--width-prior", "0.8,1"], ["width prior 0.9,0.3", "width prior 0.8,1"],
     {(0.9, 0.3, 4, 0.0, True, False, 1.4, False, False, False, False), (0.8, 1.0, 4, 0.0, True, False, 1.4, False, False, False, False)}),
    (["--seam", "0", "--seam", "0.3"], ["seam 0", "seam 0.3"], {(0.9, 0.3, 4, 0.0, True, False, 1.4, False, False, False, False), (0.9, 0.3, 4, 0.3, True, False, 1.4, False, False, False, False)}),
    (["--pair-reader", "none", "--pair-reader", str(PAIR_READER_FILE)],
     ["pair reader none", f"pair reader {PAIR_READER_FILE}"], {(0.9, 0.3, 4, 0.0, False, False, 1.4, False, False, False, False), (0.9, 0.3, 4, 0.0, True, False, 1.4, False, False, False, False)}),
    (["--pair-alone", "no", "--pair-alone", "yes"], ["lone pairs no", "lone pairs yes"],
     {(0.9, 0.3, 4, 0.0, True, False, 1.4, False, False, False, False), (0.9, 0.3, 4, 0.0, True, True, 1.4, False, False, False, False)}),
    (["--wide-alone", "1.4", "--wide-alone", "1.1"], ["wide alone 1.4", "wide alone 1.1"],
     {(0.9, 0.3, 4, 0.0, True, False, 1.4, False, False, False, False), (0.9, 0.3, 4, 0.0, True, False, 1.1, False, False, False, False)}),
    (["--pair-veto", "no", "--pair-veto", "yes"], ["pair veto no", "pair veto yes"],
     {(0.9, 0.3, 4, 0.0, True, False, 1.4, False, False, False, False), (0.9, 0.3, 4, 0.0, True, False, 1.4, True, False, False, False)}),
    (["--lone-pairs", "no", "--lone-pairs", "sure"], ["lone pairs no", "lone pairs sure"],
     {(0.9, 0.3, 4, 0.0, True, False, 1.4, False, False, False, False), (0.9, 0.3, 4, 0.0, True, True, 1.4, False, True, False, False)}),
    (["--strokes", "no", "--strokes", "row", "--strokes", "row+arcs"], ["strokes no", "strokes row", "strokes row+arcs"],
     {(0.9, 0.3, 4, 0.0, True, False, 1.4, False, False, False, False),
      (0.9, 0.3, 4, 0.0, True, False, 1.4, False, False, False, True),
      (0.9, 0.3, 4, 0.0, True, False, 1.4, False, False, True, True)}),
])
def test_settings_are_compared_with_one_judge_and_reach_the_segmenter(tmp_path, monkeypatch, flags, candidates, seen):
    from digitnet.serving import segment

    monkeypatch.setattr(selection, "COUNTS", {"4 digits": 2, "2-6 digits": 2, "one digit": 1, "low resolution": 1})
    found_settings = set()
    real = segment.Segmenter.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        found_settings.add((self.width_free, self.width_slope, self.cuts, self.seam, self.read_pair is not None,
                            self.pair_alone, self.wide_alone, self.pair_veto, self.pair_sure, self.arcs, self.tall_row))

    monkeypatch.setattr(segment.Segmenter, "__init__", spy)
    output = tmp_path / "settings.json"
    assert selection.main(["--judge", str(PIECE_JUDGE_FILE), *flags, "--output", str(output)]) == 0
    found = json.loads(output.read_text())
    assert found["candidates"] == candidates
    assert found_settings == seen
    assert Path(found["model"]).exists() and not Path(found["model"]).is_absolute()  # the reference model's file
    assert found["chosen"] == selection.choose({c: found["totals"][c] for c in candidates}, settings=True)


@pytest.mark.slow
def test_pencil_photos_are_single_validation_digits_counted_in_the_total(tmp_path, monkeypatch):
    monkeypatch.setattr(selection, "COUNTS", {"4 digits": 1, "2-6 digits": 1, "one digit": 1, "low resolution": 1})
    photos = selection.photo_set_of(4)
    assert [len(number) for _, number in photos] == [1] * 4 and all(ink.ndim == 2 for ink, _ in photos)
    output = tmp_path / "photos.json"
    assert selection.main(["--judge", str(PIECE_JUDGE_FILE), "--strokes", "no", "--strokes", "row", "--photos", "4",
                           "--output", str(output)]) == 0
    found = json.loads(output.read_text())
    assert found["sets"][selection.PHOTOS] == 4
    for candidate in found["candidates"]:
        counts = found["counts"][candidate]
        assert found["totals"][candidate] == sum(counts[name] for name in [*selection.COUNTS, selection.PHOTOS])
        assert counts[selection.PHOTOS] >= 1  # the photos are read (a count of 0 would hold the sum either way)


@pytest.mark.parametrize("argv, message", [
    (["--judge", "none", "--judge", str(PIECE_JUDGE_FILE), "--cuts", "4"], "--cuts compares settings with one --judge, received 2"),
    (["--judge", "none", "--cuts", "4", "--width-prior", "0.9,0.3"],
     "compare one of --width-prior, --cuts, --seam, --pair-reader, --pair-alone, --wide-alone, --pair-veto, "
     "--lone-pairs and --strokes at a time, "
     "received --width-prior and --cuts"),
    (["--judge", "none", "--alone", "5"], "--alone guards segmenter settings, and pair readers with --by-total; received 1 --judge and no setting"),
    (["--judge", "none", "--pair-reader", "none", "--alone", "5"],
     "--alone guards segmenter settings, and pair readers with --by-total; received --pair-reader"),
    (["--judge", "none", "--cuts", "4", "--by-total"], "--by-total chooses among pair readers; received no --pair-reader"),
    (["--judge", "none", "--cuts", "4", "--alone", "-1"], "--alone takes a whole number from 0, received -1"),
    (["--judge", "none", "--pair-alone", "maybe"], "takes yes or no, received 'maybe'"),
    (["--judge", "none", "--lone-pairs", "maybe"], "takes no, yes, sure, received 'maybe'"),
    (["--judge", "none", "--seam", "1.5"], "takes a number from 0 to 1, received '1.5'"),
    (["--judge", "none", "--seam", "wide"], "takes a number from 0 to 1, received 'wide'"),
    (["--judge", "none", "--cuts", "0"], "takes a whole number from 1, received '0'"),
    (["--judge", "none", "--width-prior", "0.9"], "takes two numbers, FREE,SLOPE, received '0.9'"),
])
def test_bad_setting_comparisons_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        selection.main(argv)
    assert message in capsys.readouterr().err


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


@pytest.mark.parametrize("candidate, message", [
    ("missing.npz", "--pair-reader missing.npz: not a pair reader file"),
    (str(PIECE_JUDGE_FILE), "a pair reader has 101 outputs, this file has 11"),
])
def test_a_file_that_is_no_pair_reader_is_named(candidate, message):
    with pytest.raises(DataError, match=message):
        selection.main(["--judge", "none", "--pair-reader", "none", "--pair-reader", candidate])


def test_a_letter_number_is_read_right_with_any_digit_for_its_letter():
    assert selection.read_right("742", "7?2") and selection.read_right("712", "7?2")
    assert not selection.read_right("7142", "7?2")  # the letter read as two digits
    assert not selection.read_right("72", "7?2") and not selection.read_right("743", "7?2")
    assert selection.read_right("2026", "2026") and not selection.read_right("2027", "2026")


def test_a_candidate_wins_on_letters_only_by_more_than_the_tie_and_keeping_its_total():
    totals = {"shipped": 416, "letters": 414}
    assert selection.choose_with_letters(totals, {"shipped": 150, "letters": 154}) == "letters"
    assert selection.choose_with_letters(totals, {"shipped": 150, "letters": 153}) == "shipped"  # within the tie
    assert selection.choose_with_letters({"shipped": 416, "letters": 412}, {"shipped": 150, "letters": 190}) == "shipped"


def test_letters_and_lone_non_digits_guard_a_setting_that_wins_on_the_total():
    totals = {"as it is": 410, "new": 415}
    assert selection.choose_guarded(totals, {"as it is": 130, "new": 127}) == "new"  # 3 fewer: within the tie
    assert selection.choose_guarded(totals, {"as it is": 130, "new": 126}) == "as it is"
    assert selection.choose_guarded({"as it is": 410, "new": 413}, {"as it is": 130, "new": 150}) == "as it is"
    letters, alone = {"as it is": 130, "new": 131}, {"as it is": 296, "new": 292}
    assert selection.choose_guarded(totals, letters) == "new"
    assert selection.choose_guarded(totals, letters, alone) == "as it is"  # 4 more non-digits cut


def test_the_large_draw_reads_other_numbers_three_times_as_many_with_its_own_tie():
    small = selection.validation_sets({"4 digits": 4, "2-6 digits": 4, "one digit": 2, "low resolution": 2})
    large = selection.validation_sets({"4 digits": 4, "2-6 digits": 4, "one digit": 2, "low resolution": 2}, draw="large")
    for name in ("4 digits", "2-6 digits"):
        assert [n for _, n in small[name]] != [n for _, n in large[name]]
    assert all(len(large[name]) == len(small[name]) for name in small)  # shortened alike
    totals = {"as it is": 1240, "new": 1244}
    assert selection.choose(totals, settings=True) == "new"
    assert selection.choose(totals, settings=True, tie=selection.LARGE_TIE) == "as it is"
    assert selection.choose_guarded({"as it is": 1240, "new": 1250}, {"as it is": 400, "new": 396},
                                    tie=selection.LARGE_TIE) == "new"


def test_the_small_draw_is_the_rules_first_sets():
    """The four sets every rule before --draw read: number_synth seeds 7001-7003 and 7201, the 2-6 lengths
    from default_rng(7002) over 120 numbers."""
    from digitnet.data.number_synth import number_set
    from digitnet.experiments.reading_sets import split_digits

    digits, labels = split_digits("fit")
    lengths = np.random.default_rng(7002).integers(2, 7, 120)[:5]
    sets = selection.validation_sets({"4 digits": 5, "2-6 digits": 5, "one digit": 1, "low resolution": 1})
    assert [n for _, n in sets["4 digits"]] == [n for _, n, _ in number_set(digits, labels, [4] * 5, 7001)]
    assert [n for _, n in sets["2-6 digits"]] == [n for _, n, _ in number_set(digits, labels, lengths, 7002)]


def test_a_non_digit_alone_is_kept_whole_when_read_as_at_most_one_digit():
    assert selection.kept_whole("", "?") and selection.kept_whole("4", "?")
    assert not selection.kept_whole("14", "?")


@pytest.mark.parametrize("cut_alone, chosen", [(5, "wide alone 1.4"), (0, "wide alone 1")])
def test_main_lets_lone_non_digits_guard_a_setting_that_wins_on_the_total(tmp_path, monkeypatch, cut_alone, chosen):
    """The candidate reads 10 more numbers whole; it gives way only when it cuts more than TIE more of
    the non-digits alone (counts stand in for the readings, so that the rule's wiring is what is tested)."""
    monkeypatch.setattr(selection, "validation_sets", lambda draw="small": {name: [] for name in selection.COUNTS})
    monkeypatch.setattr(selection, "alone_set", lambda count, draw="small": [])
    monkeypatch.setattr(selection, "predictor_of", lambda model: None)

    def whole_counts(sets, classify, judge, progress=None, **settings):
        new = settings["wide_alone"] != 1.4
        return {**{name: 100 + (10 if new and name == "4 digits" else 0) for name in selection.COUNTS},
                selection.ALONE: 290 - (cut_alone if new else 0)}

    monkeypatch.setattr(selection, "whole_counts", whole_counts)
    output = tmp_path / "scores.json"
    assert selection.main(["--judge", str(PIECE_JUDGE_FILE), "--wide-alone", "1.4", "--wide-alone", "1.0",
                           "--alone", "300", "--output", str(output), "--model", "m.tflite"]) == 0
    found = json.loads(output.read_text())
    assert found["chosen"] == chosen and found["letters"] is None
    assert found["alone"] == {"wide alone 1.4": 290, "wide alone 1": 290 - cut_alone}


@pytest.mark.slow
def test_main_with_letters_reads_them_apart_from_the_total_and_chooses_by_them(tmp_path, monkeypatch):
    monkeypatch.setattr(selection, "COUNTS", {"4 digits": 2, "2-6 digits": 2, "one digit": 2, "low resolution": 2})
    monkeypatch.setattr(selection, "TIE", 0)  # with 3 letter numbers a tie of 3 would always keep the first
    output = tmp_path / "scores.json"
    assert selection.main(["--judge", str(PIECE_JUDGE_FILE), "--pair-reader", "none", "--pair-reader",
                           str(PAIR_READER_FILE), "--letters", "3", "--output", str(output)]) == 0
    found = json.loads(output.read_text())
    for candidate in found["candidates"]:
        counts = found["counts"][candidate]
        assert sum(counts[name] for name in selection.COUNTS) == found["totals"][candidate]
        assert 0 <= counts["letters"] <= 3 and found["letters"][candidate] == counts["letters"]
    assert found["sets"]["letters"] == 3
    in_order = found["candidates"]  # the file's keys are sorted; the rule reads the candidates in their order
    assert found["chosen"] == selection.choose_with_letters({c: found["totals"][c] for c in in_order},
                                                            {c: found["letters"][c] for c in in_order})


@pytest.mark.parametrize("flags, chosen", [([], "pair reader as it is"), (["--by-total"], "pair reader wide")])
def test_by_total_chooses_pair_readers_on_the_total_with_letters_and_lone_non_digits_guarding(
        tmp_path, monkeypatch, flags, chosen):
    """The wide reader reads 10 more numbers whole and as many letter numbers: by the letters rule the one
    as it is stays, by the total the wide one wins (counts stand in for the readings)."""
    monkeypatch.setattr(selection, "validation_sets", lambda draw="small": {name: [] for name in selection.COUNTS})
    monkeypatch.setattr(selection, "letter_set", lambda count, draw="small": [])
    monkeypatch.setattr(selection, "alone_set", lambda count, draw="small": [])
    monkeypatch.setattr(selection, "predictor_of", lambda model: None)
    monkeypatch.setattr(selection, "pair_reader_of", lambda candidate: candidate)

    def whole_counts(sets, classify, judge, progress=None, **settings):
        new = settings["read_pair"] == "wide"
        return {**{name: 100 + (10 if new and name == "4 digits" else 0) for name in selection.COUNTS},
                selection.LETTERS: 150, selection.ALONE: 290}

    monkeypatch.setattr(selection, "whole_counts", whole_counts)
    output = tmp_path / "scores.json"
    alone = ["--alone", "300"] if flags else []
    assert selection.main(["--judge", str(PIECE_JUDGE_FILE), "--pair-reader", "as it is", "--pair-reader", "wide",
                           "--letters", "200", *alone, *flags, "--output", str(output), "--model", "m.tflite"]) == 0
    assert json.loads(output.read_text())["chosen"] == chosen
