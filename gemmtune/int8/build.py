"""Turn an Int8Params into an importable module on disk, so numba's disk cache applies.

As for the float family (gemmtune/kernels/build.py): the generated source is written into
the kernel directory and imported from there, and ``cache=True`` lets a later process load
the machine code instead of compiling. The file name carries the integer generator's hash,
so a changed generator never picks up an old compiled kernel.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from types import ModuleType

from ..kernels.build import _atomic_write
from ..paths import kernel_dir
from .isa import require_isa
from .pairs import normalize_pair
from .params import Int8Params
from .template import generate_source, generator_hash

_modules: dict[tuple[str, str], ModuleType] = {}
_lock = threading.Lock()


def module_name(params: Int8Params, pair: str) -> str:
    return f"gemmtune_i8_{normalize_pair(pair)}_{params.key()}_{generator_hash()}"


def load_module(params: Int8Params, pair: str, root: str | os.PathLike | None = None) -> ModuleType:
    """Write (once) and import the generated module for ``params`` and ``pair``.

    Importing does not compile. Refuses (ValueError) an ISA this CPU lacks before any code
    for it exists, since compiling it would abort the process.
    """
    pair = normalize_pair(pair)
    params.validate(pair)
    require_isa(params.isa)
    directory = kernel_dir(root)
    name = module_name(params, pair)
    key = (str(directory), name)
    with _lock:
        mod = _modules.get(key)
        if mod is not None:
            return mod
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.py"
        source = generate_source(params, pair)
        if not path.exists() or path.read_text() != source:
            _atomic_write(path, source)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        # numba's cache locator needs the module importable by name while it compiles.
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        _modules[key] = mod
        return mod
