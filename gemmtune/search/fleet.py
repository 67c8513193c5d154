"""The fleet table: the best configuration of every fingerprint and problem in a study database.

A team that points every machine's searches at one database (``--storage postgresql://...``)
holds there a study per fingerprint and problem. This module reads the winners back out as
cache entries, the rows of ``gemmtune export --storage URL --all``.

A study counts when its user attributes say what it tunes (``problem``) and on which machine
(``fingerprint_id``), as every study ``gemmtune search`` makes does; other studies in the same
database are left alone. The winner of a study is its best finished trial as measured during
the search (the finalists' re-measurement happens on one worker and is not stored in the
study). Several studies of one fingerprint and problem (other ``--study`` names) give one
entry: the fastest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..cache import Entry, checked_params
from ..problem import Problem


@dataclass
class Fleet:
    """What a database holds.

    Attributes:
        entries: one per fingerprint and problem, ordered by fingerprint then problem.
        fingerprints: the full fingerprint of each machine, as its studies recorded it
            (studies made before fingerprints were recorded give none).
        studies: gemmtune studies read.
        skipped: ``(study name, reason)`` of gemmtune studies that gave no entry.
    """

    entries: list[Entry] = field(default_factory=list)
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)
    studies: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def read_fleet(storage: Any) -> Fleet:
    """The best configuration of every fingerprint and problem in ``storage`` (an Optuna storage)."""
    import optuna

    fleet = Fleet()
    best: dict[tuple, Entry] = {}
    for frozen in storage.get_all_studies():
        attrs = frozen.user_attrs
        fid, raw_problem = attrs.get("fingerprint_id"), attrs.get("problem")
        if not isinstance(fid, str) or not isinstance(raw_problem, dict):
            continue  # not a gemmtune study
        fleet.studies += 1
        name = frozen.study_name
        if isinstance(attrs.get("fingerprint"), dict):
            fleet.fingerprints.setdefault(fid, attrs["fingerprint"])
        try:
            problem = Problem.from_dict(raw_problem)
        except (ValueError, TypeError) as e:
            fleet.skipped.append((name, f"its problem cannot be read ({e})"))
            continue
        try:
            trial = optuna.load_study(study_name=name, storage=storage).best_trial
        except ValueError:  # Optuna's way of saying no trial has finished
            fleet.skipped.append((name, "no trial has finished yet"))
            continue
        try:
            entry = _entry(fid, problem, name, trial)
        except (ValueError, TypeError, KeyError) as e:
            fleet.skipped.append((name, f"its best trial has no usable kernel ({e})"))
            continue
        key = entry.key()
        if key not in best or (entry.gflops or 0.0) > (best[key].gflops or 0.0):
            best[key] = entry
    fleet.entries = sorted(best.values(), key=Entry.key)
    return fleet


def _entry(fingerprint_id: str, problem: Problem, study: str, trial: Any) -> Entry:
    ua = trial.user_attrs
    params = checked_params(ua["kernel"], problem)
    performance = {"gflops": float(trial.value), "gflops_iqr": ua.get("gflops_iqr"),
                   "samples": ua.get("samples"), "unstable": ua.get("unstable")}
    provenance = {"study": study, "trial": trial.number, "worker": ua.get("worker"),
                  "start": ua.get("start", ua.get("seed")),
                  "date": trial.datetime_complete.isoformat(timespec="seconds")
                  if trial.datetime_complete else None}
    # Every finished trial passed the reference check on a machine of this fingerprint.
    return Entry(fingerprint_id, problem, params,
                 {k: v for k, v in performance.items() if v is not None},
                 {k: v for k, v in provenance.items() if v is not None}, verified=True)
