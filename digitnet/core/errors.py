"""Errors that digitnet reports to users as one clear line instead of a traceback."""


class DigitnetError(Exception):
    """Base class: the message says what was wrong and what was received."""


class DataError(DigitnetError):
    """A data file or data source is missing, unreadable or malformed."""


class ConfigError(DigitnetError):
    """A flag or argument has a value that cannot work."""


class TrainingError(DigitnetError):
    """Training could not go on (for example the loss became NaN)."""


class FolderInUseError(DigitnetError):
    """Another process holds the folder (a run, a committee) that this command would write."""


class WriteError(DigitnetError):
    """A file could not be written: no space left, no permission, a read-only file system.

    `what` names the file and its folder, `reason` the cause, `advice` what
    the user can do about it ('make room'), `kept` what the folder still holds
    and how to go on (added by the command, which knows it)."""

    def __init__(self, what: str, reason: str, advice: str = "", kept: str = ""):
        self.what, self.reason, self.advice, self.kept = what, reason, advice, kept
        super().__init__(f"could not write {what}: {reason}" + (f"; {kept}" if kept else ""))

    def keeping(self, kept: str) -> "WriteError":
        """The same failure, saying what is kept (a message that already says so is left as it is)."""
        return self if self.kept else WriteError(self.what, self.reason, self.advice, kept)
