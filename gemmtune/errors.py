"""The one exception type the command line turns into a clear message and exit code 1.

A plain exception, so the library (``gemmtune.matmul``) does not import click; the root
command group (``gemmtune.cli.LazyGroup.invoke``) turns it into a ``click.ClickException``.
"""

from __future__ import annotations


class GemmtuneError(Exception):
    """A runtime failure a user can act on: one sentence, no traceback, exit code 1."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def format_message(self) -> str:
        return self.message
