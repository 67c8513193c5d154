"""The kernel directory holds code that runs when a kernel loads, so gemmtune creates its
directories private whatever the umask, and refuses to load kernels from a tree another
user can write or owns (issue 14, item 16)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemmtune.errors import GemmtuneError
from gemmtune.kernels.build import load_module, module_name
from gemmtune.kernels.params import KernelParams
from gemmtune.paths import UnsafeDirectory, kernel_dir

PARAMS = KernelParams(MR=4, NR=8, MC=8, KC=16, NC=16, vec_bits=256, parallel="m")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _load(root: Path):
    # Imports the generated module (numba decorates, nothing compiles): the step that runs
    # code from the kernel directory.
    return load_module(PARAMS, "float32", root)


def test_directories_are_private_whatever_the_umask(tmp_path):
    root = tmp_path / "a" / "b" / "cache"
    old = os.umask(0)
    try:
        _load(root)
    finally:
        os.umask(old)
    for d in (tmp_path / "a", tmp_path / "a" / "b", root, root / "kernels",
              root / "kernels" / "__pycache__"):
        assert _mode(d) == 0o700, d
    # The tunings file's directory as well, when the cache writes first.
    from gemmtune.cache import TuningCache
    from tests.factories import make_entry

    other = tmp_path / "c" / "cache2"
    old = os.umask(0)
    try:
        TuningCache(other).put(make_entry("aaaaaaaaaaaa"))
    finally:
        os.umask(old)
    assert _mode(tmp_path / "c") == 0o700 and _mode(other) == 0o700


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=st.integers(0, 0o777), where=st.sampled_from(["root", "kernels", "__pycache__"]))
def test_kernels_load_exactly_when_no_one_else_can_write_the_tree(tmp_path_factory, mode, where):
    root = tmp_path_factory.mktemp("trust") / "cache"
    (root / "kernels" / "__pycache__").mkdir(parents=True)
    target = {"root": root, "kernels": root / "kernels",
              "__pycache__": root / "kernels" / "__pycache__"}[where]
    os.chmod(target, mode | 0o700)  # the owner keeps access; group and others vary
    if mode & 0o022:
        with pytest.raises(UnsafeDirectory, match=rf"^Refusing to load kernels: the directory "
                           rf"{target} is writable by other users \(mode 0\d+\), so anyone could "
                           rf"plant code in it; run `chmod go-w {target}`"):
            _load(root)
    else:
        assert _load(root).gemm is not None


def test_a_planted_file_of_another_user_is_refused(tmp_path):
    root = tmp_path / "cache"
    kernels = root / "kernels"
    (kernels / "__pycache__").mkdir(parents=True)
    planted = kernels / "__pycache__" / f"{module_name(PARAMS, 'float32')}.cpython-311.pyc"
    planted.write_bytes(b"\0" * 16)
    os.chown(planted, 12345, 12345)  # the tests run as root
    with pytest.raises(UnsafeDirectory, match=f"the file {planted} belongs to user id 12345"):
        _load(root)
    os.chown(planted, 0, 0)
    planted.unlink()
    os.chown(kernels, 12345, 12345)
    with pytest.raises(UnsafeDirectory, match=f"the directory {kernels} belongs to user id 12345"):
        _load(root)


def test_a_file_others_can_write_matters_only_where_they_can_reach_it(tmp_path):
    root = tmp_path / "cache"
    pycache = root / "kernels" / "__pycache__"
    pycache.mkdir(parents=True)
    index = pycache / f"{module_name(PARAMS, 'float32')}.gemm-1.py311.nbi"
    index.write_bytes(b"")
    os.chmod(index, 0o666)  # as numba writes it under umask 000
    os.chmod(pycache, 0o700)
    assert _load(root).gemm is not None  # nobody else can enter the directory
    root2 = tmp_path / "cache2"
    pycache2 = root2 / "kernels" / "__pycache__"
    pycache2.mkdir(parents=True)
    index2 = pycache2 / index.name
    index2.write_bytes(b"")
    os.chmod(index2, 0o666)
    os.chmod(pycache2, 0o755)
    with pytest.raises(UnsafeDirectory, match=f"the file {index2} is writable by other users"):
        _load(root2)


def test_matmul_and_the_command_line_refuse_in_one_sentence(tmp_path, run_cli, cache_root):
    import numpy as np

    import gemmtune

    kernel_dir(cache_root).mkdir(parents=True)
    os.chmod(kernel_dir(cache_root), 0o777)
    A = np.ones((4, 4), np.float32)
    with pytest.raises(UnsafeDirectory) as info:
        gemmtune.matmul(A, A, cache_dir=cache_root, threads=1)
    assert isinstance(info.value, PermissionError) and isinstance(info.value, GemmtuneError)
    result = run_cli("kernel", "-p", "MR=4", "-p", "NR=8", "-p", "MC=8", "-p", "KC=16",
                     "-p", "NC=16", "--check")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: Refusing to load kernels:")
    assert result.stderr.count("\n") == 1
    # A search says so before any work, not once per failed candidate.
    result = run_cli("search", "-m", "8", "-n", "8", "-k", "8", "--threads", "1", "--trials", "1")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (f"Error: Refusing to load kernels: the directory {kernel_dir(cache_root)} "
                             "is writable by other users (mode 0777), so anyone could plant code "
                             f"in it; run `chmod go-w {kernel_dir(cache_root)}` or use another "
                             "cache dir.\n")
