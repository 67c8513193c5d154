"""TEST-ONLY fault injection, through one environment variable.

``GEMMTUNE_TEST_FAULT`` is a comma-separated list; each item injects one fault, to prove that
a search survives it and that no wrong kernel is ever cached or used:

- ``crash@N``, ``hang@N``, ``wrong@N``: the search's trial N crashes its worker process,
  never returns, or returns a wrong C (without ``@N``: every trial);
- ``wrong:LABEL``: the kernel whose ``label()`` is LABEL computes a wrong C wherever it runs
  (search, bench, ``matmul``), as a generator or compiler bug would; its module gets its own
  file name, so it never replaces a good kernel on disk.

Nothing reads this variable but the two functions below.
"""

from __future__ import annotations

import os

ENV = "GEMMTUNE_TEST_FAULT"


def _items(spec: str | None) -> list[str]:
    spec = os.environ.get(ENV, "") if spec is None else spec
    return [s.strip() for s in spec.split(",") if s.strip()]


def trial_fault(trial: int | None, spec: str | None = None) -> str | None:
    """The fault asked for on search trial ``trial``: "crash", "hang", "wrong", "slow" (hangs
    after compiling: the time-based early stop must end it) or None."""
    for item in _items(spec):
        if ":" in item:
            continue
        kind, _, at = item.partition("@")
        if at == "" or (trial is not None and at.isdigit() and int(at) == trial):
            return kind
    return None


def corrupted(label: str, spec: str | None = None) -> bool:
    """True when the kernel labelled ``label`` must compute a wrong C."""
    return f"wrong:{label}" in _items(spec)
