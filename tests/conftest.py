"""Fixtures shared by the whole suite: an isolated cache directory and a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner, Result

# Searches time every candidate and the finish with samples a tenth of their real length
# (gemmtune/measure.py: search_sample_seconds); the samples and rounds, and every rule on
# them, are the real ones. Set here, so `gemmtune search` processes the tests start inherit
# it. GEMMTUNE_TEST_TIMING_SCALE=1 runs the real lengths.
os.environ.setdefault("GEMMTUNE_TEST_TIMING_SCALE", "0.1")

# Hypothesis: HYPOTHESIS_PROFILE=thorough runs every property test at its full count of
# examples (``examples(n)``: n) and the others at 300; by default the costly ones (each
# example compiles or multiplies) run a third of theirs.
THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"


def _hypothesis_profiles() -> None:
    from hypothesis import settings

    settings.register_profile("thorough", max_examples=300)
    if THOROUGH:
        settings.load_profile("thorough")


_hypothesis_profiles()


def examples(n: int) -> int:
    """``n`` examples with HYPOTHESIS_PROFILE=thorough, a third of them (at least 5) by default."""
    return n if THOROUGH else max(5, n // 3)


# Tests that time something and judge the figure (a CPU share, a busy verdict, a ratio of
# two timings) run while no other test of the run does: with pytest-xdist (the README's
# `-n 2`) the other worker's compiles would take the core they measure. Every test holds a
# shared lock on one file per run; a `quiet_cores` test holds it exclusively. A turnstile
# lock in front keeps a waiting quiet test from starving behind a stream of shared holders.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:   # one process: tests run one at a time anyway
        yield
        return
    import fcntl

    # The lock files live in the run's temporary directory, which pytest deletes with it.
    base = run_temp(item.config._tmp_path_factory) / f"cores-{run}"
    quiet = item.get_closest_marker("quiet_cores") is not None
    with open(f"{base}.turnstile", "a") as gate, open(f"{base}.cores", "a") as cores:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(cores, fcntl.LOCK_EX if quiet else fcntl.LOCK_SH)
        finally:
            if not quiet:
                fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(cores, fcntl.LOCK_UN)
            if quiet:
                fcntl.flock(gate, fcntl.LOCK_UN)


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    """A fresh gemmtune cache directory (not created yet, as on a new machine)."""
    return tmp_path / "cache"


@pytest.fixture
def run_cli(cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run ``gemmtune ARGS`` in-process with the isolated cache dir and NO_COLOR=1.

    The result keeps stdout and stderr apart (``result.stdout``, ``result.stderr``).
    """
    from gemmtune.cli import cli

    monkeypatch.setenv("GEMMTUNE_CACHE_DIR", str(cache_root))
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def compiled_root(tmp_path_factory) -> Path:
    """A cache directory whose compiled kernels (``kernels/``) live for the whole session.

    Every distinct kernel costs a numba compile of several seconds; tests that compile share
    this directory so each parameter set compiles once per run. GEMMTUNE_TEST_KERNEL_DIR keeps
    it across runs (numba's disk cache then skips compiling altogether).
    """
    keep = os.environ.get("GEMMTUNE_TEST_KERNEL_DIR")
    if keep:
        return Path(keep)
    root = tmp_path_factory.mktemp("compiled")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Tests keep tunings here too, so each worker has its own directory; only the
        # compiled kernels are shared.
        shared = run_temp(tmp_path_factory) / "kernels"
        shared.mkdir(mode=0o700, exist_ok=True)
        (root / "kernels").symlink_to(shared, target_is_directory=True)
    return root


def run_temp(tmp_path_factory) -> Path:
    """A temporary directory of this run, shared by its pytest-xdist workers.

    Under xdist each worker's base temp is a folder of the run's, so a kernel one worker
    compiled into a directory here is loaded by the other. Concurrent writers are safe:
    generated modules and numba's index files are replaced atomically.
    """
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def with_session_kernels(root: Path, compiled_root: Path) -> Path:
    """Make ``root`` a cache dir (nothing tuned) whose ``kernels`` are ``compiled_root``'s: a
    kernel another test compiled is loaded from numba's disk cache instead of compiled again."""
    kernels = compiled_root / "kernels"
    kernels.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    (root / "kernels").symlink_to(kernels, target_is_directory=True)
    return root


@pytest.fixture
def warm_cache_root(cache_root: Path, compiled_root: Path) -> Path:
    """Like ``cache_root`` (a fresh cache dir, nothing tuned), with the session's compiled
    kernels linked in."""
    return with_session_kernels(cache_root, compiled_root)
