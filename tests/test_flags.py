"""The command-line flags come from TrainConfig's fields (digitnet/training/flags.py), each setting written once."""
import argparse
import dataclasses

import pytest
from conftest import run_python

from digitnet import train
from digitnet.data.sources import DATA_SOURCES
from digitnet.models.registry import REGISTRY
from digitnet.training import config, flags
from digitnet.training.config import NOT_ON_CLI, TrainConfig

CHOICES = {"arch": REGISTRY, "data_source": DATA_SOURCES, "strategy": config.STRATEGIES,
           "jit_compile": config.JIT_CHOICES, "lr_schedule": config.LR_SCHEDULES, "augment": config.AUGMENT_PRESETS}


def actions(parser: argparse.ArgumentParser) -> dict:
    return {action.dest: action for action in parser._actions}


def test_every_field_has_a_flag_except_those_listed_off_the_cli():
    parser_actions = actions(train.build_parser())
    for field in dataclasses.fields(TrainConfig):
        assert (field.name in parser_actions) == (field.name not in NOT_ON_CLI), field.name
        assert field.name in NOT_ON_CLI or field.metadata["help"], field.name
    assert set(flags.CLI_FIELDS) == {f.name for f in dataclasses.fields(TrainConfig)} - NOT_ON_CLI


def test_no_flags_give_the_config_defaults():
    assert train.config_from_args(train.build_parser().parse_args([])) == TrainConfig()


def test_flags_keep_their_names_and_meaning():
    args = train.build_parser().parse_args(
        ["--arch", "bpnn", "--epochs", "3", "--learning-rate", "0.01", "--deterministic", "--quiet",
         "--export", "saved_model,tflite", "--jit-compile", "off", "--augment", "elastic-only", "--debug"])
    assert train.config_from_args(args) == TrainConfig(
        arch="bpnn", epochs=3, learning_rate=0.01, deterministic=True, verbose=0,
        export_formats=("saved_model", "tflite"), jit_compile="off", augment="elastic-only")
    assert args.debug
    assert flags.flag_name("verbose") == "--quiet" and flags.flag_name("export_formats") == "--export"
    assert flags.flag_name("steps_per_execution") == "--steps-per-execution"


@pytest.mark.parametrize("name", list(CHOICES))
def test_choices_come_from_the_one_constant(name):
    assert actions(train.build_parser())[name].choices is CHOICES[name]


def test_export_lists_the_export_formats_in_its_help():
    assert ",".join(config.EXPORT_FORMATS) in actions(train.build_parser())["export_formats"].help


def test_registered_augmentations_are_presets():
    assert {spec.augment for spec in REGISTRY.values()} <= set(config.AUGMENT_PRESETS)


def test_a_subset_with_overrides_keeps_choices_and_changes_only_what_it_names():
    parser = argparse.ArgumentParser()
    flags.add_config_flags(parser, ("epochs", "lr_schedule"), {"epochs": {"default": 4}})
    assert flags.config_values(parser.parse_args([]), ("epochs", "lr_schedule")) == {"epochs": 4,
                                                                                    "lr_schedule": "cosine"}
    with pytest.raises(SystemExit):
        parser.parse_args(["--lr-schedule", "linear"])
    with pytest.raises(ValueError, match="no command-line field 'steps'"):
        flags.add_config_flags(argparse.ArgumentParser(), ("steps",))


def test_help_imports_no_tensorflow():
    code = ("import sys, contextlib, io\n"
            "from digitnet import train\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
            "    train.main(['--help'])\n"
            "assert '--steps-per-execution' in out.getvalue()\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = run_python(code, timeout=60)
    assert done.stdout.split() == ["False", "False"], done.stderr[-2000:]
