"""Turn a KernelParams into a compiled numba dispatcher, through a module on disk.

The generated source is written into the kernel directory as a real module and imported from
there, so numba's on-disk cache (``cache=True``) lets a later process load the machine code
instead of compiling again. The file name carries the generator hash, so a changed generator
never picks up an old compiled kernel.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading

from types import ModuleType
from typing import Callable

from ..atomic import write_atomic
from ..paths import check_private, kernel_dir, make_private_dir
from .params import KernelParams, normalize_dtype
from .template import generate_source, generator_hash

_modules: dict[tuple[str, str], ModuleType] = {}
_lock = threading.Lock()

# The corruption ``gemmtune.faults`` asks for with ``wrong:<label>`` (tests only).
_FAULT = '''

# TEST-ONLY FAULT (GEMMTUNE_TEST_FAULT=wrong:<label>): the last element of C is off by one.
_gemm_right = gemm


@njit(cache=True, nogil=True)
def gemm(A, B, C, alpha, beta, nt):
    _gemm_right(A, B, C, alpha, beta, nt)
    C[C.shape[0] - 1, C.shape[1] - 1] += 1
'''


def fault_injected(params: KernelParams) -> bool:
    """True when the tests ask for ``params`` to compute a wrong C (``gemmtune.faults``)."""
    from ..faults import corrupted

    return corrupted(params.label())


def module_name(params: KernelParams, dtype: str) -> str:
    return f"gemmtune_k_{normalize_dtype(dtype)}_{params.key()}_{generator_hash()}"


def load_module(params: KernelParams, dtype: str, root: str | os.PathLike | None = None) -> ModuleType:
    """Write (once) and import the generated module for ``params`` and ``dtype``.

    Importing does not compile: ``GemmKernel.compile`` compiles ``gemm`` for its one
    signature, or loads it from numba's disk cache.
    """
    dtype = normalize_dtype(dtype)
    params.validate(dtype)
    faulty = fault_injected(params)
    name = module_name(params, dtype) + ("_testfault" if faulty else "")
    return import_generated(name, lambda: generate_source(params, dtype) + (_FAULT if faulty else ""),
                            root)


def import_generated(name: str, source: Callable[[], str],
                     root: str | os.PathLike | None = None) -> ModuleType:
    """Write (once) and import the generated module ``name`` in the kernel directory.

    Every family's generated code goes through here, so the rules hold for all of them:
    the directory is private to this user (nothing is loaded from a tree another user could
    have planted code in), the file is replaced atomically (a concurrent process never
    imports half a module), and a module is imported once per process and directory.

    Args:
        name: the module name; it must carry everything that shapes the code (parameters,
            dtype, generator hash), since numba's disk cache is keyed by it.
        source: makes the module's text (called only when the module is not loaded yet).
    """
    directory = kernel_dir(root)
    key = (str(directory), name)
    with _lock:
        mod = _modules.get(key)
        if mod is not None:
            return mod
        # Made private before Python or numba make __pycache__ with the umask's mode.
        make_private_dir(directory / "__pycache__")
        check_private(directory.parent)
        check_private(directory, names=name)
        check_private(directory / "__pycache__", names=name)
        path = directory / f"{name}.py"
        text = source()
        if not path.exists() or path.read_text() != text:
            write_atomic(path, text, fsync=False)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        # numba's cache locator needs the module importable by name while it compiles.
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        _modules[key] = mod
        return mod
