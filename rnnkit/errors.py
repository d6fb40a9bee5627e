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


QUOTE_CHARS = 60  # of a quoted line: enough to find it, short enough for one line


def quoted(text: str, limit: int = QUOTE_CHARS) -> str:
    """TEXT stripped and quoted for an error message, cut to LIMIT characters (with "...").

    Args:
        text: a line of the user's input, possibly thousands of characters long.
        limit: the most characters of it to show.

    Outputs:
        ``repr`` of the stripped text, or of its first LIMIT characters followed by "...".
    """
    text = text.strip()
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}..."
