"""A kernel family that exists only in the tests: numpy's product behind a tiny parameter set.

It proves the seam: search, cache, export/import and ``matmul`` reach kernels only through
``gemmtune.families``, so a family registered from outside the package works end to end.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

from gemmtune.families import KernelFamily, StartingPoint, Verdict, Workload
from gemmtune.search.space import ChoiceDim, IntDim, Rejected

CALLS: list[tuple[int, tuple]] = []  # (block, shape) of every toy kernel call


@dataclass(frozen=True)
class ToyParams:
    """The product is computed in column blocks of ``block`` (a real, if pointless, knob)."""

    block: int = 8
    order: str = "C"

    def problems(self, dtype: str | None = None) -> list[str]:
        out = []
        if isinstance(self.block, bool) or not isinstance(self.block, int) or not 1 <= self.block <= 64:
            out.append(f"block={self.block!r} is outside 1..64.")
        if self.order not in ("C", "F"):
            out.append(f"order must be C or F, got {self.order!r}.")
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]

    def label(self) -> str:
        return f"toy_b{self.block}_{self.order}"


class ToySpace:
    def __init__(self) -> None:
        self.dims = {"block": IntDim("block", 1, 64, log=True), "order": ChoiceDim("order", ("C", "F"))}

    def searched(self):
        return list(self.dims.values())

    def constants(self):
        return {}

    def suggest(self, trial):
        return self.decode({d.name: d.suggest(trial) for d in self.searched()})

    def decode(self, values):
        p = ToyParams(int(values["block"]), str(values["order"]))
        if p.block == 3:  # one invalid point, so rejection is exercised
            raise Rejected("block=3 is refused by the toy space.")
        return p

    def encode(self, params):
        return {"block": self.dims["block"].snap(params.block), "order": params.order}

    def snap(self, params):
        return self.decode(self.encode(params))

    def grid(self):
        return {d.name: d.grid_values() for d in self.searched()}

    def to_dict(self):
        return {"toy": [d.to_dict() for d in self.searched()]}


class ToyKernel:
    def __init__(self, params: ToyParams):
        self.params = params

    def __call__(self, A, B, out=None, *, alpha=1.0, beta=0.0, threads=None):
        CALLS.append((self.params.block, (A.shape[0], B.shape[1], A.shape[1])))
        C = np.empty((A.shape[0], B.shape[1]), A.dtype) if out is None else out
        prod = np.empty_like(C)
        for j in range(0, B.shape[1], self.params.block):
            prod[:, j:j + self.params.block] = A @ B[:, j:j + self.params.block]
        C[...] = alpha * prod + (beta * C if beta != 0 else 0)
        return C


class ToyFamily(KernelFamily):
    name = "toy-numpy"
    handles = (("gemm", "float32"),)

    def parse_params(self, data: Mapping[str, Any]) -> ToyParams:
        if isinstance(data, ToyParams):
            return data
        if not isinstance(data, Mapping) or set(data) - {"block", "order"}:
            raise ValueError(f"toy parameters are block and order, got {data!r}.")
        p = ToyParams(**data)
        if p.problems():
            raise ValueError(p.problems()[0])
        return p

    def params_problems(self, params, problem):
        return params.problems()

    def space(self, problem, fp=None):
        return ToySpace()

    def default_params(self, problem, isa=None):
        return ToyParams()

    def compile(self, params, problem, root=None):
        return ToyKernel(params)

    def verify(self, kernel, problem, *, shape=None) -> Verdict:
        from gemmtune.kernels.reference import check

        m, n, k = shape or problem.shape()
        rng = np.random.default_rng(0)
        for mm, nn, kk in ((m, n, k), (1, 1, 1), (13, 7, 5)):
            A = rng.standard_normal((mm, kk)).astype(np.float32)
            B = rng.standard_normal((kk, nn)).astype(np.float32)
            C = np.full((mm, nn), np.nan, np.float32)
            v = check(kernel(A, B, C), A, B)
            if not v.ok:
                return v
        return Verdict(0.0, "PASS")

    def workload(self, problem, seed=1) -> Workload:
        rng = np.random.default_rng(seed)
        A = rng.standard_normal((problem.m, problem.k)).astype(np.float32)
        B = rng.standard_normal((problem.k, problem.n)).astype(np.float32)
        C = np.empty((problem.m, problem.n), np.float32)
        return Workload(run=lambda kernel: (lambda: kernel(A, B, C)),
                        peer=lambda: np.matmul(A, B, out=C), flops=problem.flops)

    def starting_points(self, space, problem, *, fp=None, tuned=()):
        from gemmtune.families.base import snap_unique

        return snap_unique(space, list(tuned) + [(ToyParams(16), "default")])
