"""The command line's exit codes and the one exception a command raises to fail with one of them."""

from __future__ import annotations

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A failure reported as one line on stderr with an exit code (no traceback)."""

    def __init__(self, message: str, code: int = EXIT_NOT_FOUND) -> None:
        super().__init__(message)
        self.code = code
