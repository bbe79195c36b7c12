"""Errors that digitnet reports to users as one clear line instead of a traceback."""


class DigitnetError(Exception):
    """Base class: the message says what was wrong and what was received."""


class DataError(DigitnetError):
    """A data file or data source is missing, unreadable or malformed."""


class ConfigError(DigitnetError):
    """A flag or argument has a value that cannot work."""


class TrainingError(DigitnetError):
    """Training could not go on (for example the loss became NaN)."""
