"""A GEMM problem: the key under which tunings are stored and searched."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .kernels.params import normalize_dtype


@dataclass(frozen=True, order=True)
class Problem:
    """C(m x n) = A(m x k) @ B(k x n) in ``dtype`` on ``threads`` threads."""

    m: int
    n: int
    k: int
    dtype: str = "float32"
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("m", "n", "k", "threads"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}.")
        object.__setattr__(self, "dtype", normalize_dtype(self.dtype))

    @property
    def flops(self) -> int:
        return 2 * self.m * self.n * self.k

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Problem":
        if not isinstance(data, dict):
            raise ValueError("a problem must be a JSON object with m, n, k, dtype and threads.")
        missing = [f for f in ("m", "n", "k", "dtype", "threads") if f not in data]
        if missing:
            raise ValueError(f"problem lacks {missing[0]!r}.")
        return cls(m=data["m"], n=data["n"], k=data["k"], dtype=data["dtype"], threads=data["threads"])

    def key(self) -> str:
        return f"{self.dtype}-t{self.threads}-{self.m}x{self.n}x{self.k}"

    def label(self) -> str:
        return f"{self.m}x{self.n}x{self.k} {self.dtype} {self.threads}t"
