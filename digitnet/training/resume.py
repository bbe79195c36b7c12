"""Where a run starts: fresh, after a completed epoch, or not at all (finished).

Every worker of a run must start at the same place, or their collectives
stop matching. Each worker describes what its folder holds in one row of
numbers (its settings' fingerprint, the chief's verdict on its folder, the
epochs it has saved); the rows are exchanged by the run's feed (one
all-reduce under a tf.distribute strategy: distribute.gather_rows) and every
worker applies the same rule to them:

- the chief's folder holds this finished run: all reuse it;
- the chief's folder is empty or holds another run: all start fresh;
- the chief's run is unfinished: all resume after the latest epoch that
  every worker has saved, or, if there is none, all refuse with one line.

On one machine (and on the arrays feed, always) the same rule applies to the
one row. An unfinished run started by another feed (--feed) is not resumed
but moved aside: the order of its remaining epochs would be another feed's.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from digitnet.core.errors import ConfigError
from digitnet.training import run_folder
from digitnet.training.callbacks import EpochBackup
from digitnet.training.config import TrainConfig

VERDICTS = ("empty", "finished", "unfinished", "other", "refused")
# Epochs saved per worker that a row can carry (EpochBackup keeps 2 per stage).
MAX_SAVED = 8
STAGE_SCALE = 100_000


@dataclasses.dataclass(frozen=True)
class ResumePoint:
    finished: bool = False
    # (stage index, epochs completed in it) to continue after; None: from the start.
    after: tuple[int, int] | None = None
    # Why the chief's folder is moved aside first ("" when it is not).
    move_aside: str = ""
    # Whether a non-chief worker deletes its own stale state first.
    clear: bool = False

    @property
    def resumed(self) -> bool:
        return self.after is not None

    def epochs_completed(self, stage_index: int, stage_epochs: int) -> int:
        if self.after is None or stage_index > self.after[0]:
            return 0
        return stage_epochs if stage_index < self.after[0] else self.after[1]


def agree_on_start(config: TrainConfig, folder: Path, stages, feed) -> ResumePoint:
    """Where every worker of `feed` (feeds.py: its worker_index and gather_rows) starts the run."""
    chief = feed.worker_index == 0
    state, refusal = _inspect(folder, config, chief)
    row = [_fingerprint(config), float(chief), float(VERDICTS.index(state.kind)), *_saved_points(folder, stages)]
    rows = feed.gather_rows(row)
    if refusal is not None:
        raise refusal
    return decide(rows, chief, state)


def _inspect(folder: Path, config: TrainConfig, chief: bool):
    """The chief's verdict on its folder, and its refusal, kept until every worker has heard of it."""
    if not chief:
        return run_folder.FolderState("empty"), None
    try:
        state = run_folder.inspect(folder, config)
    except ConfigError as error:
        return run_folder.FolderState("refused"), error
    started_by = _saved_feed(folder)
    if state.kind == "unfinished" and started_by != config.feed:
        return run_folder.FolderState("other", f"it holds an unfinished run of --feed {started_by}"), None
    return state, None


def _saved_feed(folder: Path) -> str:
    """The feed that started the run in `folder` (runs saved before feeds were named: tfdata)."""
    try:
        return json.loads((folder / run_folder.CONFIG).read_text())["config"].get("feed", "tfdata")
    except (OSError, ValueError, KeyError, AttributeError):
        return "tfdata"


def decide(rows: list[list[float]], chief: bool, state: run_folder.FolderState) -> ResumePoint:
    """The same ResumePoint on every worker, from every worker's row."""
    if len({row[0] for row in rows}) > 1:
        raise ConfigError("the workers were started with different settings; run the same command on every worker")
    chief_row = next(row for row in rows if row[1] == 1.0)
    verdict = VERDICTS[int(chief_row[2])]
    if verdict == "refused":
        raise ConfigError("the chief refused its --output-dir (its own message says why); nothing was trained")
    if verdict == "finished":
        return ResumePoint(finished=True)
    if verdict in ("empty", "other"):
        return ResumePoint(move_aside=state.reason if chief and verdict == "other" else "", clear=not chief)
    saved = [{int(p) for p in row[3:] if p >= 0} for row in rows]
    if not saved[rows.index(chief_row)]:
        return ResumePoint(clear=not chief)  # interrupted before its first epoch ended
    common = set.intersection(*saved)
    if not common:
        held = "; ".join(f"worker {i}: {_describe(points)}" for i, points in enumerate(saved))
        raise ConfigError(f"the workers cannot resume together: they hold no common completed epoch ({held}); "
                          "run the same command with --fresh on every worker to start over")
    return ResumePoint(after=divmod(max(common), STAGE_SCALE))


def _describe(points: set[int]) -> str:
    if not points:
        return "none"
    return ", ".join(f"stage {stage + 1} epoch {epoch}" for stage, epoch in sorted(map(
        lambda p: divmod(p, STAGE_SCALE), points)))


def _saved_points(folder: Path, stages) -> list[float]:
    """The completed epochs saved in `folder`, as stage * STAGE_SCALE + epochs, padded with -1."""
    points = [index * STAGE_SCALE + epoch for index, stage in enumerate(stages)
              for epoch in EpochBackup(folder / run_folder.BACKUP / stage.name).saved_epochs()]
    points = sorted(points)[-MAX_SAVED:]
    return [float(p) for p in points] + [-1.0] * (MAX_SAVED - len(points))


def _fingerprint(config: TrainConfig) -> float:
    """31 bits of the settings that change the result (exact in the float64 the all-reduce carries)."""
    text = json.dumps(config.result_fields(), sort_keys=True)
    return float(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) >> 1)
