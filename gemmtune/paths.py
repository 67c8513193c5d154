"""Where gemmtune keeps its files, and who may write them.

The kernel directory holds code: generated modules, Python's bytecode of them and numba's
compiled objects, all of which run when a kernel is loaded (numba's index is a pickle). So
the directories are created private (0700, whatever the umask), and kernels are only loaded
from a directory tree no other user can write, as ssh and gnupg insist for their own.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import GemmtuneError

ENV_CACHE_DIR = "GEMMTUNE_CACHE_DIR"


class UnsafeDirectory(GemmtuneError, PermissionError):
    """Another user could plant code in a directory gemmtune would load kernels from."""


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The cache directory: ``override``, else $GEMMTUNE_CACHE_DIR, else the user cache dir.

    The user cache dir is the platform's (``$XDG_CACHE_HOME/gemmtune`` or ``~/.cache/gemmtune``
    on Linux). The directory is not created here.

    Raises:
        ValueError: the path, or the nearest existing part of it, is not a directory.
    """
    if override:
        path = Path(override).expanduser()
    else:
        env = os.environ.get(ENV_CACHE_DIR)
        if env:
            path = Path(env).expanduser()
        else:
            from platformdirs import user_cache_dir

            path = Path(user_cache_dir("gemmtune", appauthor=False))
    _check_is_directory(path)
    return path


def _check_is_directory(path: Path) -> None:
    # The nearest existing ancestor must be a directory, or creating the cache fails later
    # with NotADirectoryError deep inside a kernel build.
    p = path
    while True:
        try:
            st = os.stat(p)
        except (FileNotFoundError, NotADirectoryError):
            if p.parent == p:
                return
            p = p.parent
            continue
        except OSError:
            return  # unreadable: the step that needs it reports why
        if not stat.S_ISDIR(st.st_mode):
            raise ValueError(f"cannot create the cache directory {path}: "
                             f"{'it' if p == path else p} is not a directory.")
        return


def kernel_dir(root: str | os.PathLike | None = None) -> Path:
    """Generated kernel modules and numba's compiled objects (in their __pycache__)."""
    return cache_dir(root) / "kernels"


def make_private_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` and its missing parents with mode 0700, whatever the umask.

    ``os.makedirs`` gives the parents it creates the umask's mode (0777 under ``umask 000``),
    so each missing directory is made here, then chmod-ed (mkdir's mode is masked too).
    """
    path = Path(path)
    missing = []
    p = path
    while not p.is_dir():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            continue  # made meanwhile by another process: check_private says whose it is
        os.chmod(d, 0o700)
    return path


def writable_kernel_dir(root: str | os.PathLike | None = None) -> Path:
    """The kernel directory, created private and proven writable and trusted (see
    ``check_private``), before minutes of work.

    Raises:
        GemmtuneError: it cannot be created or written (a read-only cache dir), one sentence.
        UnsafeDirectory: another user owns or can write it.
    """
    import tempfile

    directory = kernel_dir(root)
    try:
        make_private_dir(directory / "__pycache__")
        fd, probe = tempfile.mkstemp(dir=directory / "__pycache__", prefix=".gemmtune-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise GemmtuneError(f"cannot write compiled kernels to {directory}: "
                            f"{e.strerror or e}; give a writable --cache-dir.") from None
    # And loadable: otherwise every candidate would fail with the same UnsafeDirectory.
    for d in (directory.parent, directory, directory / "__pycache__"):
        check_private(d)
    return directory


def check_private(path: str | os.PathLike, names: str | None = None) -> None:
    """Raise UnsafeDirectory unless only this user (or root) can write ``path``.

    Args:
        path: a directory that holds code gemmtune runs (followed if it is a link).
        names: also check the entries of ``path`` whose names start with this prefix. An
            entry's mode matters only where other users can reach it: a file numba wrote
            0666 under ``umask 000`` is safe inside a 0700 directory.
    """
    path = Path(path)
    me = os.geteuid()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    _check_owner_and_mode(path, st, me, "directory", check_mode=True)
    if names is None:
        return
    reachable = bool(st.st_mode & (stat.S_IXGRP | stat.S_IXOTH))
    try:
        entries = [e for e in os.scandir(path) if e.name.startswith(names)]
    except FileNotFoundError:
        return
    for e in entries:
        try:
            est = e.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        what = "directory" if stat.S_ISDIR(est.st_mode) else "file"
        _check_owner_and_mode(Path(e.path), est, me, what,
                              check_mode=reachable and not stat.S_ISLNK(est.st_mode))


def _check_owner_and_mode(item: Path, st: os.stat_result, me: int, what: str,
                          check_mode: bool) -> None:
    if st.st_uid not in (me, 0):
        raise UnsafeDirectory(
            f"Refusing to load kernels: the {what} {item} belongs to user id {st.st_uid}, "
            f"not to you (user id {me}), so its code cannot be trusted; use a cache dir of "
            "your own (--cache-dir or GEMMTUNE_CACHE_DIR).")
    if check_mode and st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeDirectory(
            f"Refusing to load kernels: the {what} {item} is writable by other users "
            f"(mode {stat.S_IMODE(st.st_mode):04o}), so anyone could plant code in it; "
            f"run `chmod go-w {item}` or use another cache dir.")
