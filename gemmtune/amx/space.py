"""The search space of the AMX kernel, with the duck-typed interface of search.space.SearchSpace.

Block sizes are drawn as multiples of the unit they must be a multiple of, never as raw
sizes, so every draw meets the BLIS divisibility rules by construction:

    (TM, TN) = tiles            MR = 16*TM      NR = 16*TN
    MC = MR * mc_mult           KC = 64 * kc_mult           NC = NR * nc_mult

The tile blocking is one categorical dimension of the shapes the eight tile registers allow
(params.AmxParams), so no draw breaks the tile budget; what can still be rejected is a
block above its bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..search.space import ChoiceDim, IntDim, Rejected, SpaceGrid, _dim_from_dict
from .params import UNROLLS, AmxParams, normalize_pair
from .permission import REQUIRED_FEATURES, host_features
from .geometry import TILE_K, TILES, tile_budget

Dim = IntDim | ChoiceDim
# Every tile blocking the eight tiles allow, smallest first.
TILE_SHAPES = tuple(f"{tm}x{tn}" for tm in range(1, TILES) for tn in range(1, TILES)
                    if tile_budget(tm, tn) <= TILES)


def parse_tiles(value: str) -> tuple[int, int]:
    """"2x2" -> (2, 2)."""
    tm, tn = str(value).split("x")
    return int(tm), int(tn)


@dataclass(frozen=True)
class AmxSearchSpace(SpaceGrid):
    """The dimensions for one int8 pair on one AMX machine.

    Attributes:
        pair: "u8s8", "s8s8", "s8u8" or "u8u8".
        kc_step: the unit of KC in bytes (64: one tile row of int8).
        dims: the dimensions, keyed by name.
    """

    pair: str
    kc_step: int = TILE_K
    dims: dict[str, Dim] = field(default_factory=dict)

    @classmethod
    def for_machine(cls, pair: str, threads: int = 1,
                    features: dict[str, bool] | None = None) -> "AmxSearchSpace":
        """The full space for ``pair`` with ``threads`` threads.

        ``parallel`` is only searched when more than one thread runs.

        Raises:
            ValueError: when the CPU (``features``, default this one) has no AMX int8: the
                space offers only what the machine can run.
        """
        pair = normalize_pair(pair)
        feats = host_features() if features is None else features
        missing = [f for f in REQUIRED_FEATURES if not feats.get(f, False)]
        if missing:
            raise ValueError(f"this CPU has no AMX int8 ({', '.join(missing)} missing); "
                             "use the VNNI or AVX2 int8 kernels.")
        dims: list[Dim] = [
            ChoiceDim("tiles", TILE_SHAPES),
            IntDim("mc_mult", 1, 64, log=True),
            IntDim("kc_mult", 1, 64, log=True),
            IntDim("nc_mult", 1, 256, log=True),
            ChoiceDim("unroll", UNROLLS),
            ChoiceDim("prefetch_c", (True, False)),
            ChoiceDim("parallel", ("m", "n") if threads > 1 else ("m",)),
        ]
        return cls(pair, TILE_K, {d.name: d for d in dims})

    # -- mapping -----------------------------------------------------------------------

    def decode(self, values: dict[str, Any]) -> AmxParams:
        """Trial values (constants may be omitted) -> AmxParams; Rejected if invalid."""
        v = {**self.constants(), **values}
        try:
            tm, tn = parse_tiles(v["tiles"])
        except (KeyError, ValueError):
            raise Rejected(f"tiles must be a tile blocking like '2x2', got {v.get('tiles')!r}.") from None
        params = AmxParams(TM=tm, TN=tn, MC=16 * tm * int(v["mc_mult"]),
                           KC=self.kc_step * int(v["kc_mult"]), NC=16 * tn * int(v["nc_mult"]),
                           unroll=int(v["unroll"]), prefetch_c=bool(v["prefetch_c"]),
                           parallel=str(v["parallel"]))
        problems = params.problems()
        if problems:
            raise Rejected(problems[0])
        return params

    def encode(self, params: AmxParams) -> dict[str, Any]:
        """AmxParams -> the nearest point of the space (searched dims only); it always decodes."""
        d = self.dims
        tiles = f"{params.TM}x{params.TN}"
        if tiles not in d["tiles"].values():
            # The nearest allowed blocking by the number of C tiles, then by shape.
            tiles = min(d["tiles"].values(), key=lambda t: (
                abs(math.prod(parse_tiles(t)) - params.TM * params.TN),
                abs(parse_tiles(t)[0] - params.TM)))
        tm, tn = parse_tiles(tiles)
        point = {
            "tiles": tiles,
            "mc_mult": d["mc_mult"].snap(params.MC / (16 * tm)),
            "kc_mult": d["kc_mult"].snap(params.KC / self.kc_step),
            "nc_mult": d["nc_mult"].snap(params.NC / (16 * tn)),
            "unroll": d["unroll"].snap(params.unroll),
            "prefetch_c": d["prefetch_c"].snap(params.prefetch_c),
            "parallel": d["parallel"].snap(params.parallel),
        }
        self.decode(point)
        names = {x.name for x in self.searched()}
        return {k: val for k, val in point.items() if k in names}

    # -- enumeration -------------------------------------------------------------------

    # -- serialisation -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"family": "amx", "pair": self.pair, "kc_step": self.kc_step,
                "dims": [d.to_dict() for d in self.dims.values()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AmxSearchSpace":
        dims = [_dim_from_dict(x) for x in data["dims"]]
        return cls(normalize_pair(data["pair"]), int(data["kc_step"]), {d.name: d for d in dims})
