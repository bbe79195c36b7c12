"""Every command the documents show still runs as written: its module or script exists and takes those flags.

The commands are read from the fenced code blocks of the READMEs. A digitnet
command's arguments go through that command's own parser (build_parser), so a
renamed flag, a removed choice or a moved module fails here; a script's flags
must be ones the script defines. Nothing is trained or run.
"""
from __future__ import annotations

import argparse
import importlib
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", "benchmarks/README.md", "reports/README.md", "export/README.md"]
COMMAND = re.compile(r"^(?:[A-Z_]+=\S+\s+)*python3? (-m digitnet\.[a-z_]+|[a-z_/]+\.py)(.*)$")
# Shell-only words in the documents' examples: what a user types in their place.
PLACEHOLDERS = {"S": "0", "A": "lenet", "M": "saved_models/lenet/1", "N": "3"}


def fenced_lines(text: str) -> list[str]:
    lines, inside, pending = [], False, ""
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
            continue
        if inside:
            line = pending + line.strip()
            pending = line[:-1] + " " if line.endswith("\\") else ""
            if not pending:
                lines.append(line)
    return lines


def documented_commands() -> list[tuple[str, str, list[str]]]:
    commands = []
    for document in DOCUMENTS:
        for line in fenced_lines((ROOT / document).read_text()):
            line = re.sub(r"\s+#.*$", "", line.split("&&")[-1].strip()).strip()
            match = COMMAND.match(line)
            if match:
                words = [PLACEHOLDERS.get(w, w) for w in shlex.split(match.group(2))]
                commands.append((document, match.group(1), words))
    return commands


COMMANDS = documented_commands()


def test_the_documents_show_commands_of_every_kind():
    """The reader finds commands, so a broken extraction cannot pass silently."""
    targets = {target for _, target, _ in COMMANDS}
    assert {"-m digitnet.train", "-m digitnet.committee", "-m digitnet.export", "-m digitnet.reproduce"} <= targets
    assert any(target.startswith("benchmarks/") for target in targets), targets


@pytest.mark.parametrize("document,target,words", COMMANDS,
                         ids=[f"{d}:{t} {' '.join(w)}"[:90] for d, t, w in COMMANDS])
def test_a_documented_command_parses(document, target, words, capsys):
    if target.startswith("-m "):
        module = importlib.import_module(target[3:])
        parser: argparse.ArgumentParser = module.build_parser()
        try:
            parser.parse_args(words)
        except SystemExit as stop:
            assert stop.code == 0, f"{document}: python {target} {' '.join(words)}: {capsys.readouterr().err}"
        return
    script = ROOT / target
    assert script.is_file(), f"{document} runs {target}, which does not exist"
    source = script.read_text()
    for flag in (w.split("=")[0] for w in words if w.startswith("--")):
        # A flag of its own, or a TrainConfig field it takes through flags.add_config_flags.
        names = (flag, flag[2:].replace("-", "_"))
        assert any(f'"{n}"' in source or f"'{n}'" in source for n in names), f"{document}: {target} defines no {flag}"


def test_a_removed_flag_is_caught():
    """The check itself: a flag no parser defines fails the way a stale document would."""
    parser = importlib.import_module("digitnet.train").build_parser()
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(["--arch", "lenet", "--no-such-flag"])
    assert stop.value.code == 2
