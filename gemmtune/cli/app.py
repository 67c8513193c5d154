"""State shared by every command: where files live and how to talk to the user."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

from ..paths import cache_dir


@dataclass
class App:
    """Passed to every command through ``ctx.obj``."""

    cache_dir: str | None = None

    @cached_property
    def root(self) -> Path:
        from ..errors import GemmtuneError

        try:
            return cache_dir(self.cache_dir)
        except ValueError as e:  # a file where the directory should be
            raise GemmtuneError(str(e)) from None

    @cached_property
    def console(self):
        """A rich console on stderr: people read stderr, programs read stdout."""
        from .tables import make_console

        return make_console(stderr=True)

    def data_console(self, as_json: bool = False):
        """Where a command's table goes: stdout, unless ``--json`` holds stdout (then stderr,
        so stdout stays exactly one JSON document)."""
        if as_json:
            return self.console
        from .tables import stdout_console

        return stdout_console()

    @contextmanager
    def warnings_to_console(self) -> Iterator[None]:
        """Show gemmtune's warnings (e.g. a corrupt cache moved aside) as one line on stderr."""
        import warnings

        def show(message, category, filename, lineno, file=None, line=None):
            self.console.print(f"warning: {message}", markup=False, soft_wrap=True)

        with warnings.catch_warnings():
            warnings.showwarning = show
            yield

    def print_json(self, doc: Any) -> None:
        """Exactly one JSON document on stdout."""
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")
        sys.stdout.flush()
