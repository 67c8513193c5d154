"""Tables are data, so they go to stdout (messages go to ``App.console`` on stderr)."""

from __future__ import annotations

import os
import sys

# Piped output has no terminal width; rich would squeeze tables into 80 columns and cut
# fingerprint ids and shapes, so a pipe gets room for the widest table.
PIPE_WIDTH = 160


def stdout_console():
    """A rich console on stdout honouring NO_COLOR."""
    from rich.console import Console

    width = None if sys.stdout.isatty() else PIPE_WIDTH
    return Console(file=sys.stdout, no_color=bool(os.environ.get("NO_COLOR")) or None,
                   highlight=False, width=width)
