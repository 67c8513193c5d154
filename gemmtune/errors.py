"""The one exception type the command line turns into a clear message and exit code 1."""

from __future__ import annotations

import click


class GemmtuneError(click.ClickException):
    """A runtime failure a user can act on: one sentence, no traceback, exit code 1."""

    exit_code = 1
