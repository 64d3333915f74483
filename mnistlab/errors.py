"""The one exception a user is meant to see.

Anything the user can fix (bad flags, bad files, bad data) is raised as `UserError`; the
command line prints its message on one line and exits with code 2, never a traceback.
"""


class UserError(Exception):
    """A problem with the user's input, reported as one line and exit code 2."""


class DataError(UserError):
    """A data file is missing, truncated, malformed or fails its checksum."""


class ModelFileError(UserError):
    """A model file is corrupt, not ours, of a newer format, or of the wrong architecture."""


class DivergedError(UserError):
    """Training produced a NaN or infinite loss."""


def flag(setting: str) -> str:
    """The command-line flag a setting comes from, as users type it: lr_decay → --lr-decay."""
    return "--" + setting.replace("_", "-")
