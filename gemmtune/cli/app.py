"""State shared by every command: where files live and how to talk to the user."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..paths import cache_dir


@dataclass
class App:
    """Passed to every command through ``ctx.obj``."""

    cache_dir: str | None = None

    @cached_property
    def root(self) -> Path:
        return cache_dir(self.cache_dir)

    @cached_property
    def console(self):
        """A rich console on stderr: people read stderr, programs read stdout."""
        from rich.console import Console

        return Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")) or None,
                       highlight=False)

    def print_json(self, doc: Any) -> None:
        """Exactly one JSON document on stdout."""
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")
        sys.stdout.flush()
