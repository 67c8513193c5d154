"""Optuna studies: where they are stored, how they are named, which sampler proposes.

By default the studies live in an SQLite file in the cache dir (``<root>/studies.db``):
SQLite commits each trial in a transaction, so a search killed at any moment (even with
kill -9) leaves every finished trial readable, and rerunning the same command continues
the same study. A heartbeat marks a trial left running by a killed search as failed when
the study is next opened.

One study per fingerprint and problem: a study's trials are only comparable when they were
measured on the same machine and code, for the same shape, dtype and thread count. A study
records the fingerprint of the machine that created it, and a worker of another fingerprint
is refused, so a study on a shared database (``--storage postgresql://...``) only ever holds
timings of one kind of hardware however many machines work on it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

from ..errors import GemmtuneError
from ..paths import make_private_dir
from ..problem import Problem

SAMPLERS = ("tpe", "random", "grid", "qmc")
STUDIES_FILE = "studies.db"
HEARTBEAT_SECONDS = 30
GRACE_SECONDS = 120
# TPE models after this many finished trials; the starting points run first, so few random ones are
# needed before it (tuned on the replay table, see benchmarks/sampler_efficiency.py).
TPE_STARTUP_TRIALS = 5
# Seconds to wait for a database server before giving up (an unreachable host would
# otherwise hang for the TCP timeout, minutes).
CONNECT_TIMEOUT = 10
# Driver modules SQLAlchemy imports for a URL scheme, and the extra that installs them.
_DRIVERS = {"psycopg2": "postgres", "psycopg": "postgres", "pymysql": "mysql", "MySQLdb": "mysql"}


def default_storage_url(root: str | os.PathLike) -> str:
    return f"sqlite:///{Path(root).resolve() / STUDIES_FILE}"


def study_name(fingerprint_id: str, problem: Problem) -> str:
    """``gemm-<fingerprint id>-<problem key>``, e.g. ``gemm-3f2a..-float32-t1-1024x1024x1024``."""
    return f"gemm-{fingerprint_id}-{problem.key()}"


def is_shared(url: str | None) -> bool:
    """True for a storage that other processes or machines may be working on at the same
    time: any URL given with ``--storage`` (None is the embedded default)."""
    return url is not None


def make_sampler(name: str, space: Any, seed: int | None = None,
                 shared: bool = False) -> Any:
    """The Optuna sampler called ``name`` (one of SAMPLERS), seeded with ``seed``.

    With ``shared`` (several workers on one study), TPE runs with the constant liar: a trial
    another worker is still measuring counts as a bad result, so workers do not all propose
    the same promising point at once.
    """
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if name == "tpe":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(multivariate=True, seed=seed,
                                              n_startup_trials=TPE_STARTUP_TRIALS,
                                              constant_liar=shared)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    if name == "qmc":
        try:
            import scipy  # noqa: F401  (optuna's QMC sampler draws its sequences with scipy)
        except ImportError:
            raise GemmtuneError("the qmc sampler needs scipy: pip install 'gemmtune[qmc]', or use another "
                                "--sampler.") from None
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
            make_private_dir(root)
        except OSError as e:
            raise GemmtuneError(f"cannot create the cache directory {root}: {e.strerror or e}.") from None
        url = default_storage_url(root)
        if not _sqlite_writable(Path(root)):
            return _in_memory(root), f"memory (not saved: {Path(root) / STUDIES_FILE} is not writable)"
    import time
    import warnings

    for attempt in range(3):
        try:
            with warnings.catch_warnings():
                # heartbeat_interval is marked experimental; it is what fails stale trials.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    with_driver(url), heartbeat_interval=HEARTBEAT_SECONDS,
                    grace_period=GRACE_SECONDS, engine_kwargs=_engine_kwargs(url))
            return storage, url
        except ImportError as e:
            # Optuna re-raises SQLAlchemy's ModuleNotFoundError as a bare ImportError.
            cause = e if isinstance(e, ModuleNotFoundError) else e.__cause__
            module = str(getattr(cause, "name", None) or "")
            extra = _DRIVERS.get(module.split(".")[0])
            hint = (f"pip install 'gemmtune[{extra}]'" if extra
                    else "install the driver the URL names")
            driver = f"driver {module}" if module else "driver"
            raise GemmtuneError(f"cannot open the study storage {redact(url)}: its database "
                                f"{driver} is not installed ({hint}).") from None
        except Exception as e:  # sqlalchemy and driver errors: any of them means unreachable
            # Workers started together on a new database race to create Optuna's tables;
            # the loser sees a duplicate-object error and finds the tables made on retry.
            if attempt < 2 and _is_creation_race(e):
                time.sleep(0.5 + attempt)
                continue
            raise GemmtuneError(f"cannot open the study storage {redact(url)}: "
                                f"{_first_line(e)}") from None
    raise AssertionError("unreachable")


def _sqlite_writable(root: Path) -> bool:
    """Whether SQLite can write the default database: the file, and the directory for its
    journal (``access`` sees ``chattr +i`` even for root)."""
    db = root / STUDIES_FILE
    return os.access(root, os.W_OK) and (not db.exists() or os.access(db, os.W_OK))


def _in_memory(root: str | os.PathLike) -> Any:
    """A study storage in memory, when the cache dir's database cannot be written: the
    search still runs and prints its result, as it does when the winner cannot be cached."""
    import warnings

    import optuna

    from ..cache import CacheWarning

    warnings.warn(f"the study cannot be saved in {Path(root) / STUDIES_FILE}: the directory or "
                  "the database is not writable; this search keeps its trials in memory (give "
                  "--storage to keep them).", CacheWarning, stacklevel=2)
    return optuna.storages.InMemoryStorage()


def with_driver(url: str) -> str:
    """``url`` with the PostgreSQL driver named when it names none.

    ``gemmtune[postgres]`` installs psycopg (version 3), the default driver of SQLAlchemy
    2.1 but not of 2.0, so a plain ``postgresql://`` URL is pinned to it; a setup with only
    psycopg2 keeps SQLAlchemy's own choice.
    """
    import importlib.util

    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() == "postgresql":
        if importlib.util.find_spec("psycopg") or not importlib.util.find_spec("psycopg2"):
            return f"postgresql+psycopg://{rest}"
    return url


def _engine_kwargs(url: str) -> dict[str, Any] | None:
    """SQLAlchemy engine options: a busy timeout for SQLite, a connect timeout for servers."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        return {"connect_args": {"timeout": 30}}
    if scheme in ("postgresql", "mysql", "mariadb"):
        # Checking a pooled connection before use survives a server restart mid-search.
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}, "pool_pre_ping": True}
    return None


def _is_creation_race(e: BaseException) -> bool:
    try:
        from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
    except ImportError:
        return False
    # PostgreSQL says "already exists" / "duplicate key"; SQLite "UNIQUE constraint failed"
    # (two processes inserting Optuna's schema version) or "table ... already exists".
    text = str(e).lower()
    return isinstance(e, (IntegrityError, OperationalError, ProgrammingError)) and any(
        s in text for s in ("already exists", "duplicate", "unique constraint failed"))


def open_study(storage: Any, name: str, problem: Problem, fingerprint_id: str, sampler: Any,
               space: Any, fingerprint: dict[str, Any] | None = None) -> Any:
    """Create or load the study ``name`` and record what it is about.

    The study's user attributes say what its timings mean, and optuna-dashboard shows them:
    ``problem``, ``fingerprint_id`` (the machine that created it), ``fingerprint`` (that
    machine's full fingerprint, when given) and ``space``.

    Raises:
        GemmtuneError: a study of that name exists for another machine or problem.
    """
    import optuna

    try:
        study = optuna.create_study(study_name=name, storage=storage, sampler=sampler,
                                    direction="maximize", load_if_exists=True)
    except Exception as e:
        raise GemmtuneError(f"cannot open study {name!r}: {_first_line(e)}") from None
    attrs = study.user_attrs
    if "problem" not in attrs:
        study.set_user_attr("problem", problem.to_dict())
        study.set_user_attr("fingerprint_id", fingerprint_id)
        if fingerprint is not None:
            study.set_user_attr("fingerprint", fingerprint)
        study.set_user_attr("space", space.to_dict())
        # Another worker may have recorded its own attributes at the same moment; the
        # checks below then run against what the study finally says.
        attrs = study.user_attrs
    owner = attrs.get("fingerprint_id")
    if owner is not None and owner != fingerprint_id:
        raise GemmtuneError(f"study {name!r} holds timings of another machine (fingerprint "
                            f"{owner}; this machine is {fingerprint_id}), and timings of "
                            "different hardware must not mix; choose another --study name.")
    if attrs.get("problem") != problem.to_dict():
        raise GemmtuneError(f"study {name!r} tunes {Problem.from_dict(attrs['problem']).label()}, "
                            f"not {problem.label()}; choose another --study name.")
    if attrs.get("space") not in (None, space.to_dict()):
        raise GemmtuneError(f"study {name!r} was made with another search space; "
                            "choose another --study name.")
    return study


def enqueue_starts(study: Any, space: Any, starts: list, limit: int | None = None) -> int:
    """Enqueue each starting point not already in the study (a resumed search does not rerun
    them), at most ``limit`` of them; each trial records its source in the ``start`` user
    attribute.

    Returns:
        How many points were enqueued.
    """
    # A waiting (enqueued, not yet run) trial keeps its point in its fixed params.
    done = {_point_key(t.params or t.system_attrs.get("fixed_params", {}))
            for t in study.get_trials(deepcopy=False)}
    n = 0
    for start in starts:
        if limit is not None and n >= limit:
            break
        point = space.encode(start.params)
        if _point_key(point) in done:
            continue
        done.add(_point_key(point))
        study.enqueue_trial(point, user_attrs={"start": start.source})
        n += 1
    return n


def is_start(trial: Any) -> bool:
    """True for a trial enqueued as a starting point ("seed" in studies of earlier releases)."""
    return "start" in trial.user_attrs or "seed" in trial.user_attrs


def _point_key(point: dict[str, Any]) -> tuple:
    return tuple(sorted(point.items()))


# Query parameters that carry secrets in database URLs (libpq's password and sslpassword,
# tokens and keys of other drivers), matched by a substring of the name.
_SECRET_PARAM = re.compile(
    r"([?&][^=&?#]*(?:pass|pwd|secret|token|key|auth|cred)[^=&?#]*=)[^&#]*", re.IGNORECASE)


def redact(url: str) -> str:
    """``url`` without its password (``user:pass@``, ``?password=``...), for messages."""
    url = _SECRET_PARAM.sub(r"\1***", url)
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        user, sep, _ = cred.partition(":")
        return f"{scheme}://{user}{':***' if sep else ''}@{host}"
    return url


def _first_line(e: BaseException) -> str:
    import re

    text = str(e).strip().splitlines()
    msg = text[0] if text else type(e).__name__
    # SQLAlchemy prefixes the driver's message with its class: "(psycopg.OperationalError) ".
    msg = re.sub(r"^\([\w.]+\)\s*", "", msg) or type(e).__name__
    msg = msg.rstrip(".")
    return msg + "."


REFERENCE_ATTR = "numpy_reference_gflops"


def numpy_reference(study: Any, measure: Callable[[], float | None]) -> float | None:
    """numpy's GFLOP/s on the study's problem: the scale of every candidate's figure.

    ``measure`` is called once, when the study has no reference yet, and its figure is kept
    in the study, so that a resumed search (or another machine of the fleet) reports its
    candidates on the same scale. None, if numpy could not be timed, leaves candidates
    timed on their own.
    """
    ref = study.user_attrs.get(REFERENCE_ATTR)
    if ref:
        return float(ref)
    ref = measure()
    if ref:
        study.set_user_attr(REFERENCE_ATTR, ref)
    return ref
