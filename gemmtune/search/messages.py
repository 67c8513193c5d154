"""The messages between a search and its worker process: one JSON object per line each way.

The search side (``worker_client.Worker``) sends a request and reads an outcome; the worker
side (``worker.serve``) reads requests and writes outcomes. Both ends build and read these
dataclasses only, so a field is spelled once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# The finish's samples are longer than a candidate's (0.05 s): its figures pick the winner.
REMEASURE_SAMPLE_SECONDS = 0.1


@dataclass
class EvaluateRequest:
    """Compile, verify and time one candidate.

    Attributes:
        params: the candidate's parameters (its family's JSON object).
        problem: the Problem's JSON object.
        family: the kernel family's name.
        root: cache dir for compiled kernels.
        samples, min_sample_seconds: the timing protocol.
        trial: the study's trial number (for fault injection in tests).
        best_gflops: the best figure so far; given, a hopeless candidate is stopped early.
        reference_gflops: numpy's figure for the study; given, the candidate is timed paired
            with numpy and reported on that scale.
        verify: check against the reference first.
    """

    params: dict[str, Any]
    problem: dict[str, Any]
    family: str = ""
    root: str | None = None
    samples: int = 5
    min_sample_seconds: float = 0.05
    trial: int | None = None
    best_gflops: float | None = None
    reference_gflops: float | None = None
    verify: bool = True
    op: str = "evaluate"


@dataclass
class RemeasureRequest:
    """Time finalists (already verified) and numpy interleaved, with more samples."""

    candidates: list[dict[str, Any]]
    problem: dict[str, Any]
    family: str = ""
    root: str | None = None
    rounds: int = 7
    min_sample_seconds: float = REMEASURE_SAMPLE_SECONDS
    op: str = "remeasure"


@dataclass
class Outcome:
    """What became of one candidate.

    Attributes:
        status: "ok", "failed" or "pruned" (stopped early: ``gflops`` is the partial figure).
        reason: why it failed or was stopped.
        seconds: wall time of the request, measured by the search side.
        numpy_gflops, numpy_ratio: paired timing only: numpy's own median in the rounds and
            the candidate's median per-round ratio to it.
        numpy_iqr: the IQR of numpy's per-round figures (how steady the reference was).
        alone_gflops, after_gflops: paired timing only: the candidate timed back to back, and
            each call right after a numpy call (as in a user's loop); ``gflops`` is the lower.
        own_gflops: the candidate's own median, not put on the study's scale.
        measure_seconds: seconds the worker spent verifying and timing (after compiling).
        disturbed: why the figure is the candidate's own rather than scaled (the reference
            moved in every measurement), set by the search.
        run_share: the share of the time the worker's threads were ready to run that other
            work left them while it timed (``contention.run_share``; None where the OS does
            not say); below ``measure.BUSY_CPU_SHARE`` other work held the cores.
    """

    status: str = "failed"
    reason: str = ""
    compile_seconds: float | None = None
    residual: float | None = None
    gflops: float | None = None
    gflops_iqr: float | None = None
    samples: int | None = None
    repeats: int | None = None
    unstable: bool | None = None
    numpy_gflops: float | None = None
    numpy_ratio: float | None = None
    numpy_iqr: float | None = None
    alone_gflops: float | None = None
    after_gflops: float | None = None
    own_gflops: float | None = None
    measure_seconds: float | None = None
    disturbed: str | None = None
    run_share: float | None = None
    seconds: float | None = None

    def attrs(self) -> dict[str, Any]:
        """The fields that were measured (not None), for a trial's user attributes."""
        return {k: v for k, v in asdict(self).items() if v is not None and k not in ("status", "reason")}


@dataclass
class RemeasureOutcome:
    """Finalists' figures: ``numpy`` and one dict per candidate (``{"error": ...}`` if it no
    longer compiles), each with ``gflops``, ``gflops_iqr``, ``samples``, ``unstable``; and
    ``run_share``, as in ``Outcome``, for the whole measurement."""

    status: str = "ok"
    reason: str = ""
    numpy: dict[str, Any] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    run_share: float | None = None
    seconds: float | None = None


@dataclass
class Progress:
    """Sent by the worker before the outcome: ``stage`` "compiled" starts the clock of the
    search's time-based early stop (the compile is not the candidate's fault)."""

    stage: str = "compiled"
    compile_seconds: float | None = None
    op: str = "progress"


Request = EvaluateRequest | RemeasureRequest
_REQUESTS = {"evaluate": EvaluateRequest, "remeasure": RemeasureRequest}


def encode(message: Any) -> str:
    """One line of JSON for any message above."""
    return json.dumps(asdict(message))


def _build(cls: type, data: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def decode_request(line: str | bytes) -> Request:
    """The request on ``line``; ValueError when it is not one."""
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("a request must be a JSON object.")
    cls = _REQUESTS.get(data.get("op", "evaluate"))
    if cls is None:
        raise ValueError(f"unknown request {data.get('op')!r}.")
    return _build(cls, data)


def decode_progress(line: str | bytes) -> Progress | None:
    """The progress note on ``line``, or None when the line is an outcome."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("op") == "progress":
        return _build(Progress, data)
    return None


def decode_outcome(line: str | bytes, request: Request) -> Outcome | RemeasureOutcome:
    """The answer to ``request`` on ``line``."""
    data = json.loads(line)
    cls = RemeasureOutcome if isinstance(request, RemeasureRequest) else Outcome
    if cls is RemeasureOutcome and data.get("status") != "ok":
        return RemeasureOutcome(status=data.get("status", "failed"), reason=data.get("reason", ""))
    return _build(cls, data)
