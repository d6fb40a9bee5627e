"""The one error type that means "the user gave us something we cannot use".

The command line prints a ``UserError`` as a single line and exits with status 2; any
other exception is a bug and keeps its traceback.
"""


class UserError(ValueError):
    """Bad input from the user: a message that names the problem and the fix."""


class SettingError(UserError):
    """A ``UserError`` whose message names settings by their parameter names.

    ``settings`` lists the names the message uses as settings (``encoding``,
    ``batch_size``), so that a front end can write them in its own words: the command line
    writes ``--encoding``. A library user reads the names they passed.
    """

    def __init__(self, message: str, *settings: str) -> None:
        super().__init__(message)
        self.settings = settings
