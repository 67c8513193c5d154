"""Optuna studies: where they are stored, how they are named, which sampler proposes.

By default the studies live in an SQLite file in the cache dir (``<root>/studies.db``):
SQLite commits each trial in a transaction, so a search killed at any moment (even with
kill -9) leaves every finished trial readable, and rerunning the same command continues
the same study. A heartbeat marks a trial left running by a killed search as failed when
the study is next opened.

One study per fingerprint and problem: a study's trials are only comparable when they were
measured on the same machine and code, for the same shape, dtype and thread count.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import GemmtuneError
from ..problem import Problem
from .space import SearchSpace

SAMPLERS = ("tpe", "random", "grid", "qmc")
STUDIES_FILE = "studies.db"
HEARTBEAT_SECONDS = 30
GRACE_SECONDS = 120
# TPE models after this many finished trials; the seeds run first, so few random ones are
# needed before it (tuned on the replay table, see benchmarks/sampler_efficiency.py).
TPE_STARTUP_TRIALS = 5


def default_storage_url(root: str | os.PathLike) -> str:
    return f"sqlite:///{Path(root).resolve() / STUDIES_FILE}"


def study_name(fingerprint_id: str, problem: Problem) -> str:
    """``gemm-<fingerprint id>-<problem key>``, e.g. ``gemm-3f2a..-float32-t1-1024x1024x1024``."""
    return f"gemm-{fingerprint_id}-{problem.key()}"


def make_sampler(name: str, space: SearchSpace, seed: int | None = None) -> Any:
    """The Optuna sampler called ``name`` (one of SAMPLERS), seeded with ``seed``."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if name == "tpe":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(multivariate=True, seed=seed,
                                              n_startup_trials=TPE_STARTUP_TRIALS)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    if name == "qmc":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False,
                                              warn_asynchronous_seeding=False)
    raise ValueError(f"unknown sampler {name!r}: use one of {', '.join(SAMPLERS)}.")


def open_storage(url: str | None, root: str | os.PathLike) -> tuple[Any, str]:
    """The storage for ``url`` (default: the SQLite file under ``root``) and its URL.

    Raises:
        GemmtuneError: the storage cannot be reached or created, in one sentence.
    """
    import optuna

    if url is None:
        try:
            Path(root).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise GemmtuneError(f"cannot create the cache directory {root}: {e.strerror or e}.") from None
        url = default_storage_url(root)
    import warnings

    try:
        with warnings.catch_warnings():
            # heartbeat_interval is marked experimental; it is what fails stale trials.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                engine_kwargs={"connect_args": {"timeout": 30}} if url.startswith("sqlite") else None)
    except Exception as e:  # sqlalchemy and driver errors: any of them means unreachable
        raise GemmtuneError(f"cannot open the study storage {redact(url)}: {_first_line(e)}") from None
    return storage, url


def open_study(storage: Any, name: str, problem: Problem, fingerprint_id: str, sampler: Any,
               space: SearchSpace) -> Any:
    """Create or load the study ``name`` and record what it is about.

    Raises:
        GemmtuneError: a study of that name exists for another problem or machine.
    """
    import optuna

    try:
        study = optuna.create_study(study_name=name, storage=storage, sampler=sampler,
                                    direction="maximize", load_if_exists=True)
    except Exception as e:
        raise GemmtuneError(f"cannot open study {name!r}: {_first_line(e)}") from None
    attrs = study.user_attrs
    if "problem" in attrs:
        if attrs["problem"] != problem.to_dict():
            raise GemmtuneError(f"study {name!r} tunes {Problem.from_dict(attrs['problem']).label()}, "
                                f"not {problem.label()}; choose another --study name.")
        if attrs.get("space") not in (None, space.to_dict()):
            raise GemmtuneError(f"study {name!r} was made with another search space; "
                                "choose another --study name.")
    else:
        study.set_user_attr("problem", problem.to_dict())
        study.set_user_attr("fingerprint_id", fingerprint_id)
        study.set_user_attr("space", space.to_dict())
    return study


def enqueue_seeds(study: Any, space: SearchSpace, seeds: list) -> int:
    """Enqueue each seed not already in the study (a resumed search does not rerun them).

    Returns:
        How many seeds were enqueued.
    """
    # A waiting (enqueued, not yet run) trial keeps its point in its fixed params.
    done = {_point_key(t.params or t.system_attrs.get("fixed_params", {}))
            for t in study.get_trials(deepcopy=False)}
    n = 0
    for seed in seeds:
        point = space.encode(seed.params)
        if _point_key(point) in done:
            continue
        done.add(_point_key(point))
        study.enqueue_trial(point, user_attrs={"seed": seed.source})
        n += 1
    return n


def _point_key(point: dict[str, Any]) -> tuple:
    return tuple(sorted(point.items()))


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        user = cred.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    msg = text[0] if text else type(e).__name__
    msg = msg.rstrip(".")
    return msg + "."
