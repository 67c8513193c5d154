"""The persistent store of tuned configurations: ``<root>/tunings.json``.

One small JSON file, ``{"schema_version": 1, "entries": [...]}``, keyed by hardware
fingerprint, dtype, threads and (m, n, k). Readers never lock: every write replaces the file
atomically (temporary file in the same directory, fsync, ``os.replace``), so a reader sees
either the old or the new file, never half of one. Writers serialise a read-modify-write under
a file lock, so concurrent searches in several processes all keep their results.

A file that cannot be read or parsed is never deleted: it is moved aside to
``tunings.json.corrupt-<timestamp>``, reported, and the store carries on empty.
"""

from __future__ import annotations

import errno
import json
import math
import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from . import safejson
from .atomic import write_atomic
from .errors import GemmtuneError
from .paths import make_private_dir
from .problem import Problem, log_distance, rank_nearest  # noqa: F401 (log_distance re-exported)

SCHEMA_VERSION = 1
FILENAME = "tunings.json"
LOCK_TIMEOUT = 60.0  # seconds; a write takes milliseconds, so this only trips on a stuck process

Key = tuple[str, str, str, int, int, int, int, int]


class CacheWarning(UserWarning):
    """Something in the tuning cache was ignored or moved aside; the store carries on."""


@dataclass
class Entry:
    """One tuned configuration and how it was obtained.

    Attributes:
        fingerprint_id: the hardware fingerprint it was tuned (or is trusted) on.
        problem: the GEMM problem it is best for.
        params: the kernel family's parameter fields, all of them.
        performance: measurements: ``gflops``, ``gflops_iqr``, ``samples``, ``numpy_gflops``...
        provenance: how it was found: ``gemmtune_version``, ``sampler``, ``trials``, ``date``,
            ``study``...; imported entries also name their source.
        verified: False for a configuration imported from another machine that has not yet
            been checked against the reference here.
        family: the kernel family the parameters belong to (files written before families
            existed have none: the family that computes the problem).
    """

    fingerprint_id: str
    problem: Problem
    params: dict[str, Any]
    performance: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    verified: bool = True
    family: str = ""

    def __post_init__(self) -> None:
        if not self.family:
            from .families import family_for

            self.family = family_for(self.problem).name

    def key(self) -> Key:
        return entry_key(self.fingerprint_id, self.problem)

    @property
    def kernel_params(self) -> Any:
        """The parameters as the family's parameter type."""
        from .families import get_family

        return get_family(self.family).parse_params(self.params)

    @property
    def gflops(self) -> float | None:
        return self.performance.get("gflops")

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint_id": self.fingerprint_id, "problem": self.problem.to_dict(),
                "params": dict(self.params), "performance": dict(self.performance),
                "provenance": dict(self.provenance), "verified": self.verified,
                "family": self.family}

    @classmethod
    def from_dict(cls, data: Any, fingerprint_id: str | None = None) -> "Entry":
        """Build and check an entry; raise ValueError with one sentence when it is unusable.

        Args:
            data: the entry's JSON object.
            fingerprint_id: used when ``data`` has none (entries of an export document).
        """
        if not isinstance(data, dict):
            raise ValueError("an entry must be a JSON object.")
        fid = data.get("fingerprint_id", fingerprint_id)
        if not isinstance(fid, str) or not fid:
            raise ValueError("the entry has no fingerprint_id.")
        problem = Problem.from_dict(data.get("problem"))
        family = _family_of(data.get("family"), problem)
        params = checked_params(data.get("params"), problem, family)
        performance = data.get("performance", {})
        provenance = data.get("provenance", {})
        if not isinstance(performance, dict) or not isinstance(provenance, dict):
            raise ValueError("performance and provenance must be JSON objects.")
        gflops = performance.get("gflops")
        # The nearest-shape ranking and the seeds negate it: one string would break them all.
        if gflops is not None and (isinstance(gflops, bool) or not isinstance(gflops, (int, float))
                                   or not math.isfinite(gflops)):
            raise ValueError(f"performance.gflops must be a finite number or null, got {gflops!r}.")
        verified = data.get("verified", True)
        if not isinstance(verified, bool):
            raise ValueError(f"verified must be true or false, got {verified!r}.")
        return cls(fid, problem, params, dict(performance), dict(provenance), verified, family)


def entry_key(fingerprint_id: str, problem: Problem) -> Key:
    return (fingerprint_id, problem.op, problem.dtype, problem.threads, problem.batch,
            problem.m, problem.n, problem.k)


def _family_of(name: Any, problem: Problem) -> str:
    from .families import family_for, get_family

    if name is None:
        return family_for(problem).name
    if not isinstance(name, str):
        raise ValueError(f"family must be a string, got {name!r}.")
    family = get_family(name)
    if not family.accepts(problem):
        raise ValueError(f"kernel family {name!r} does not compute {problem.op} on {problem.dtype}.")
    return name


def checked_params(params: Any, problem: Problem, family: str | None = None) -> dict[str, Any]:
    """All fields of ``params`` for ``family`` (default: the one that computes ``problem``),
    or ValueError naming the first broken invariant.

    Only what holds on every machine is checked here (a file may carry other machines'
    entries); ``matmul`` and ``import`` also check the local entries against this machine
    (``KernelFamily.params_problems``).
    """
    from .families import family_for, get_family

    fam = get_family(family) if family else family_for(problem)
    parsed = fam.parse_params(params)
    problems = fam.file_problems(parsed, problem)
    if problems:
        raise ValueError(f"invalid kernel parameters: {problems[0]}")
    return parsed.to_dict()


def make_provenance(**fields: Any) -> dict[str, Any]:
    """Provenance with the gemmtune version and the current date (ISO-8601, UTC) filled in.

    Example: ``make_provenance(sampler="tpe", trials=60, study="gemm-512")``.
    """
    from . import __version__

    out = {"gemmtune_version": __version__,
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    out.update(fields)
    return out


@dataclass
class _Contents:
    entries: dict[Key, Entry]
    foreign: list[Any]  # entries this version cannot use; kept on rewrite, never returned


# Parsed files by path, keyed on (inode, mtime, size): matmul looks up its configuration on
# every call, and an atomic replace always changes the inode, so a stale parse is never used.
_memo: dict[str, tuple[tuple[int, int, int], _Contents]] = {}


class TuningCache:
    """The tunings file under ``root``; every call reads the current file.

    Args:
        root: the gemmtune cache directory (created on first write).
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.path = self.root / FILENAME
        self.lock_path = self.root / (FILENAME + ".lock")

    def __repr__(self) -> str:
        return f"TuningCache({str(self.root)!r})"

    # -- reading ---------------------------------------------------------------------------

    def get(self, fingerprint_id: str, problem: Problem) -> Entry | None:
        """The entry for exactly this fingerprint and problem, or None."""
        return self._read().entries.get(entry_key(fingerprint_id, problem))

    def entries(self, fingerprint_id: str | None = None, dtype: str | None = None,
                threads: int | None = None) -> list[Entry]:
        """Entries matching every filter given, ordered by key."""
        if dtype is not None:
            from .dtypes import normalize

            dtype = normalize(dtype)
        out = [e for e in self._read().entries.values()
               if (fingerprint_id is None or e.fingerprint_id == fingerprint_id)
               and (dtype is None or e.problem.dtype == dtype)
               and (threads is None or e.problem.threads == threads)]
        return sorted(out, key=Entry.key)

    def nearest(self, fingerprint_id: str, problem: Problem) -> tuple[Entry, float] | None:
        """The closest tuned problem with the same fingerprint, operation, dtype and threads.

        Returns:
            ``(entry, distance)`` with the distance of ``gemmtune.problem.log_distance`` (0 for
            an exact match), or None when nothing comparable is stored. Ties go to the faster
            entry.
        """
        ranked = rank_nearest(self.entries(fingerprint_id, problem.dtype, problem.threads),
                              problem, lambda e: e.problem, lambda e: e.gflops)
        return None if not ranked else (ranked[0], log_distance(ranked[0].problem, problem))

    # -- writing ---------------------------------------------------------------------------

    def put(self, entry: Entry) -> bool:
        """Store ``entry``, replacing any entry with the same key.

        Returns:
            True when an entry was replaced.

        Raises:
            ValueError: the entry's parameters are invalid for its dtype.
            GemmtuneError: the file cannot be written (read-only directory, full disk...).
        """
        return self.put_many([entry]) == 1

    def put_many(self, entries: Iterable[Entry]) -> int:
        """Store several entries in one atomic update; return how many replaced old ones."""
        # Stored with every KernelParams field spelled out, so the file reads the same later
        # even if a default changes.
        entries = [Entry(e.fingerprint_id, e.problem, checked_params(e.params, e.problem, e.family),
                         _finite(e.performance), dict(e.provenance), e.verified, e.family)
                   for e in entries]
        replaced = 0

        def update(c: _Contents) -> None:
            nonlocal replaced
            for e in entries:
                replaced += e.key() in c.entries
                c.entries[e.key()] = e

        self._update(update)
        return replaced

    def remove(self, fingerprint_id: str, problem: Problem) -> bool:
        """Delete the entry for this fingerprint and problem; True when there was one."""
        key = entry_key(fingerprint_id, problem)
        if key not in self._read().entries:
            return False
        found = False

        def update(c: _Contents) -> None:
            nonlocal found
            found = c.entries.pop(key, None) is not None

        self._update(update)
        return found

    def clear(self, fingerprint_id: str | None = None) -> int:
        """Delete every entry of ``fingerprint_id`` (all entries when None); return the count."""
        if not self.path.exists():
            return 0
        count = 0

        def update(c: _Contents) -> None:
            nonlocal count
            doomed = [k for k, e in c.entries.items() if fingerprint_id in (None, e.fingerprint_id)]
            for k in doomed:
                del c.entries[k]
            kept = [raw for raw in c.foreign if fingerprint_id is not None
                    and not (isinstance(raw, dict) and raw.get("fingerprint_id") == fingerprint_id)]
            count = len(doomed) + len(c.foreign) - len(kept)
            c.foreign = kept

        self._update(update)
        return count

    def mark_verified(self, fingerprint_id: str, problem: Problem) -> bool:
        """Record that the entry passed the reference check here; False when it is absent."""
        key = entry_key(fingerprint_id, problem)
        found = False

        def update(c: _Contents) -> None:
            nonlocal found
            e = c.entries.get(key)
            if e is not None:
                found = True
                e.verified = True

        entry = self._read().entries.get(key)
        if entry is None:
            return False
        if entry.verified:
            return True
        self._update(update)
        return found

    # -- the file --------------------------------------------------------------------------

    def _read(self, locked: bool = False) -> _Contents:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return _Contents({}, [])
        except OSError as e:
            return self._quarantine(f"it cannot be read ({e.strerror})", locked)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        memo = _memo.get(str(self.path))
        if memo is not None and memo[0] == stamp:
            return _copy(memo[1])
        try:
            doc = safejson.loads(safejson.read_file(self.path))
        except FileNotFoundError:
            return _Contents({}, [])
        except OSError as e:
            return self._quarantine(f"it cannot be read ({e.strerror})", locked)
        except UnicodeDecodeError as e:
            return self._quarantine(f"it is not UTF-8 text ({e.reason})", locked)
        except safejson.JSONRefused as e:
            return self._quarantine(str(e), locked)
        if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
            return self._quarantine("it is not a gemmtune tunings file", locked)
        if doc.get("schema_version") != SCHEMA_VERSION:
            return self._quarantine(f"its schema_version is {doc.get('schema_version')!r}, "
                                    f"not {SCHEMA_VERSION}", locked)
        contents = _Contents({}, [])
        for i, raw in enumerate(doc["entries"]):
            try:
                e = Entry.from_dict(raw)
            except (ValueError, TypeError) as err:
                warnings.warn(f"{self.path}: entry {i} is ignored: {_sentence(err)}.",
                              CacheWarning, stacklevel=3)
                contents.foreign.append(raw)
                continue
            contents.entries[e.key()] = e
        _memo[str(self.path)] = (stamp, contents)
        return _copy(contents)

    def _quarantine(self, reason: str, locked: bool) -> _Contents:
        """Move an unusable file aside (never delete it), say so, and carry on empty."""
        if not locked:
            try:
                with self._lock():
                    return self._read(locked=True)  # re-read: a writer may have just fixed it
            except GemmtuneError as e:
                warnings.warn(f"the tuning cache {self.path} is unusable because {reason}; "
                              f"it was left in place ({_sentence(e)}) and gemmtune carries on "
                              "without it.", CacheWarning, stacklevel=4)
                return _Contents({}, [])
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{FILENAME}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            aside = self.path.with_name(f"{FILENAME}.corrupt-{stamp}-{n}")
            n += 1
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return _Contents({}, [])
        except OSError as e:
            warnings.warn(f"the tuning cache {self.path} is unusable because {reason}; it could "
                          f"not be moved aside ({e.strerror}) and gemmtune carries on without it.",
                          CacheWarning, stacklevel=4)
            return _Contents({}, [])
        warnings.warn(f"the tuning cache {self.path} is unusable because {reason}; it was moved "
                      f"to {aside} and gemmtune carries on with an empty cache.",
                      CacheWarning, stacklevel=4)
        return _Contents({}, [])

    @contextmanager
    def _lock(self) -> Iterator[None]:
        from .atomic import LockTimeout, locked

        try:
            make_private_dir(self.root)
            with locked(self.path, LOCK_TIMEOUT):
                yield
        except LockTimeout as e:
            raise GemmtuneError(f"{str(e)[0].upper()}{str(e)[1:]}; try again later.") from None
        except OSError as e:
            raise GemmtuneError(_write_failure(self.root, e)) from None

    def _update(self, change) -> None:
        with self._lock():
            contents = self._read(locked=True)
            change(contents)
            self._write(contents)

    def _write(self, contents: _Contents) -> None:
        doc = {"schema_version": SCHEMA_VERSION,
               "entries": [e.to_dict() for e in sorted(contents.entries.values(), key=Entry.key)]
               + contents.foreign}
        # NaN and Infinity are not JSON: the reader would refuse the whole file.
        text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
        try:
            write_atomic(self.path, text)
        except OSError as e:
            raise GemmtuneError(_write_failure(self.root, e)) from None
        _memo.pop(str(self.path), None)
        global writes
        writes += 1


# Tunings files written by this process: gemmtune.matmul's kept plans look at the file's
# stamp only now and then (api.STAMP_INTERVAL), and at once after a write from here.
writes = 0


def _copy(c: _Contents) -> _Contents:
    # Callers may mutate entries (mark_verified, update functions); the memo must not change.
    return _Contents({k: Entry(e.fingerprint_id, e.problem, dict(e.params), dict(e.performance),
                               dict(e.provenance), e.verified, e.family)
                      for k, e in c.entries.items()},
                     list(c.foreign))


def _write_failure(root: Path, e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        why = "the disk is full"
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "the directory is not writable"
    else:
        why = e.strerror or str(e)
    return f"Cannot save tunings in {root}: {why}."


def _finite(performance: dict[str, Any]) -> dict[str, Any]:
    """A figure that is not a finite number (a failed measurement) is stored as null."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in performance.items()}


def _sentence(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    if len(text) > 200:  # messages quote the offending value, which a hostile file makes huge
        text = text[:197] + "..."
    return text.rstrip(".")
