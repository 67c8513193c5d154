"""A cache dir where the tunings cannot be stored: the search result is still printed (and in
--json), with a warning that it was not cached.

The tests run as root, for whom chmod stops nothing, so the directory is made unwritable in
ways that hold for root too:
- read-only: the immutable attribute (``chattr +i``: not even root may create a file in the
  directory); as another user, plain ``chmod 555``;
- full: a 64 KiB tmpfs mounted over the cache dir and filled up, inside a private mount
  namespace (``unshare --mount``), so the mount vanishes with the process.
In both, the studies go to a writable ``--storage`` and the compiled kernels to a writable
directory linked in as ``kernels``: what fails is storing the winner, which is the point.
A cache dir that cannot even be created fails at once (last test).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from .searching import command, env_for, make_root, search_args

SHAPE = (48, 48, 48)


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", str(directory)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a directory read-only for root here (no chattr +i)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(directory)], check=True)


def _check(doc: dict, err: str, root: Path, why: str) -> None:
    assert doc["best"] is not None and doc["best"]["gflops"] > 0
    assert doc["problem"]["m"] == SHAPE[0] and doc["trials"] >= 1
    assert doc["cached"] is False
    assert doc["cache_error"] == f"Cannot save tunings in {root}: {why}."
    assert f"warning: the winner was not cached: Cannot save tunings in {root}: {why}." in err
    assert "Traceback" not in err


def test_read_only_cache_dir_still_prints_the_result(run_cli, cache_root, tmp_path,
                                                     tmp_path_factory):
    root = make_root(cache_root, tmp_path_factory)
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    before = sorted(p.name for p in root.iterdir())
    with read_only(root):
        result = run_cli("search", *search_args(*SHAPE, "--trials", "1", "--storage", storage))
    assert result.exit_code == 0, result.stderr
    _check(json.loads(result.stdout), result.stderr, root, "the directory is not writable")
    assert sorted(p.name for p in root.iterdir()) == before


def test_read_only_cache_dir_with_its_study_database_still_searches(run_cli, cache_root,
                                                                   tmp_path_factory):
    """Issue 14, item 7: the default studies.db in a read-only cache dir cannot take a trial;
    the search keeps them in memory, says so, and still prints (and exits 0)."""
    import optuna

    root = make_root(cache_root, tmp_path_factory)
    optuna.create_study(storage=f"sqlite:///{root / 'studies.db'}", study_name="earlier")
    before = {p.name: p.lstat().st_mtime_ns for p in root.iterdir()}
    with read_only(root):
        result = run_cli("search", *search_args(*SHAPE, "--trials", "1"))
    assert result.exit_code == 0, result.stderr
    _check(json.loads(result.stdout), result.stderr, root, "the directory is not writable")
    assert (f"warning: the study cannot be saved in {root / 'studies.db'}: the directory or the "
            "database is not writable; this search keeps its trials in memory") in result.stderr
    assert "StorageInternalError" not in result.stderr and "invalid data" not in result.stderr
    assert {p.name: p.lstat().st_mtime_ns for p in root.iterdir()} == before


def test_read_only_cache_dir_without_its_kernels_fails_at_once(run_cli, cache_root):
    """Nothing can compile in a read-only cache dir that has no kernels: one sentence before
    any work, not a search whose every trial fails."""
    import optuna

    cache_root.mkdir(mode=0o700)
    optuna.create_study(storage=f"sqlite:///{cache_root / 'studies.db'}", study_name="earlier")
    with read_only(cache_root):
        result = run_cli("search", *search_args(*SHAPE, "--trials", "1"))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.endswith(f"Error: cannot write compiled kernels to {cache_root / 'kernels'}: "
                                  "Operation not permitted; give a writable --cache-dir.\n")
    assert "Traceback" not in result.stderr


def test_full_cache_dir_still_prints_the_result(tmp_path, tmp_path_factory):
    kernels = make_root(tmp_path / "warm", tmp_path_factory) / "kernels"
    root = tmp_path / "cache"
    root.mkdir()
    if os.geteuid() != 0 or shutil.which("unshare") is None or subprocess.run(
            ["unshare", "--mount", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root and unshare --mount)")
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    search = search_args(*SHAPE, "--trials", "1", "--storage", storage)
    # mode=0700: a tmpfs root is 1777 by default, and kernels are not loaded from such a tree.
    script = (f"mount -t tmpfs -o size=64k,mode=0700 tmpfs {root} && "
              f"ln -s {kernels.resolve()} {root}/kernels && "
              f"(head -c 1048576 /dev/zero > {root}/filler 2>/dev/null; true) && "
              f"exec {shlex.join(command(search))}")
    proc = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True,
                          env=env_for(root), timeout=600)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-2000:]
    _check(json.loads(proc.stdout), err, root, "the disk is full")
    assert list(root.iterdir()) == []  # the mount went away with the process


def test_cache_dir_that_cannot_be_created_fails_at_once(run_cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("--cache-dir", str(blocker / "cache"), "search",
                     "-m", "8", "-n", "8", "-k", "8")
    assert result.exit_code == 1
    assert f"cannot create the cache directory {blocker / 'cache'}" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
