"""Running real `gemmtune search` processes for the crash and concurrency tests.

Every small shape starts from the same two seed kernels, so all these searches share one
compiled-kernel directory (the one tests/search uses) and compile each kernel once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from gemmtune.fingerprint import fingerprint_id
from gemmtune.problem import Problem
from gemmtune.search.study import study_name

from ..search.helpers import cache_with_shared_kernels, shared_kernel_dir


def make_root(path: Path, tmp_path_factory) -> Path:
    """A cache dir at ``path`` whose compiled kernels are the session's shared ones."""
    return cache_with_shared_kernels(path, shared_kernel_dir(tmp_path_factory))


def search_args(m: int, n: int, k: int, *more: str) -> list[str]:
    """Arguments of ``gemmtune search`` for a tiny one-thread search with --json."""
    return ["-m", str(m), "-n", str(n), "-k", str(k), "--threads", "1", "--seed", "0", "--json",
            *more]


def command(args: list[str]) -> list[str]:
    """``gemmtune search ARGS`` as a new process."""
    return [sys.executable, "-m", "gemmtune", "search", *args]


def env_for(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEMMTUNE_TEST_FAULT")}
    env.update(GEMMTUNE_CACHE_DIR=str(root), NO_COLOR="1", **extra)
    return env


def spawn(root: Path, args: list[str], **extra_env: str) -> subprocess.Popen:
    return subprocess.Popen(command(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env_for(root, **extra_env))


def storage_url(root: Path) -> str:
    return f"sqlite:///{root.resolve() / 'studies.db'}"


def default_study(m: int, n: int, k: int) -> str:
    return study_name(fingerprint_id(), Problem(m, n, k, "float32", 1))


def load_trials(url: str, name: str) -> list[Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def wait_for_trials(proc: subprocess.Popen, url: str, name: str,
                    ready: Callable[[list[Any]], bool], limit: float = 300) -> list[Any]:
    """Poll the study until ``ready(trials)``; fail if the search ends first or takes too long
    (the limit only keeps a broken search from hanging the suite)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the search ended early: {proc.stderr.read().decode()[-2000:]}")
        try:
            trials = load_trials(url, name)
        except Exception:  # the study is not created yet
            trials = []
        if ready(trials):
            return trials
        time.sleep(0.3)
    raise AssertionError("the search made no progress")


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def worker_of(pid: int) -> int:
    """The pid of the search ``pid``'s candidate worker process."""
    for child in children(pid):
        try:
            if b"gemmtune.search.worker" in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
        except OSError:
            pass
    raise AssertionError(f"search {pid} has no worker process")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def end(pid: int, grace: float = 30) -> bool:
    """Wait for a process this test started (directly or not) to end; SIGKILL it after
    ``grace`` seconds. True when it ended by itself."""
    deadline = time.monotonic() + grace
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not alive(pid):
        return True
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return False
