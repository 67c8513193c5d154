"""Consoles for people and for programs: tables are data, so they go to stdout; messages and
progress go to ``App.console`` on stderr.

Both follow the same rules, so ``gemmtune ... > out.txt`` captures readable plain text:

- width: ``COLUMNS`` when it is set; else the terminal's; else (a pipe or a file) 80, the
  width a reader's terminal most likely has;
- styles: none at all (no colour, bold or italic escapes) when ``NO_COLOR`` is set to anything
  non-empty (https://no-color.org) or the stream is not a terminal.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Callable, Sequence, TextIO

PIPE_WIDTH = 80  # a pipe has no width to detect; the width a terminal reading it most likely has


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def plain(stream: TextIO) -> bool:
    """True when ``stream`` must get text without any escape sequence."""
    return bool(os.environ.get("NO_COLOR")) or not _isatty(stream)


def width_for(stream: TextIO) -> int | None:
    """Columns to lay tables out in: COLUMNS, else None (rich asks the terminal), else 80."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if _isatty(stream) else PIPE_WIDTH


class _TrimmedLines:
    """A stream that drops the spaces rich pads plain lines with (a table's title and rows
    are padded to the full width), so a file of output has no trailing blanks."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_TRAILING.sub("\n", text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


_TRAILING = re.compile(r"[ \t]+\n")


def make_console(stream: TextIO | None = None, *, stderr: bool = False) -> Any:
    """A rich console on ``stream`` (default stdout, or stderr) following the rules above.

    The stream is looked up when the console is made, so a console made inside a command
    writes where the command's stdout/stderr are at that moment (a test runner's capture).
    """
    from rich.console import Console

    if stream is None:
        stream = sys.stderr if stderr else sys.stdout
    is_plain = plain(stream)
    width = width_for(stream)
    if is_plain and not _isatty(stream):
        stream = _TrimmedLines(stream)  # type: ignore[assignment]
    return Console(file=stream, width=width, highlight=False,
                   color_system=None if is_plain else "auto", no_color=is_plain or None,
                   emoji=False)


def stdout_console() -> Any:
    """A rich console on stdout, for data (tables)."""
    return make_console(sys.stdout)


def fit_table(console: Any, build: Callable[[set[str], bool], Any], optional: Sequence[str]) -> Any:
    """The first table that fits ``console``'s width among: ``build(set(), False)`` (one line
    per row), ``build(set(), True)`` (compact: cells folded onto lines of their own by the
    builder), then compact tables dropping the ``optional`` columns in order, least useful
    first (they stay in ``--json``). The last one is returned if none fits.

    Folding is the builder's (explicit line breaks), never rich's, so no cell is ever cut
    to "…" and the rows read the same at every width.
    """
    from rich.measure import Measurement

    def fits(table: Any) -> bool:
        # Measured unclamped: rich clamps a measurement to the width it is given.
        need = Measurement.get(console, console.options.update_width(10_000), table).maximum
        return need <= console.width

    table = build(set(), False)
    if fits(table):
        return table
    dropped: set[str] = set()
    table = build(dropped, True)
    for name in optional:
        if fits(table):
            break
        dropped = dropped | {name}
        table = build(dropped, True)
    return table
