"""Ctrl-C during a search: held while Optuna's storage is written, delivered after.

A KeyboardInterrupt in the middle of a storage call leaves a trial RUNNING for good, or a
SQLite transaction's lock behind it; ``runner.Search`` holds Ctrl-C everywhere but while a
candidate is compiled and measured.
"""

from __future__ import annotations

from typing import Any


class HeldCtrlC:
    """Ctrl-C held back while Optuna creates or closes a trial, delivered once it can be.

    Optuna writes a trial RUNNING in ``study.ask`` and its outcome in ``study.tell``, both
    outside the objective; a KeyboardInterrupt inside either (the sampler's work and the
    storage writes take longest on a loaded machine) leaves the trial RUNNING for good, or
    escapes from Optuna as another error. Between ``hold()`` and ``allow()`` SIGINT only
    marks itself pending; ``allow()`` raises it. Active only in the main thread with Python's
    own SIGINT handler in place (elsewhere no KeyboardInterrupt can arrive from a signal, or
    someone else handles it).
    """

    def __init__(self) -> None:
        self.holding = False
        self.pending = False
        self._previous: Any = None

    def __enter__(self) -> "HeldCtrlC":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        self.holding = self.pending = False

    def _handler(self, signum: int, frame: Any) -> None:
        if self.holding:
            self.pending = True
        else:
            raise KeyboardInterrupt

    def hold(self) -> None:
        self.holding = True

    def allow(self) -> None:
        """Stop holding; raise the Ctrl-C that came while held."""
        self.holding = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt
