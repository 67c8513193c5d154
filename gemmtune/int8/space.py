"""The integer tuner's space: the float space's dimensions (gemmtune/search/space.py) plus isa.

Blocksizes are drawn as multiples of the unit they must be a multiple of, so every draw
satisfies the BLIS divisibility rules by construction:

    MR = mr      NR = nr_unit(isa) * nr_vecs      MC = MR * mc_mult
    KC = 64 * kc_mult                             NC = NR * nc_mult

``isa`` offers only what this CPU (or the given feature dict) can run, so the tuner never
compiles an instruction the machine lacks. What remains to check is the register budget of
the ISA (MR * nr_vecs accumulators + nr_vecs B vectors + 1 A broadcast) and
``Int8Params.problems``; a draw that breaks either is ``Rejected`` before any compile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..search.space import ChoiceDim, Dim, IntDim, Rejected, SpaceGrid, _dim_from_dict
from .isa import available_isas, lanes, raw_core, vector_registers
from .pairs import normalize_pair
from .params import MAX_MR, PARALLEL_LOOPS, Int8Params

KC_STEP = 64
# The generic kernel has no vector lanes; its NR moves in steps of 4 columns.
_GENERIC_NR_UNIT = 4
DIM_NAMES = ("isa", "mr", "nr_vecs", "mc_mult", "kc_mult", "nc_mult", "unroll", "parallel")
KNOB_DEFAULTS = {"unroll": 2, "parallel": "m"}


def nr_unit(isa: str) -> int:
    """The step of NR for ``isa``: its int32 lanes (generic: 4 columns)."""
    return lanes(isa) if lanes(isa) > 1 else _GENERIC_NR_UNIT


@dataclass(frozen=True)
class Int8SearchSpace(SpaceGrid):
    """The dimensions for one dtype pair on one machine.

    Attributes:
        pair: the dtype pair ("u8s8", ...); also ``dtype``, as the float space names it.
        registers: vector registers per ISA in the space.
        kc_step: the unit of KC.
        dims: the dimensions, keyed by name (see DIM_NAMES).
    """

    pair: str
    registers: dict[str, int]
    kc_step: int = KC_STEP
    dims: dict[str, Dim] = field(default_factory=dict)

    @property
    def dtype(self) -> str:
        return self.pair

    @property
    def vector_registers(self) -> int:
        return max(self.registers.values())

    @classmethod
    def for_machine(cls, pair: str, threads: int = 1,
                    features: dict[str, bool] | None = None) -> "Int8SearchSpace":
        """The full space for this CPU (or the given LLVM feature dict).

        Registered raw cores join as isa choices when they multiply ``pair``; their
        blocksizes are their own business, so only generated ISAs use the register budget.
        ``parallel`` is only searched when more than one thread runs.
        """
        pair = normalize_pair(pair)
        isas = tuple(i for i in available_isas(features)
                     if raw_core(i) is None or pair in raw_core(i).pairs)
        registers = {i: vector_registers(i, features) for i in isas}
        nvr = max(registers.values())
        dims: list[Dim] = [
            ChoiceDim("isa", isas),
            IntDim("mr", 1, max(1, min(MAX_MR, nvr - 2))),
            IntDim("nr_vecs", 1, max(1, min((nvr - 1) // 2, 8))),
            IntDim("mc_mult", 1, 64, log=True),
            IntDim("kc_mult", 1, 32, log=True),
            IntDim("nc_mult", 1, 256, log=True),
            ChoiceDim("unroll", (1, 2, 4)),
            ChoiceDim("parallel", PARALLEL_LOOPS if threads > 1 else ("m",)),
        ]
        return cls(pair, registers, KC_STEP, {d.name: d for d in dims})

    # -- mapping -----------------------------------------------------------------------

    def decode(self, values: dict[str, Any]) -> Int8Params:
        """Trial values (constants may be omitted) -> Int8Params; Rejected if invalid."""
        v = {**KNOB_DEFAULTS, **self.constants(), **values}
        isa = str(v["isa"])
        if isa not in self.registers:
            raise Rejected(f"isa {isa!r} is not available on this machine.")
        mr, nv = int(v["mr"]), int(v["nr_vecs"])
        if isa != "generic" and raw_core(isa) is None:
            need = mr * nv + nv + 1
            if need > self.registers[isa]:
                raise Rejected(f"a {mr} x {nv}-vector {isa} tile needs {need} vector registers "
                               f"({mr * nv} accumulators, {nv} B, 1 A); {self.registers[isa]} exist.")
        nr = nr_unit(isa) * nv
        params = Int8Params(MR=mr, NR=nr, MC=mr * int(v["mc_mult"]), KC=self.kc_step * int(v["kc_mult"]),
                            NC=nr * int(v["nc_mult"]), isa=isa, unroll=int(v["unroll"]),
                            parallel=str(v["parallel"]))
        problems = params.problems(self.pair)
        if problems:
            raise Rejected(problems[0])
        return params

    def encode(self, params: Int8Params) -> dict[str, Any]:
        """Int8Params -> the nearest point of the space (searched dims only).

        Every value is snapped into its dimension; if the snapped tile breaks the register
        budget, MR shrinks (then the vector count) until it fits. The result always decodes.
        """
        d = self.dims
        isa = d["isa"].snap(params.isa)
        unit = nr_unit(isa)
        point: dict[str, Any] = {
            "isa": isa,
            "mr": d["mr"].snap(params.MR),
            "nr_vecs": d["nr_vecs"].snap(max(1.0, params.NR / unit)),
            "unroll": d["unroll"].snap(params.unroll),
            "parallel": d["parallel"].snap(params.parallel),
        }
        mr0 = point["mr"]
        while True:
            point["mc_mult"] = d["mc_mult"].snap(params.MC / point["mr"])
            point["kc_mult"] = d["kc_mult"].snap(params.KC / self.kc_step)
            point["nc_mult"] = d["nc_mult"].snap(params.NC / (unit * point["nr_vecs"]))
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
                point["mr"] = mr0
        names = {x.name for x in self.searched()}
        return {k: val for k, val in point.items() if k in names}

    # -- enumeration -------------------------------------------------------------------

    # -- serialisation -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"dtype": self.pair, "registers": dict(self.registers), "kc_step": self.kc_step,
                "dims": [d.to_dict() for d in self.dims.values()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Int8SearchSpace":
        dims = [_dim_from_dict(x) for x in data["dims"]]
        return cls(normalize_pair(data["dtype"]), dict(data["registers"]), data["kc_step"],
                   {d.name: d for d in dims})
