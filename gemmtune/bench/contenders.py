"""The contenders of one benchmark row: compiled kernels kept for the run, the peers,
each contender checked once against the reference (its output poisoned first), then all
timed in interleaved rounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


class _Kernels:
    """Compiled kernels of this run, one per (family, params, dtype)."""

    def __init__(self, root: Any):
        self.root = root
        self.made: dict[Any, Any] = {}

    def get(self, family: Any, params: Any, problem: Any) -> Any:
        key = (family.name, params, problem.dtype)
        if key not in self.made:
            self.made[key] = family.compile(params, problem, self.root)
        return self.made[key]


def _figure(timing: Any, flops: float, peak_gflops: float | None) -> dict[str, Any]:
    from ..search.plausibility import above_ceiling, percent_of_peak

    doc = timing.summary(flops)
    doc["samples_seconds"] = list(timing.samples)
    # Above the peak is a fault of the measurement (or of a peak measured under load), not a
    # share of it: no percentage is given, and the fault is named.
    doc["percent_of_peak"] = percent_of_peak(doc["gflops"], peak_gflops)
    fault = above_ceiling(doc["gflops"], peak_gflops, "FMA peak")
    if fault:
        doc["fault"] = fault
    return doc


class Peers:
    """The optional peers of one run: whether onnxruntime is here, and the notes about it,
    each said once (``on_note``) however many shapes it concerns."""

    def __init__(self, on_note: Callable[[str], None] | None = None):
        from . import peers

        self.onnxruntime = peers.onnxruntime_version()
        self.notes: list[str] = []
        self._on_note = on_note
        if self.onnxruntime is None:
            self.note(peers.missing_note())

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
            if self._on_note is not None:
                self._on_note(text)

    def make(self, build: Callable[[], Any]) -> Any:
        """``build()``'s onnxruntime callable, or None (and a note) when it cannot run here."""
        if self.onnxruntime is None:
            return None
        from .peers import PeerUnavailable

        try:
            return build()
        except PeerUnavailable as e:
            self.note(str(e))
            return None


@dataclass
class _Contender:
    role: str
    fn: Callable[[], Any]
    out: Any = None      # the array ``fn`` writes; None when ``fn`` returns its result
    what: str = ""       # who it is, for the sentence when its result is wrong
    peer: bool = False   # another library's: a wrong result drops it (with a note), not the run
    checked: bool = True  # False: no check can hold (float32 beyond its exact K); run, not judged


def _poison(out: Any) -> None:
    """Fill ``out`` with what no correct product leaves there: NaN, or a sentinel for integers."""
    import numpy as np

    if out.dtype.kind == "f":
        out[...] = np.nan   # an element the contender does not write fails the check
    else:
        from ..int8.verify import SENTINEL

        out[...] = SENTINEL


def _verified(contenders: list[_Contender], verify: Callable[[Any], Any], threads: int,
              label: str, peers: Peers) -> tuple[list[_Contender], dict[str, Any]]:
    """Run every contender once on a NaN-poisoned output and check the result.

    Returns the contenders that passed and their verdicts (None for an unchecked one).

    Raises:
        GemmtuneError: gemmtune's or numpy's result is wrong (no figure is reported).
    """
    import numpy as np

    from ..errors import GemmtuneError
    from ..measure import pinned_threads

    kept, verdicts = [], {}
    with pinned_threads(threads):
        for c in contenders:
            if c.out is not None:
                _poison(c.out)
            got = c.fn()
            if not c.checked:
                verdicts[c.role] = None
                kept.append(c)
                continue
            verdict = verify(np.asarray(c.out if c.out is not None else got))
            if not verdict.ok:
                if c.peer:
                    peers.note(f"{c.what} gave a wrong result for {label} ({verdict.reason}); "
                               "it is left out there.")
                    continue
                raise GemmtuneError(f"{c.what} gave a wrong result for {label} "
                                    f"({verdict.reason}); no figure is reported.")
            verdicts[c.role] = verdict
            kept.append(c)
    return kept, verdicts


def _timed(contenders: list[_Contender], threads: int, rounds: int, sample_seconds: float,
           flops: float, peak_gflops: float | None) -> dict[str, dict[str, Any]]:
    from ..measure import interleaved, pinned_threads

    for attempt in range(2):
        with pinned_threads(threads):
            timings = interleaved([c.fn for c in contenders], rounds, min_sample_seconds=sample_seconds)
        figs = {c.role: _figure(t, flops, peak_gflops) for c, t in zip(contenders, timings)}
        # A figure above the peak is a fault of this measurement: measure once more; if it
        # stays, it is reported with its fault and no share of the peak.
        if not any("fault" in f for f in figs.values()):
            break
    for f in figs.values():
        if "fault" in f:
            f["remeasured"] = True
    return figs


def _checked(fig: dict[str, Any] | None, verdict: Any) -> dict[str, Any] | None:
    if fig is not None:
        fig["check"] = None if verdict is None else {"status": verdict.status,
                                                     "residual": verdict.residual}
    return fig
