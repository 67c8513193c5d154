"""Options several commands share: problem shape, dtype and thread count."""

from __future__ import annotations

import math
from typing import Any, Callable

import click

from ..dtypes import DTYPES


# A wait beyond threading.TIMEOUT_MAX (about 9.2e9 s here) raises OverflowError in the
# worker's queue; no search needs 11 days per shape or per candidate.
MAX_SECONDS = 1e6
# numpy's and optuna's samplers take 32-bit unsigned seeds.
SEED_RANGE = click.IntRange(0, 2**32 - 1)


class Seconds(click.FloatRange):
    """A positive finite duration up to MAX_SECONDS; NaN is refused (it compares false with
    every limit, so a NaN timeout would silently mean none)."""

    name = "seconds"

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True, max=MAX_SECONDS)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        rv = super().convert(value, param, ctx)
        if math.isnan(rv):
            self.fail(f"{value!r} is not a number of seconds.", param, ctx)
        return rv


def _dtype(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from ..dtypes import normalize
    from ..families import family_for
    from ..problem import Problem

    name = normalize(value.lower())
    try:
        family_for(Problem(1, 1, 1, name))
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    return name


def dtype_option(f: Callable) -> Callable:
    """``--dtype``: float32, float64 (f32, f64), or an 8-bit pair (u8s8: A uint8, B int8, ...)."""
    names = [n for d in DTYPES.values() for n in (d.name, *d.aliases)]
    return click.option("--dtype", type=click.Choice(names, case_sensitive=False),
                        default="float32", show_default=True, callback=_dtype,
                        help="Element type: float32, float64 (f32, f64), or an 8-bit pair "
                             "u8s8, s8s8, u8u8, s8u8 (A's type, then B's; C is int32).")(f)


def threads_option(f: Callable) -> Callable:
    """``--threads T``; None means the usable cores (see :func:`resolve_threads`)."""
    return click.option("--threads", type=click.IntRange(min=1), default=None,
                        help="Threads of the GEMM (default: as gemmtune.matmul's, the usable "
                             "cores unless NUMBA_NUM_THREADS or OMP_NUM_THREADS say fewer).")(f)


def shape_options(f: Callable) -> Callable:
    """``-m``, ``-n``, ``-k``: the GEMM shape C(m x n) = A(m x k) @ B(k x n)."""
    for name, what in (("k", "depth, columns of A"), ("n", "columns of C"), ("m", "rows of C")):
        f = click.option(f"-{name}", name, type=click.IntRange(min=1), default=None,
                         help=f"{name.upper()}: {what}.")(f)
    return f


def resolve_threads(threads: int | None) -> int:
    """``threads``, else what ``matmul`` would use here (gemmtune/threads.py)."""
    if threads is not None:
        return threads
    from ..threads import default_threads

    return default_threads()


def given_shape(m: int | None, n: int | None, k: int | None) -> tuple[int, int, int] | None:
    """The shape when all of -m -n -k are given, None when none is; a usage error otherwise."""
    given = [v is not None for v in (m, n, k)]
    if all(given):
        return m, n, k  # type: ignore[return-value]
    if any(given):
        missing = [f"-{name}" for name, g in zip("mnk", given) if not g]
        raise click.UsageError(f"Give all of -m, -n and -k (missing {', '.join(missing)}).")
    return None


def format_gflops(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, (int, float)) else "-"


def _complete_suite(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of ``--shapes``: the shipped suite names, then files."""
    from click.shell_completion import CompletionItem

    from ..shapes import suite_names

    items = [CompletionItem(name, help="shipped suite") for name in suite_names()
             if name.startswith(incomplete)]
    return items + [CompletionItem(incomplete, type="file")]


def suite_option(what: str) -> Callable[[Callable], Callable]:
    """``--shapes FILE|SUITE``; the help lists the suites that ship (``configs/shapes``)."""
    from ..shapes import suite_names

    def decorate(f: Callable) -> Callable:
        return click.option("--shapes", "shapes_spec", default=None, metavar="FILE|SUITE",
                            shell_complete=_complete_suite,
                            help=f"{what}: a JSON file, or a suite that ships with gemmtune "
                                 f"({', '.join(suite_names())}).")(f)

    return decorate
