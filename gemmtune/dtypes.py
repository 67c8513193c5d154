"""The dtypes gemmtune multiplies: one name per (A, B) input pair and the C it produces.

A float dtype names the same type for A, B and C. An 8-bit integer pair names A's and B's
types ("u8s8": A uint8, B int8) and always produces int32. Every module that needs to know
what a dtype means asks here; adding a dtype is an entry in ``DTYPES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DType:
    """One dtype of a GEMM problem.

    Attributes:
        name: the canonical name ("float32", "u8s8", ...), as in JSON and on the command line.
        a, b, out: numpy dtype names of A, B and C.
        kind: "float" (rounding, residual check) or "int" (exact, equality check).
        aliases: other spellings accepted on input.
    """

    name: str
    a: str
    b: str
    out: str
    kind: str
    aliases: tuple[str, ...] = ()

    @property
    def itemsize(self) -> int:
        """Bytes of one A (and B) element."""
        import numpy as np

        return np.dtype(self.a).itemsize

    @property
    def unit(self) -> str:
        """The unit of a speed figure: floating-point or integer operations per second."""
        return "GFLOP/s" if self.kind == "float" else "GOP/s"


DTYPES: dict[str, DType] = {d.name: d for d in (
    DType("float32", "float32", "float32", "float32", "float", ("f32",)),
    DType("float64", "float64", "float64", "float64", "float", ("f64",)),
    DType("u8s8", "uint8", "int8", "int32", "int"),
    DType("s8s8", "int8", "int8", "int32", "int"),
    DType("u8u8", "uint8", "uint8", "int32", "int"),
    DType("s8u8", "int8", "uint8", "int32", "int"),
)}
_ALIASES = {alias: d.name for d in DTYPES.values() for alias in (d.name, *d.aliases)}
FLOAT_DTYPES = tuple(n for n, d in DTYPES.items() if d.kind == "float")
INT_DTYPES = tuple(n for n, d in DTYPES.items() if d.kind == "int")


def normalize(dtype: Any) -> str:
    """The canonical name of ``dtype``: "f32", np.float32 or np.dtype('float32') -> "float32".

    Raises:
        ValueError: not a dtype gemmtune multiplies (one sentence listing the choices).
    """
    name = getattr(dtype, "__name__", None) or str(dtype)
    try:
        return _ALIASES[name]
    except KeyError:
        raise ValueError(f"unsupported dtype {dtype!r}: use one of {', '.join(DTYPES)}.") from None


def spec(dtype: Any) -> DType:
    """The DType named (or aliased) by ``dtype``."""
    return DTYPES[normalize(dtype)]


_BY_OPERANDS: dict[tuple[Any, Any], str] = {}


def of_operands(a: Any, b: Any) -> str | None:
    """The dtype name for operands of numpy dtypes ``a`` and ``b``, or None if none fits."""
    # Every matmul call asks: a dict lookup on the dtype objects, not string formatting.
    if not _BY_OPERANDS:
        import numpy as np

        for d in DTYPES.values():
            _BY_OPERANDS[(np.dtype(d.a), np.dtype(d.b))] = d.name
    try:
        return _BY_OPERANDS.get((a, b))
    except TypeError:  # unhashable: not a dtype
        return None
