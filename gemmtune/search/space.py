"""The search space: kernel parameters as multipliers, the same distributions in every trial.

A sampler draws register and cache blocksizes as multiples of the unit they must be a
multiple of, never as raw sizes:

    MR = mr                       NR = lanes(vec_bits) * nr_vecs
    MC = MR * mc_mult             KC = kc_step * kc_mult          NC = NR * nc_mult

so every dimension has one fixed distribution (multivariate TPE only models those) and
every draw satisfies the BLIS divisibility rules by construction. What remains to check is
the register budget (MR * nr_vecs accumulators + nr_vecs B vectors + 1 A broadcast must fit
the vector register file) and ``KernelParams.problems``; a draw that breaks either is
``Rejected`` before anything is compiled.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from ..kernels.params import ITEMSIZE, MAX_MR, MAX_NR, KernelParams, lanes, normalize_dtype


class Rejected(ValueError):
    """A point of the space that is not a valid kernel; the reason is one sentence."""


@dataclass(frozen=True)
class IntDim:
    """An integer dimension ``low..high`` by ``step`` (``log``: sampled on a log scale)."""

    name: str
    low: int
    high: int
    step: int = 1
    log: bool = False

    def values(self) -> list[int]:
        return list(range(self.low, self.high + 1, self.step))

    def grid_values(self) -> list[int]:
        """The values a grid visits: all of them, or the powers of two for a log dimension."""
        if not self.log:
            return self.values()
        out = sorted({self.low, self.high} | {1 << e for e in range(0, self.high.bit_length())
                                              if self.low <= 1 << e <= self.high})
        return out

    def suggest(self, trial: Any) -> int:
        if self.log:
            return trial.suggest_int(self.name, self.low, self.high, log=True)
        return trial.suggest_int(self.name, self.low, self.high, step=self.step)

    def snap(self, value: float) -> int:
        """The value of this dimension nearest ``value`` (on a log scale for log dims)."""
        vals = self.values()
        if self.log and value > 0:
            return min(vals, key=lambda v: (abs(math.log(v) - math.log(value)), v))
        return min(vals, key=lambda v: (abs(v - value), v))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "int", "name": self.name, "low": self.low, "high": self.high,
                "step": self.step, "log": self.log}


@dataclass(frozen=True)
class ChoiceDim:
    """A categorical dimension; a single choice is a constant and is not suggested."""

    name: str
    choices: tuple

    def values(self) -> list:
        return list(self.choices)

    def grid_values(self) -> list:
        return list(self.choices)

    def suggest(self, trial: Any) -> Any:
        return trial.suggest_categorical(self.name, list(self.choices))

    def snap(self, value: Any) -> Any:
        if value in self.choices:
            return value
        if all(isinstance(c, (int, float)) for c in self.choices) and isinstance(value, (int, float)):
            return min(self.choices, key=lambda c: (abs(c - value), c))
        return self.choices[0]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "choice", "name": self.name, "choices": list(self.choices)}


Dim = IntDim | ChoiceDim
# k steps per micro-kernel iteration the search tries; the body grows with the unroll.
UNROLLS = (1, 2, 4, 8)
DIM_NAMES = ("mr", "nr_vecs", "mc_mult", "kc_mult", "nc_mult", "unroll", "prefetch",
             "parallel", "vec_bits", "pack_a", "pack_b")
# Knobs a recorded space may predate; they take these values when it has no dimension.
KNOB_DEFAULTS = {"unroll": 4, "prefetch": 0, "parallel": "ic", "pack_a": True, "pack_b": True}


class SpaceGrid:
    """What every search space derives from its ``dims`` and its ``decode``/``encode``.

    A family's space (``SearchSpace`` here, ``Int8SearchSpace``, ``AmxSearchSpace``) defines
    ``dims``, ``decode(values) -> params`` (``Rejected`` for an invalid point) and
    ``encode(params) -> point``; the sampler interface and the grid come from here.
    """

    dims: dict[str, Any]

    def searched(self) -> list[Dim]:
        """Dimensions with more than one value (constants are not suggested)."""
        return [d for d in self.dims.values() if len(d.values()) > 1]

    def constants(self) -> dict[str, Any]:
        return {d.name: d.values()[0] for d in self.dims.values() if len(d.values()) == 1}

    def suggest(self, trial: Any) -> Any:
        """Draw every searched dimension from ``trial`` and decode (Rejected if invalid)."""
        return self.decode({d.name: d.suggest(trial) for d in self.searched()})

    def snap(self, params: Any) -> Any:
        """``params`` moved to the nearest point of this space."""
        return self.decode(self.encode(params))

    def grid(self) -> dict[str, list]:
        """The values a grid visits along each searched dimension (for Optuna's GridSampler)."""
        return {dim.name: dim.grid_values() for dim in self.searched()}

    def size(self) -> int:
        return math.prod(len(v) for v in self.grid().values())

    def points(self) -> Iterator[dict[str, Any]]:
        """Every point of the grid, valid or not, in a fixed order."""
        grid = self.grid()
        names = list(grid)
        for combo in itertools.product(*(grid[n] for n in names)):
            yield dict(zip(names, combo))

    def valid_points(self) -> Iterator[tuple[dict[str, Any], Any]]:
        for point in self.points():
            try:
                yield point, self.decode(point)
            except Rejected:
                continue


def _dim_from_dict(d: dict[str, Any]) -> Dim:
    if d["type"] == "int":
        return IntDim(d["name"], d["low"], d["high"], d.get("step", 1), d.get("log", False))
    return ChoiceDim(d["name"], tuple(d["choices"]))


@dataclass(frozen=True)
class SearchSpace(SpaceGrid):
    """The dimensions for one dtype on one machine.

    Attributes:
        dtype: "float32" or "float64".
        vector_registers: size of the vector register file (16 on AVX2, 32 on AVX-512).
        kc_step: the unit of KC, in elements.
        dims: the dimensions, keyed by name (see DIM_NAMES).
    """

    dtype: str
    vector_registers: int
    kc_step: int
    dims: dict[str, Dim] = field(default_factory=dict)

    @classmethod
    def for_machine(cls, dtype: str, *, vec_widths: Sequence[int] = (256,),
                    vector_registers: int = 16, threads: int = 1) -> "SearchSpace":
        """The full space for a machine with these vector widths and registers.

        ``parallel`` is only searched when more than one thread runs; one thread runs the
        serial kernel ("m": one band of rows), which has no prange and compiles in about
        half the time of the others.
        """
        dtype = normalize_dtype(dtype)
        nvr = vector_registers
        max_mr = max(1, min(MAX_MR, nvr - 2))
        widest = max(vec_widths)
        max_nv = max(1, min((nvr - 1) // 2, MAX_NR // lanes(widest, dtype), 8))
        dims: list[Dim] = [
            IntDim("mr", 1, max_mr),
            IntDim("nr_vecs", 1, max_nv),
            IntDim("mc_mult", 1, 64, log=True),
            IntDim("kc_mult", 1, 32, log=True),
            IntDim("nc_mult", 1, 512, log=True),
            ChoiceDim("unroll", UNROLLS),
            ChoiceDim("prefetch", (0, 8, 16)),
            ChoiceDim("parallel", ("ic", "jr", "m", "n") if threads > 1 else ("m",)),
            ChoiceDim("vec_bits", tuple(sorted(vec_widths))),
            ChoiceDim("pack_a", (True, False)),
            ChoiceDim("pack_b", (True, False)),
        ]
        # KC in units of a cache line of elements doubled: 32 float32 or 16 float64.
        kc_step = 128 // ITEMSIZE[dtype]
        return cls(dtype, nvr, kc_step, {d.name: d for d in dims})

    @classmethod
    def for_fingerprint(cls, dtype: str, threads: int = 1, fp: dict | None = None) -> "SearchSpace":
        """The full space for this machine, from gemmtune.fingerprint."""
        from .. import fingerprint as fpmod

        widths, nvr = machine_vectors(fpmod, fp)
        return cls.for_machine(dtype, vec_widths=widths, vector_registers=nvr, threads=threads)

    # -- mapping -----------------------------------------------------------------------

    def decode(self, values: dict[str, Any]) -> KernelParams:
        """Trial values (constants may be omitted) -> KernelParams; Rejected if invalid."""
        v = {**KNOB_DEFAULTS, **self.constants(), **values}
        mr, nv = int(v["mr"]), int(v["nr_vecs"])
        over = register_budget(mr, nv, self.vector_registers)
        if over:
            raise Rejected(over)
        vl = lanes(int(v["vec_bits"]), self.dtype)
        nr = vl * nv
        params = KernelParams(MR=mr, NR=nr, MC=mr * int(v["mc_mult"]), KC=self.kc_step * int(v["kc_mult"]),
                              NC=nr * int(v["nc_mult"]), vec_bits=int(v["vec_bits"]),
                              unroll=int(v["unroll"]), prefetch=int(v["prefetch"]),
                              parallel=str(v["parallel"]), pack_a=bool(v["pack_a"]),
                              pack_b=bool(v["pack_b"]))
        problems = params.problems(self.dtype)
        if problems:
            raise Rejected(problems[0])
        return params

    def encode(self, params: KernelParams) -> dict[str, Any]:
        """KernelParams -> the nearest point of the space (searched dims only).

        Every value is snapped into its dimension; if the snapped register tile breaks the
        register budget, MR shrinks until it fits. The result always decodes.
        """
        d = self.dims
        vec_bits = d["vec_bits"].snap(params.vec_bits)
        vl = lanes(vec_bits, self.dtype)
        nv = d["nr_vecs"].snap(max(1.0, params.NR / vl))
        mr = d["mr"].snap(params.MR)
        point = {
            "mr": mr, "nr_vecs": nv, "vec_bits": vec_bits,
            "unroll": d["unroll"].snap(params.unroll),
            "prefetch": d["prefetch"].snap(params.prefetch),
        }
        for knob in ("parallel", "pack_a", "pack_b"):
            if knob in d:
                point[knob] = d[knob].snap(getattr(params, knob))
        while True:
            point["mc_mult"] = d["mc_mult"].snap(params.MC / point["mr"])
            point["kc_mult"] = d["kc_mult"].snap(params.KC / self.kc_step)
            point["nc_mult"] = d["nc_mult"].snap(params.NC / (vl * point["nr_vecs"]))
            try:
                self.decode(point)
                break
            except Rejected:
                lower = [x for x in d["mr"].values() if x < point["mr"]]
                if lower:
                    point["mr"] = max(lower)
                    continue
                lower_nv = [x for x in d["nr_vecs"].values() if x < point["nr_vecs"]]
                if not lower_nv:
                    raise
                point["nr_vecs"] = max(lower_nv)
                point["mr"] = mr
        names = {x.name for x in self.searched()}
        return {k: val for k, val in point.items() if k in names}

    # -- enumeration -------------------------------------------------------------------

    # -- serialisation -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "vector_registers": self.vector_registers,
                "kc_step": self.kc_step, "dims": [d.to_dict() for d in self.dims.values()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SearchSpace":
        dims = [_dim_from_dict(x) for x in data["dims"]]
        return cls(data["dtype"], data["vector_registers"], data["kc_step"], {d.name: d for d in dims})


# The largest vector register file of the ISAs gemmtune searches (AVX-512: 32 zmm).
MAX_VECTOR_REGISTERS = 32


def register_budget(mr: int, nr_vecs: int, vector_registers: int) -> str | None:
    """Why an MR x ``nr_vecs``-vector tile does not fit ``vector_registers``; None if it fits.

    The tile keeps MR * nr_vecs accumulators, nr_vecs B vectors and one A broadcast live.
    """
    need = mr * nr_vecs + nr_vecs + 1
    if need <= vector_registers:
        return None
    return (f"a {mr} x {nr_vecs}-vector tile needs {need} vector registers "
            f"({mr * nr_vecs} accumulators, {nr_vecs} B, 1 A); {vector_registers} exist.")


def outside_every_space(params: KernelParams, dtype: str) -> str | None:
    """Why no search on any machine would explore ``params`` (None when one could).

    A stored or imported configuration is refused beyond the largest register file or the
    largest unroll searched: the micro-kernel's body grows with tile x unroll, and LLVM's
    compile time with it (a 32 x 128-vector float64 tile unrolled 16 times took 292 s and
    1.5 GB). Call on parameters that pass ``KernelParams.problems``.
    """
    nr_vecs = max(1, params.NR // lanes(params.vec_bits, dtype))
    over = register_budget(params.MR, nr_vecs, MAX_VECTOR_REGISTERS)
    if over is None and params.unroll > max(UNROLLS):
        over = f"unroll={params.unroll} is above {max(UNROLLS)}, the largest the search tries."
    return over


def point_key(point: dict[str, Any]) -> str:
    """A canonical string for a point, for tables keyed by point."""
    return ",".join(f"{k}={point[k]}" for k in sorted(point))


def machine_vectors(fpmod: Any, fp: dict | None = None) -> tuple[tuple[int, ...], int]:
    """(vector widths to search, vector register count) from the fingerprint module.

    A width wider than the machine's own is never searched: it would be split into
    narrower registers and only add cliffs. 128 bits is not searched where 256 exists.
    """
    bits = _call(fpmod.vector_bits, fp) or 128
    nvr = _call(fpmod.vector_registers, fp) or 16
    widths = tuple(w for w in (256, 512) if w <= bits) or (128,)
    return widths, int(nvr)


def _call(fn: Any, fp: dict | None) -> Any:
    # The fingerprint helpers take the fingerprint document or read this machine.
    if fp is None:
        return fn()
    try:
        return fn(fp)
    except TypeError:
        return fn()
