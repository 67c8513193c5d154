"""The float GEMM family: BLIS-style numba kernels for float32 and float64 (``gemmtune/kernels/``)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ..problem import Problem
from .base import KernelFamily, StartingPoint, Verdict, Workload, snap_unique


class FloatGemmFamily(KernelFamily):
    """Five loops in numba around an MR x NR LLVM IR micro-kernel; KernelParams."""

    name = "numba-gemm"
    handles = (("gemm", "float32"), ("gemm", "float64"))

    def parse_params(self, data: Mapping[str, Any]) -> Any:
        from ..kernels.params import KernelParams

        if isinstance(data, KernelParams):
            return data
        return KernelParams.from_dict(dict(data) if isinstance(data, Mapping) else data)

    def file_problems(self, params: Any, problem: Problem) -> list[str]:
        from ..search.space import outside_every_space

        out = params.problems(problem.dtype)
        if not out:
            over = outside_every_space(params, problem.dtype)
            if over:
                out = [f"outside the search space: {over}"]
        return out

    def params_problems(self, params: Any, problem: Problem) -> list[str]:
        from ..kernels.params import lanes

        out = params.problems(problem.dtype)
        if out:
            return out
        # The register budget of the search space (search/space.py): a tile that does not
        # fit the register file spills, and a huge one takes minutes to compile.
        from .. import fingerprint as fpmod
        from ..search.space import machine_vectors, register_budget

        widths, nvr = machine_vectors(fpmod)
        if params.vec_bits > max(widths):
            return [f"vec_bits={params.vec_bits} is wider than this machine's {max(widths)}-bit vectors."]
        over = register_budget(params.MR, params.NR // lanes(params.vec_bits, problem.dtype), nvr)
        return [over] if over else []

    def space(self, problem: Problem, fp: dict[str, Any] | None = None) -> Any:
        from ..search.space import SearchSpace

        return SearchSpace.for_fingerprint(problem.dtype, problem.threads, fp)

    def default_params(self, problem: Problem, isa: str | None = None) -> Any:
        from ..defaults import default_params

        if isa is None and problem.flops <= _small_flops():
            # A small product on this machine: the unpacked tile cut to the product
            # (stacks.stack_params). The ISA seed's 14 x 32 tile and 168-row blocks make a
            # 64^3 product mostly packing and edge tiles (docs/performance.md section 14).
            from ..small import stack_params

            return stack_params(problem.m, problem.n, problem.k, problem.dtype, problem.threads)
        seed = default_params(problem.dtype, isa)
        if isa is None and problem.batch == 1:
            from ..kernels.model import untuned_in_place

            seed = untuned_in_place(seed, problem)
        return seed

    def starting_points(self, space: Any, problem: Problem, *, fp: dict[str, Any] | None = None,
                        tuned: list[tuple[Any, str]] = ()) -> list[StartingPoint]:
        from .. import fingerprint as fpmod
        from ..defaults import default_params
        from ..kernels.model import in_place_params, model_params, skinny_params

        raw = list(tuned)
        try:
            raw.append((model_params(problem.dtype, fp), "model"))
        except Exception:  # the model is a hint; a machine it cannot read still gets the others
            pass
        seed = None
        try:
            isa = fpmod.isa_family(fp)
            seed = default_params(problem.dtype, isa)
            raw.append((seed, f"default:{isa}"))
        except Exception:
            pass
        raw += skinny_params([p for p, _ in raw], problem)
        if seed is not None and problem.batch == 1 and problem.flops > 8 * _small_flops():
            raw += in_place_params(seed, problem)
        if problem.batch > 1 or problem.flops <= 8 * _small_flops():
            from ..small import small_tiles

            tiles = small_tiles(problem.m, problem.n, problem.k, problem.dtype)
            if problem.batch > 1 or problem.flops <= _small_flops():
                # A small product, or a stack of them: the unpacked tiles cut to the product
                # come first, the four the cost model ranks best.
                what = "stack" if problem.batch > 1 else "small"
                first = [(p, what) for p in tiles[:4]]
            else:
                # Up to 256^3 the operands still sit in L2: on Zen 3 the seed with A read in
                # place ran 256^3 at 1.06x of the packed seed and 512^3 at 1.02x, the tile
                # with both in place 1.03x and 0.78x (docs/performance.md section 20).
                first = [(tiles[0], "small")]
                if seed is not None:
                    first.append((seed.replace(pack_a=False), "default, A in place"))
            raw[len(tuned):len(tuned)] = first
        return snap_unique(space, raw)

    def borrowable(self, tuned: Problem, problem: Problem) -> bool:
        # A small product does not borrow a large one's blocks: its own default (the
        # unpacked tile cut to it) beats packing for a 64^3 product by 2-4x (section 14).
        return not (problem.flops <= _small_flops() < tuned.flops)

    def fit_borrowed(self, params: Any, problem: Problem) -> tuple[Any, str | None]:
        # The prange driver hands each thread whole MC-row blocks of A: 1024^3's 2-thread
        # MC = 256 gives a 256-row product one block, so one thread works and 256^3 ran at
        # 0.77x of the untuned default (docs/performance.md section 18). Cut MC so that every
        # thread gets a block.
        if params.parallel != "ic" or problem.threads < 2 or problem.batch > 1:
            return params, None
        rows = -(-problem.m // problem.threads)          # rows per thread
        mc = max(params.MR, -(-rows // params.MR) * params.MR)
        if mc >= params.MC:
            return params, None
        fitted = params.replace(MC=mc)
        if fitted.problems(problem.dtype):
            return params, None
        return fitted, f"MC {params.MC} -> {mc}"

    def params_for_threads(self, params: Any, problem: Problem, threads: int) -> Any:
        # One thread through a prange driver still pays numba's parallel launch (about 8 us
        # a call, docs/performance.md section 14); the serial twin runs the same loops.
        if threads == 1 and problem.batch == 1:
            from ..kernels.gemm import serial_twin

            return serial_twin(params)
        return params

    def compile(self, params: Any, problem: Problem, root: Any = None) -> Callable[..., Any]:
        """The 2-D kernel, or for a stack (``batch`` > 1) the batched driver
        ``kernel(A3, B3, C3, ia, ib, alpha, beta, threads)`` that runs the whole stack."""
        if problem.batch > 1:
            from ..kernels.batched import batched_kernel

            kernel = batched_kernel(params, problem.dtype, root)
        else:
            from ..kernels.gemm import compile_kernel

            kernel = compile_kernel(params, problem.dtype, root)
        kernel.compile()
        return kernel

    def verify(self, kernel: Callable[..., Any], problem: Problem, *,
               shape: tuple[int, int, int] | None = None) -> Verdict:
        from ..kernels.reference import verify_kernel

        m, n, k = shape or problem.shape()
        if problem.batch > 1:
            from ..kernels.batched import verify_batched

            return verify_batched(kernel, problem.batch, m, n, k, threads=problem.threads)
        return verify_kernel(kernel, m, n, k, problem.dtype, threads=problem.threads)

    def workload(self, problem: Problem, seed: int = 1) -> Workload:
        import numpy as np

        rng = np.random.default_rng(seed)
        if problem.batch > 1:
            b = problem.batch
            A3 = rng.standard_normal((b, problem.m, problem.k)).astype(problem.dtype)
            B3 = rng.standard_normal((b, problem.k, problem.n)).astype(problem.dtype)
            C3 = np.empty((b, problem.m, problem.n), dtype=problem.dtype)
            idx = np.arange(b, dtype=np.int64)
            t = problem.threads
            return Workload(run=lambda kernel: (lambda: kernel(A3, B3, C3, idx, idx, 1.0, 0.0, t)),
                            peer=lambda: np.matmul(A3, B3, out=C3), flops=problem.flops)
        A = rng.standard_normal((problem.m, problem.k)).astype(problem.dtype)
        B = rng.standard_normal((problem.k, problem.n)).astype(problem.dtype)
        C = np.empty((problem.m, problem.n), dtype=problem.dtype)
        t = problem.threads
        # The entry gemmtune.matmul calls (GemmKernel.product): the figure is what users get.
        return Workload(run=lambda kernel: (lambda: kernel.product(A, B, C, 1.0, 0.0, t)),
                        peer=lambda: np.matmul(A, B, out=C), flops=problem.flops)

    def generator_hash(self) -> str:
        import hashlib
        from pathlib import Path

        from ..kernels.template import generator_hash

        # The 2-D driver's generator, and the stacked drivers built from it.
        h = hashlib.sha256(generator_hash().encode())
        kernels = Path(__file__).parent.parent / "kernels"
        for name in ("batched.py", "gemv.py"):
            h.update((kernels / name).read_bytes())
        return h.hexdigest()[:12]


def _small_flops() -> float:
    from ..small import SMALL_FLOPS

    return SMALL_FLOPS
