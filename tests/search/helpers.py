"""Compiled kernels shared by the search tests (each distinct kernel costs a compile)."""

from __future__ import annotations

import os
from pathlib import Path


def shared_kernel_dir(tmp_path_factory) -> Path:
    """One kernel directory per session for every search test (GEMMTUNE_TEST_KERNEL_DIR keeps
    it across runs)."""
    from tests.conftest import run_temp

    env = os.environ.get("GEMMTUNE_TEST_KERNEL_DIR")
    path = Path(env) if env else run_temp(tmp_path_factory) / "search-kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_with_shared_kernels(root: Path, kernels: Path) -> Path:
    """Make ``root`` a cache dir whose ``kernels`` folder is the shared one."""
    root.mkdir(parents=True, exist_ok=True)
    link = root / "kernels"
    if not link.exists():
        link.symlink_to(kernels, target_is_directory=True)
    return root
