"""Where gemmtune keeps its files."""

from __future__ import annotations

import os
from pathlib import Path

ENV_CACHE_DIR = "GEMMTUNE_CACHE_DIR"


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The cache directory: ``override``, else $GEMMTUNE_CACHE_DIR, else the user cache dir.

    The user cache dir is the platform's (``$XDG_CACHE_HOME/gemmtune`` or ``~/.cache/gemmtune``
    on Linux). The directory is not created here.
    """
    if override:
        return Path(override).expanduser()
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("gemmtune", appauthor=False))


def kernel_dir(root: str | os.PathLike | None = None) -> Path:
    """Generated kernel modules and numba's compiled objects (in their __pycache__)."""
    return cache_dir(root) / "kernels"
