"""What an integer (8-bit) GEMM is measured against, besides gemmtune: numpy's two idioms and
onnxruntime's MatMulInteger.

- ``numpy int``: ``A32 @ B32`` on int32 copies. numpy has no BLAS for integers: its integer
  matmul is a plain loop (0.1-0.4 GOP/s on the Intel Xeon machine kind, seconds for a
  1024^3 product), so it is timed only up to ``NUMPY_INT_MAX``^3 multiply-adds (B*M*N*K).
- ``numpy f32``: float32 BLAS on float32 copies, the speed a numpy user gets by casting. It
  is exact only while K <= ``f32_exact_k(pair)`` (gemmtune/int8/pairs.py); beyond it a sum
  may round, and the figure is that of a product that is not the integer one.
- ``onnxruntime``: MatMulInteger from a one-node session (``bench.peers``), exact.

The casts happen here, before anything is timed. ``gemmtune bench`` and the scripts
``benchmarks/int8_matmul.py`` and ``amx_matmul.py`` build their integer peers here, so each
exists once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

NUMPY_INT_MAX = 1024   # numpy's integer loop: timed up to B*M*N*K = 1024^3 (about 7 s a call)


@dataclass(frozen=True)
class Peer:
    """One non-gemmtune contender of an integer GEMM.

    Attributes:
        role: its key in a bench row ("numpy_int", "numpy", "onnxruntime"; "numpy" is the
            float32 BLAS one, the figure a search pairs each candidate with).
        name: who it is, for people.
        fn: runs the product once.
        out: the array ``fn`` writes, or None when ``fn`` returns its result.
        exact: whether its result equals the integer product for every input of this shape
            (False for float32 BLAS beyond ``f32_exact_k``: then nothing is checked).
    """

    role: str
    name: str
    fn: Callable[[], Any]
    out: Any = None
    exact: bool = True


def operands(pair: str, m: int, n: int, k: int, seed: int = 0, batch: int = 1) -> tuple[Any, Any]:
    """A (m x k) and B (k x n) of the pair's dtypes ((batch, m, k) and (batch, k, n) for a
    stack), uniform over their whole range with the extremes planted
    (``int8.verify.random_operand``), so an exactness check sees the worst sums."""
    import numpy as np

    from ..int8 import pair_dtypes
    from ..int8.verify import random_operand

    rng = np.random.default_rng(seed)
    a_dt, b_dt = pair_dtypes(pair)
    lead = () if batch == 1 else (batch,)
    return random_operand(rng, (*lead, m, k), a_dt), random_operand(rng, (*lead, k, n), b_dt)


def reference(A: Any, B: Any) -> Any:
    """A @ B exactly, as int64, for 2-D operands or stacks (numpy's rules).

    float64 BLAS on the values, as ``int8.verify.exact_reference``: within ``max_k`` every
    partial sum is an integer below 2**53, which float64 holds exactly.
    """
    import numpy as np

    return np.matmul(A.astype(np.float64), B.astype(np.float64)).astype(np.int64)


def _shape(A: Any, B: Any) -> tuple[int, int, int, int]:
    """(batch, m, n, k) of 2-D operands or equal-length stacks."""
    batch = A.shape[0] if A.ndim == 3 else 1
    return batch, A.shape[-2], B.shape[-1], A.shape[-1]


def numpy_int_fits(m: int, n: int, k: int, limit: int = NUMPY_INT_MAX, batch: int = 1) -> bool:
    """Whether numpy's integer loop is timed for this shape (at most ``limit``^3 multiply-adds)."""
    return batch * m * n * k <= limit**3


def numpy_int_note(label: str, limit: int = NUMPY_INT_MAX) -> str:
    """Why the numpy int figure of ``label`` is absent (one sentence)."""
    return (f"numpy's integer matmul (a plain loop, no BLAS) is timed only up to "
            f"B*M*N*K = {limit}^3; it is left out for {label}.")


def numpy_int(A: Any, B: Any) -> Peer:
    """numpy's ``@`` on int32 copies of A and B, into an int32 C (exact within ``max_k``)."""
    import numpy as np

    A32, B32 = A.astype(np.int32), B.astype(np.int32)
    C = np.empty(A.shape[:-1] + B.shape[-1:], np.int32)
    return Peer("numpy_int", "numpy's int32 matmul", lambda: np.matmul(A32, B32, out=C), C)


def numpy_f32(A: Any, B: Any, pair: str) -> Peer:
    """numpy's float32 BLAS on float32 copies of A and B; ``exact`` says whether K allows it."""
    import numpy as np

    from ..int8 import f32_exact_k

    Af, Bf = A.astype(np.float32), B.astype(np.float32)
    C = np.empty(A.shape[:-1] + B.shape[-1:], np.float32)
    return Peer("numpy", "numpy's float32 matmul on cast inputs", lambda: np.matmul(Af, Bf, out=C), C,
                exact=A.shape[-1] <= f32_exact_k(pair))


def onnxruntime(A: Any, B: Any, threads: int) -> Peer:
    """onnxruntime's MatMulInteger of A and B (zero points 0; stacked like numpy's matmul) on
    ``threads`` intra-op threads.

    Raises:
        bench.peers.PeerUnavailable: onnxruntime is not installed, or has no kernel for the pair.
    """
    from .peers import matmul_integer

    run = matmul_integer(A.dtype.name, B.dtype.name, threads)
    return Peer("onnxruntime", "onnxruntime's MatMulInteger", lambda: run(A, B))


def peers(A: Any, B: Any, pair: str, threads: int, *, numpy_int_max: int | None = None,
          on_note: Callable[[str], None] | None = None) -> list[Peer]:
    """Every peer that applies to 2-D A and B (or stacks of them), numpy f32 first: numpy int
    when the size allows it (at most ``numpy_int_max``^3 multiply-adds, default
    ``NUMPY_INT_MAX``), onnxruntime when it is installed and has the pair; why one is absent
    goes to ``on_note``."""
    from .peers import PeerUnavailable

    numpy_int_max = NUMPY_INT_MAX if numpy_int_max is None else numpy_int_max
    say = on_note or (lambda text: None)
    batch, m, n, k = _shape(A, B)
    out = [numpy_f32(A, B, pair)]
    if numpy_int_fits(m, n, k, numpy_int_max, batch):
        out.append(numpy_int(A, B))
    else:
        say(numpy_int_note(f"{m}x{n}x{k}" if batch == 1 else f"{batch} x {m}x{n}x{k}", numpy_int_max))
    try:
        out.append(onnxruntime(A, B, threads))
    except PeerUnavailable as e:
        say(str(e))
    return out
