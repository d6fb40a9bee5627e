"""The one error type that means "the user gave us something we cannot use".

The command line prints a ``UserError`` as a single line and exits with status 2; any
other exception is a bug and keeps its traceback.
"""


class UserError(ValueError):
    """Bad input from the user: a message that names the problem and the fix."""
