"""The AMX int8 family: tile-register kernels for CPUs with amx-int8 (``gemmtune/amx/``).

It takes the integer problems ahead of the VNNI family only where tiles may run: the CPU
has amx-tile and amx-int8 and Linux granted this process the tile state. Everywhere else it
accepts nothing, so no tile instruction is ever compiled for a CPU without them.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ..dtypes import INT_DTYPES
from ..problem import Problem
from .base import KernelFamily, Verdict, Workload
from .int8_gemm import Int8GemmFamily, IntegerKernel


class AmxInt8Family(KernelFamily):
    """AmxParams (TM x TN tiles of 16 x 16 int32, MC, KC, NC, knobs); exact verification."""

    name = "amx-int8"
    handles = tuple(("gemm", d) for d in INT_DTYPES)

    def __init__(self) -> None:
        self._available: bool | None = None

    def available(self) -> bool:
        if self._available is None:
            from ..amx import amx_available

            self._available = amx_available()[0]
        return self._available

    def parse_params(self, data: Mapping[str, Any]) -> Any:
        from ..amx import AmxParams

        if isinstance(data, AmxParams):
            return data
        return AmxParams.from_dict(dict(data) if isinstance(data, Mapping) else data)

    def file_problems(self, params: Any, problem: Problem) -> list[str]:
        return params.problems()

    def params_problems(self, params: Any, problem: Problem) -> list[str]:
        out = params.problems()
        if not out and not self.available():
            from ..amx import amx_available

            out = [f"AMX tiles cannot run here: {amx_available()[1]}"]
        return out

    def space(self, problem: Problem, fp: dict[str, Any] | None = None) -> Any:
        from ..amx import AmxSearchSpace

        return AmxSearchSpace.for_machine(problem.dtype, problem.threads)

    def default_params(self, problem: Problem, isa: str | None = None) -> Any:
        from ..amx import default_amx_params

        return default_amx_params(problem.dtype)

    def compile(self, params: Any, problem: Problem, root: Any = None) -> Callable[..., Any]:
        from ..amx import compile_amx
        from ..int8.kernel import Int8Kernel

        raw = compile_amx(params, problem.dtype, root)
        return IntegerKernel(Int8Kernel.around(raw, params, problem.dtype))

    def verify(self, kernel: Callable[..., Any], problem: Problem, *,
               shape: tuple[int, int, int] | None = None) -> Verdict:
        return Int8GemmFamily.verify(self, kernel, problem, shape=shape)  # type: ignore[arg-type]

    def workload(self, problem: Problem, seed: int = 1) -> Workload:
        return Int8GemmFamily.workload(self, problem, seed)  # type: ignore[arg-type]

    def generator_hash(self) -> str:
        from ..amx.template import generator_hash

        return generator_hash()
