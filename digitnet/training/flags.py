"""Command-line flags made from TrainConfig's fields, so that each setting is written once.

    parser = argparse.ArgumentParser()
    flags.add_config_flags(parser)                                  # a flag per field
    flags.add_config_flags(parser, ("epochs", "jit_compile"),      # some fields, one default changed
                           overrides={"epochs": {"default": 4, "help": "epochs per model"}})
    config = flags.config_from_args(parser.parse_args())

A flag is --field-name (or the field's `flag`), its dest the field's name, its
default, help and choices the field's (config.setting), its type the field's
annotation without None: a bool is a switch, a tuple a comma-separated list,
and a field with a `flag_value` a switch that sets that value (verbose: --quiet).
This module imports neither TensorFlow nor Keras.
"""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping

from digitnet.training.config import NOT_ON_CLI, TrainConfig

_FIELDS = {field.name: field for field in dataclasses.fields(TrainConfig)}
_HINTS = typing.get_type_hints(TrainConfig)
# Every field with a flag, in TrainConfig's order.
CLI_FIELDS = tuple(name for name in _FIELDS if name not in NOT_ON_CLI)


def flag_name(name: str) -> str:
    """The flag of the TrainConfig field `name`: batch_size -> --batch-size, verbose -> --quiet."""
    return _FIELDS[name].metadata.get("flag") or "--" + name.replace("_", "-")


def value_type(name: str) -> type:
    """The field's annotated type without None: int | None -> int, tuple[str, ...] -> tuple."""
    hint = _HINTS[name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    return typing.get_origin(hint) or hint


def comma_separated(text: str) -> tuple[str, ...]:
    """'saved_model,tflite' -> ('saved_model', 'tflite'); '' -> ()."""
    return tuple(part for part in text.split(",") if part)


def flag_arguments(name: str) -> dict:
    """The keyword arguments of argparse's add_argument for the field `name`."""
    field = _FIELDS[name]
    meta = field.metadata
    # argparse formats help with %: a literal "99 %" must reach it as "99 %%".
    arguments = {"dest": name, "default": field.default, "help": meta["help"].replace("%", "%%")}
    kind, choices = value_type(name), meta.get("choices")
    if "flag_value" in meta:
        arguments.update(action="store_const", const=meta["flag_value"])
    elif kind is bool:
        arguments["action"] = argparse.BooleanOptionalAction if field.default else "store_true"
    elif kind is tuple:
        arguments.update(type=comma_separated, metavar=flag_name(name).lstrip("-").upper().replace("-", "_"))
        if choices is not None:
            arguments["help"] += f" (comma-separated: {','.join(choices)})"
    else:
        arguments["type"] = kind
        if choices is not None:
            arguments["choices"] = choices
    return arguments


def add_config_flags(parser: argparse.ArgumentParser, names: Iterable[str] = CLI_FIELDS,
                     overrides: Mapping[str, Mapping] | None = None) -> None:
    """Adds the flags of the TrainConfig fields `names` to `parser`, in that order.

    `overrides` maps a field's name to add_argument arguments that replace the
    field's own, for a command whose setting differs (a benchmark's epochs)."""
    for name in names:
        if name not in CLI_FIELDS:
            raise ValueError(f"TrainConfig has no command-line field {name!r}")
        parser.add_argument(flag_name(name), **{**flag_arguments(name), **(overrides or {}).get(name, {})})


def config_values(args: argparse.Namespace, names: Iterable[str] = CLI_FIELDS) -> dict:
    """The parsed values of the TrainConfig fields `names`, by field name."""
    return {name: getattr(args, name) for name in names}


def config_from_args(args: argparse.Namespace, names: Iterable[str] = CLI_FIELDS, **fixed) -> TrainConfig:
    """The TrainConfig of the parsed flags `names`, with the fields in `fixed` set by the command."""
    return TrainConfig(**{**config_values(args, names), **fixed})
