"""Turn an Int8Params into an importable module on disk, so numba's disk cache applies.

As for the float family (gemmtune/kernels/build.py): the generated source is written into
the kernel directory and imported from there, and ``cache=True`` lets a later process load
the machine code instead of compiling. The file name carries the integer generator's hash,
so a changed generator never picks up an old compiled kernel.
"""

from __future__ import annotations

import os
from types import ModuleType

from .isa import require_isa
from .pairs import normalize_pair
from .params import Int8Params
from .template import generate_source, generator_hash



def module_name(params: Int8Params, pair: str) -> str:
    return f"gemmtune_i8_{normalize_pair(pair)}_{params.key()}_{generator_hash()}"


def load_module(params: Int8Params, pair: str, root: str | os.PathLike | None = None) -> ModuleType:
    """Write (once) and import the generated module for ``params`` and ``pair``.

    Importing does not compile. Refuses (ValueError) an ISA this CPU lacks before any code
    for it exists, since compiling it would abort the process.
    """
    from ..kernels.build import import_generated

    pair = normalize_pair(pair)
    params.validate(pair)
    require_isa(params.isa)
    return import_generated(module_name(params, pair), lambda: generate_source(params, pair), root)
