"""The integer GEMM family: 8-bit A and B, exact int32 C (``gemmtune/int8/``).

VNNI (512- and 256-bit), AVX2 (``vpmaddwd``) and portable micro-kernels. Only what this CPU
can run is offered: LLVM aborts the process on an instruction the target lacks. Where AMX
tiles may run, the AMX family (``amx_int8.py``) takes these problems first.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ..dtypes import INT_DTYPES
from ..problem import Problem
from .base import KernelFamily, StartingPoint, Verdict, Workload, snap_unique


class Int8GemmFamily(KernelFamily):
    """Int8Params (MR, NR, MC, KC, NC, isa, knobs); verification is exact equality."""

    name = "numba-int8"
    # Below this many operations an untuned product runs on one thread. Splitting into two
    # pool-thread bands cost more than it saved on a virtual Zen 3 (presumably waking an idle
    # vCPU): 128^3 took 135 us on 2 threads against 68 on one, 256^3 333 against 370 us in
    # one process and 103 against 126 GOP/s in bench, while 512^3 ran 1.9x faster on two
    # (docs/performance.md section 18).
    split_min_flops = 2 * 256 ** 3 + 1
    handles = tuple(("gemm", d) for d in INT_DTYPES)

    def parse_params(self, data: Mapping[str, Any]) -> Any:
        from ..int8 import Int8Params

        if isinstance(data, Int8Params):
            return data
        return Int8Params.from_dict(dict(data) if isinstance(data, Mapping) else data)

    def file_problems(self, params: Any, problem: Problem) -> list[str]:
        return params.problems(problem.dtype)

    def params_problems(self, params: Any, problem: Problem) -> list[str]:
        from ..int8 import available_isas

        out = params.problems(problem.dtype)
        if not out and params.isa not in available_isas():
            out = [f"isa={params.isa} cannot run on this CPU (it has {', '.join(available_isas())})."]
        return out

    def space(self, problem: Problem, fp: dict[str, Any] | None = None) -> Any:
        from ..int8 import Int8SearchSpace

        return Int8SearchSpace.for_machine(problem.dtype, problem.threads)

    def default_params(self, problem: Problem, isa: str | None = None) -> Any:
        from ..int8 import default_params

        return default_params(problem.dtype)

    def starting_points(self, space: Any, problem: Problem, *, fp: dict[str, Any] | None = None,
                        tuned: list[tuple[Any, str]] = ()) -> list[StartingPoint]:
        from ..int8 import available_isas, default_for_isa

        raw = list(tuned) + [(self.default_params(problem), "default")]
        # One starting point per ISA this CPU runs: which wins depends on the shape.
        raw += [(default_for_isa(isa), f"default:{isa}") for isa in available_isas()]
        return snap_unique(space, raw)

    def compile(self, params: Any, problem: Problem, root: Any = None) -> Callable[..., Any]:
        from ..int8 import compile_int8

        return IntegerKernel(compile_int8(params, problem.dtype, root))

    def verify(self, kernel: Callable[..., Any], problem: Problem, *,
               shape: tuple[int, int, int] | None = None) -> Verdict:
        from ..int8 import verify_int8

        m, n, k = shape or problem.shape()
        return verify_int8(kernel, m, n, k, problem.dtype, threads=problem.threads)

    def workload(self, problem: Problem, seed: int = 1) -> Workload:
        import numpy as np

        from ..int8 import pair_dtypes
        from ..int8.verify import random_operand

        rng = np.random.default_rng(seed)
        a_dt, b_dt = pair_dtypes(problem.dtype)
        A = random_operand(rng, (problem.m, problem.k), a_dt)
        B = random_operand(rng, (problem.k, problem.n), b_dt)
        C = np.empty((problem.m, problem.n), np.int32)
        # The peer a candidate is paired with: numpy's float32 BLAS on the same values (what
        # a numpy user runs for speed; exact only while sums stay below 2^24).
        Af, Bf = A.astype(np.float32), B.astype(np.float32)
        Cf = np.empty((problem.m, problem.n), np.float32)
        return Workload(run=lambda kernel: (lambda: kernel(A, B, C, threads=problem.threads)),
                        peer=lambda: np.matmul(Af, Bf, out=Cf), flops=problem.flops)

    def generator_hash(self) -> str:
        from ..int8.template import generator_hash

        return generator_hash()


def check_alpha(alpha: Any) -> None:
    """ValueError with one sentence unless ``alpha`` is 1: integer products are not scaled."""
    if isinstance(alpha, bool) or alpha != 1:
        raise ValueError(f"alpha must be 1 for integer products (got {alpha!r}); scale the "
                         "int32 result instead.")


class IntegerKernel:
    """An int8 kernel called like the float ones: ``alpha`` must be 1 and ``beta`` 0 or 1."""

    def __init__(self, kernel: Any):
        self.kernel = kernel
        self.params = kernel.params

    def __call__(self, A: Any, B: Any, out: Any = None, *, alpha: Any = 1, beta: Any = 0,
                 threads: int | None = None, a_zero_point: Any = None,
                 b_zero_point: Any = None) -> Any:
        check_alpha(alpha)
        return self.kernel(A, B, out, beta=beta, a_zero_point=a_zero_point,
                           b_zero_point=b_zero_point, threads=threads)

    def asm(self) -> str:
        return self.kernel.asm()
