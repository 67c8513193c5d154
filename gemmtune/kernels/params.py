"""The parameter set of a generated GEMM kernel, in BLIS vocabulary."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

DTYPES = ("float32", "float64")
DTYPE_ALIASES = {"float32": "float32", "f32": "float32", "float64": "float64", "f64": "float64"}
ITEMSIZE = {"float32": 4, "float64": 8}
# How threads share the work: "ic" and "jr" split that loop with numba's prange inside one
# kernel; "m" and "n" give each thread a band of C's rows or columns, run by the serial
# kernel (no prange, so it compiles in half the time; the operand shared by the bands is
# packed once per thread).
PARALLEL_LOOPS = ("ic", "jr", "m", "n")
VEC_BITS = (128, 256, 512)

# Upper bounds that keep a parameter set from asking for absurd buffers; they are far
# above anything fast and only guard against typos and hostile files.
MAX_MR, MAX_NR = 32, 256
MAX_KC, MAX_MC, MAX_NC = 8192, 16384, 65536
MAX_UNROLL, MAX_PREFETCH = 16, 64


def normalize_dtype(dtype: Any) -> str:
    """Map "f32", "float32", np.float32 or np.dtype('float32') to "float32" (same for 64)."""
    name = getattr(dtype, "__name__", None) or str(dtype)
    try:
        return DTYPE_ALIASES[name]
    except KeyError:
        raise ValueError(f"unsupported dtype {dtype!r}: use float32 or float64.") from None


def lanes(vec_bits: int, dtype: str) -> int:
    """Elements of ``dtype`` in one vector register of ``vec_bits`` bits."""
    return vec_bits // (8 * ITEMSIZE[normalize_dtype(dtype)])


@dataclass(frozen=True)
class KernelParams:
    """Block sizes and generator knobs of one kernel.

    Attributes:
        MR: rows of the register tile; A is packed into MR-row slivers.
        NR: columns of the register tile, a multiple of the vector lanes; B is packed into
            NR-column slivers.
        MC: rows of the packed A block (ic loop step), a multiple of MR.
        KC: depth of the packed blocks (pc loop step).
        NC: columns of the packed B block (jc loop step), a multiple of NR.
        vec_bits: vector width the micro-kernel is written for (128, 256 or 512).
        unroll: k steps per iteration of the micro-kernel's k loop.
        prefetch: distance in k steps at which the A sliver is prefetched (0: none).
        parallel: how threads share the work: "ic" (prange over A blocks), "jr" (prange
            over B slivers), "m" or "n" (each thread runs the serial kernel on a band of
            C's rows or columns).
        pack_a: copy A into MR-row slivers (True) or let the micro-kernel read A in place.
            Reading in place saves a pass over A, which pays when A is read only once
            (N <= NR: tall-skinny products).
        pack_b: the same for B and NR-column slivers; in place pays when M is small.
    """

    MR: int = 6
    NR: int = 16
    MC: int = 96
    KC: int = 256
    NC: int = 4080
    vec_bits: int = 256
    unroll: int = 4
    prefetch: int = 0
    parallel: str = "ic"
    pack_a: bool = True
    pack_b: bool = True

    FIELDS = ("MR", "NR", "MC", "KC", "NC", "vec_bits", "unroll", "prefetch", "parallel",
              "pack_a", "pack_b")
    BOOLS = ("pack_a", "pack_b")

    def problems(self, dtype: str | None = None) -> list[str]:
        """Every invariant this set breaks, one sentence each (empty when valid)."""
        out: list[str] = []
        ints = {f: getattr(self, f) for f in self.FIELDS if f != "parallel" and f not in self.BOOLS}
        for name in self.BOOLS:
            if not isinstance(getattr(self, name), bool):
                out.append(f"{name} must be true or false, got {getattr(self, name)!r}.")
        for name, value in ints.items():
            if isinstance(value, bool) or not isinstance(value, int):
                out.append(f"{name} must be an integer, got {value!r}.")
        if not isinstance(self.parallel, str) or self.parallel not in PARALLEL_LOOPS:
            out.append(f"parallel must be one of {', '.join(PARALLEL_LOOPS)}, got {self.parallel!r}.")
        if out:
            return out
        bounds = {"MR": MAX_MR, "NR": MAX_NR, "MC": MAX_MC, "KC": MAX_KC, "NC": MAX_NC,
                  "unroll": MAX_UNROLL}
        for name, hi in bounds.items():
            if not 1 <= ints[name] <= hi:
                out.append(f"{name}={ints[name]} is outside 1..{hi}.")
        if not 0 <= self.prefetch <= MAX_PREFETCH:
            out.append(f"prefetch={self.prefetch} is outside 0..{MAX_PREFETCH}.")
        if self.vec_bits not in VEC_BITS:
            out.append(f"vec_bits={self.vec_bits} is not one of {VEC_BITS}.")
        if out:
            return out
        if self.MC % self.MR:
            out.append(f"MC={self.MC} is not a multiple of MR={self.MR}.")
        if self.NC % self.NR:
            out.append(f"NC={self.NC} is not a multiple of NR={self.NR}.")
        if dtype is not None:
            vl = lanes(self.vec_bits, dtype)
            if self.NR % vl:
                out.append(f"NR={self.NR} is not a multiple of the {vl} {normalize_dtype(dtype)} "
                           f"lanes of a {self.vec_bits}-bit vector.")
        return out

    def validate(self, dtype: str | None = None) -> "KernelParams":
        """Raise ValueError naming the first broken invariant; return self when valid.

        Invariants: every size is a positive integer within its bound; MC is a multiple of
        MR and NC of NR (a cache block holds whole register slivers); NR is a multiple of
        the vector lanes for ``dtype``; vec_bits is 128, 256 or 512; parallel is "ic", "jr", "m" or "n".
        """
        problems = self.problems(dtype)
        if problems:
            raise ValueError(f"invalid kernel parameters: {problems[0]}")
        return self

    @property
    def serial(self) -> bool:
        """True when the generated kernel is single-threaded and threads split C outside it."""
        return self.parallel in ("m", "n")

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "KernelParams":
        """Build from a mapping; missing knobs take their defaults, unknown keys are refused."""
        if not isinstance(data, dict):
            raise ValueError(f"kernel parameters must be a JSON object, got {type(data).__name__}.")
        unknown = sorted(set(data) - set(cls.FIELDS))
        if unknown:
            raise ValueError(f"unknown kernel parameter {unknown[0]!r}.")
        for key in ("MR", "NR", "MC", "KC", "NC"):
            if key not in data:
                raise ValueError(f"kernel parameters lack {key}.")
        return cls(**data)

    def replace(self, **changes: Any) -> "KernelParams":
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """A short stable hash of the set, used in file and study names."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def label(self) -> str:
        """Kernel name in the BLIS style, e.g. ``6x16_mc96_kc256_nc4080_v256_u4_p0_ic``."""
        packed = ("" if self.pack_a else "_ua") + ("" if self.pack_b else "_ub")
        return (f"{self.MR}x{self.NR}_mc{self.MC}_kc{self.KC}_nc{self.NC}_v{self.vec_bits}"
                f"_u{self.unroll}_p{self.prefetch}_{self.parallel}{packed}")
