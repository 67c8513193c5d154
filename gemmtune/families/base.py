"""What a kernel family provides: the one interface search, cache, bench and matmul use.

A family is a way of generating kernels for some operations and dtypes: its parameter type,
the search space over those parameters on a machine, the configuration to run before
anything is tuned, how to compile a configuration into a callable, how to check a callable
against a reference, and the data a candidate is timed on. Nothing outside a family's own
package knows what its parameters mean.

``tests/families/test_contract.py`` runs one suite over every registered family (and over
a numpy-backed toy family that exists only in the tests).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

from ..problem import Problem


class Params(Protocol):
    """A family's parameter set: frozen, hashable, JSON-able."""

    def to_dict(self) -> dict[str, Any]: ...
    def key(self) -> str: ...      # a short stable hash, for file and study names
    def label(self) -> str: ...    # a BLIS-style name that carries the shape


class Space(Protocol):
    """A search space over a family's parameters (``gemmtune.search.space.SearchSpace``)."""

    def searched(self) -> list: ...
    def constants(self) -> dict[str, Any]: ...
    def suggest(self, trial: Any) -> Any: ...
    def decode(self, values: dict[str, Any]) -> Any: ...
    def encode(self, params: Any) -> dict[str, Any]: ...
    def snap(self, params: Any) -> Any: ...
    def grid(self) -> dict[str, list]: ...
    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class StartingPoint:
    """A configuration a search measures before its sampler proposes anything.

    Attributes:
        params: the configuration, already inside the search space.
        source: where it came from ("model", "default:avx2", "transfer:512x512x512", ...).
    """

    params: Any
    source: str


@dataclass
class Workload:
    """The operands a candidate is timed on, and the calls to time.

    Attributes:
        run: ``run(kernel)`` returns a no-argument callable that runs ``kernel`` once.
        peer: a no-argument callable running numpy's product of the same operands (the
            reference a candidate's figure is paired with, so host noise cancels).
        flops: operations of one call (2 per multiply-add).
    """

    run: Callable[[Any], Callable[[], Any]]
    peer: Callable[[], Any]
    flops: float


@dataclass(frozen=True)
class Verdict:
    """A kernel's check against the reference: PASS, MARGINAL (accepted) or FAIL."""

    residual: float
    status: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "FAIL"


class KernelFamily(ABC):
    """One way of generating kernels, for the (operation, dtype) pairs in ``handles``.

    Attributes:
        name: stable identifier, stored with every tuning ("numba-gemm", ...).
        handles: the (op, dtype) pairs this family computes.
    """

    name: str = ""
    handles: tuple[tuple[str, str], ...] = ()

    def accepts(self, problem: Problem) -> bool:
        return (problem.op, problem.dtype) in self.handles and self.available()

    def available(self) -> bool:
        """Whether this machine can run the family's kernels at all (the CPU, the OS)."""
        return True

    # -- parameters ----------------------------------------------------------------------

    @abstractmethod
    def parse_params(self, data: Mapping[str, Any]) -> Any:
        """The parameter set from its JSON object; ValueError with one sentence if invalid."""

    @abstractmethod
    def params_problems(self, params: Any, problem: Problem) -> list[str]:
        """Every reason ``params`` cannot run ``problem`` here, one sentence each.

        This is the gate for configurations from files (tunings, imports): anything outside
        what the search itself would explore on this machine is refused here.
        """

    def file_problems(self, params: Any, problem: Problem) -> list[str]:
        """What makes ``params`` unusable on any machine (a file holds other machines'
        entries too): broken invariants, sizes no search space of the family would reach."""
        return params.problems(problem.dtype) if hasattr(params, "problems") else []

    def check_params(self, data: Mapping[str, Any], problem: Problem) -> Any:
        """``parse_params`` plus ``params_problems``: ValueError naming the first problem."""
        params = self.parse_params(data)
        problems = self.params_problems(params, problem)
        if problems:
            raise ValueError(f"invalid kernel parameters: {problems[0]}")
        return params

    def borrowable(self, tuned: Problem, problem: Problem) -> bool:
        """Whether ``problem``, with no tuning of its own, may run the configuration tuned
        for ``tuned`` (a nearby problem of the same dtype and threads); when no tuned problem
        is, it runs ``default_params``. Every nearby problem is, unless the family says."""
        return True

    # Products of fewer flops (or integer operations) with no tuning of their own run on one
    # thread; None: gemmtune.api.SPLIT_MIN_FLOPS.
    split_min_flops: float | None = None

    def fit_borrowed(self, params: Any, problem: Problem) -> tuple[Any, str | None]:
        """``params``, tuned for another (nearby) problem, fitted to ``problem`` before it
        runs it (the family may cut blocks the problem cannot fill), and what was changed,
        for ``best_config`` (None: nothing). Default: unchanged."""
        return params, None

    def params_for_threads(self, params: Any, problem: Problem, threads: int) -> Any:
        """The parameters to run ``problem`` on ``threads`` threads: ``params``, unless the
        family has a cheaper equivalent for that thread count (the float family runs a
        parallel configuration on one thread as its serial twin, which skips numba's
        parallel launch)."""
        return params

    # -- the search ----------------------------------------------------------------------

    @abstractmethod
    def space(self, problem: Problem, fp: dict[str, Any] | None = None) -> Any:
        """The search space for ``problem`` on this machine (or the fingerprint ``fp``)."""

    @abstractmethod
    def default_params(self, problem: Problem, isa: str | None = None) -> Any:
        """The configuration to run before anything is tuned, for ``isa`` (default: this
        machine's ISA family)."""

    def starting_points(self, space: Any, problem: Problem, *, fp: dict[str, Any] | None = None,
                        tuned: list[tuple[Any, str]] = ()) -> list[StartingPoint]:
        """What a search measures first: tuned configurations of nearby problems (``tuned``,
        nearest first, with their source names), then the family's own defaults, each snapped
        into ``space``, without duplicates."""
        raw = list(tuned) + [(self.default_params(problem), "default")]
        return snap_unique(space, raw)

    # -- kernels -------------------------------------------------------------------------

    @abstractmethod
    def compile(self, params: Any, problem: Problem, root: Any = None) -> Callable[..., Any]:
        """The compiled kernel: ``kernel(A, B, out=None, *, threads=None, **options)``.

        Compiling (or loading from a disk cache) happens here, not on the first call.
        """

    @abstractmethod
    def verify(self, kernel: Callable[..., Any], problem: Problem, *,
               shape: tuple[int, int, int] | None = None) -> Verdict:
        """Check ``kernel`` against the reference on ``shape`` (default the problem's) and the
        fringe shapes, outputs poisoned first."""

    @abstractmethod
    def workload(self, problem: Problem, seed: int = 1) -> Workload:
        """The operands a candidate for ``problem`` is timed on."""

    def generator_hash(self) -> str:
        """Changes whenever the generated code may change (part of the fingerprint)."""
        return ""


def snap_unique(space: Any, raw: list[tuple[Any, str]]) -> list[StartingPoint]:
    """``raw`` (params, source) pairs snapped into ``space``, first of each kernel kept."""
    out: list[StartingPoint] = []
    seen: set[str] = set()
    for params, source in raw:
        try:
            snapped = space.snap(params)
        except ValueError:  # Rejected: no point of the space is near enough
            continue
        if snapped.key() not in seen:
            seen.add(snapped.key())
            out.append(StartingPoint(snapped, source))
    return out
