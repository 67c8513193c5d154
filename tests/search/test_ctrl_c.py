"""HeldCtrlC (gemmtune/search/ctrl_c.py): a SIGINT while held is delivered at ``allow()``."""

from __future__ import annotations

import os
import signal

import pytest

from gemmtune.search.ctrl_c import HeldCtrlC


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler for the test (a run started in the background ignores
    SIGINT, and HeldCtrlC only steps in over Python's handler)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_sigint_while_held_waits_for_allow(python_sigint):
    with HeldCtrlC() as ctrl_c:
        ctrl_c.hold()
        os.kill(os.getpid(), signal.SIGINT)   # delivered to the main thread, held
        assert ctrl_c.pending
        with pytest.raises(KeyboardInterrupt):
            ctrl_c.allow()
        assert not ctrl_c.pending
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_sigint_while_allowed_interrupts_at_once(python_sigint):
    with HeldCtrlC() as ctrl_c:
        ctrl_c.allow()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10 ** 6):   # the handler runs between bytecodes
                pass
