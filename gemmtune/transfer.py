"""Moving tunings between machines: the export document, its validation, and import rules.

The document (schema version 1, JSON Schema in ``gemmtune/data/export.schema.json``)::

    {"schema_version": 1,
     "fingerprint": {"id": ..., "identity": {...}, "recorded": {...}},
     "entries": [{"problem": {...}, "params": {...}, "performance": {...},
                  "provenance": {...}, "fingerprint_id": ..., "verified": true}]}

Every entry names the fingerprint it was measured on; an entry without ``fingerprint_id``
takes the document's. A fleet document (``gemmtune export --storage URL --all``) holds entries
of many fingerprints, with the exporting machine's fingerprint at the top and the others'
under ``fingerprints``.

A tuning is only trusted on the hardware it was measured on, so import takes this machine's
entries and refuses those of another fingerprint unless forced; forced entries are stored
under this machine's fingerprint, marked unverified, and checked against the reference before
their first use. A forced entry never displaces a tuning of this machine (in the document or
verified in the cache), and of several machines' entries for one problem the fastest is taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from .cache import SCHEMA_VERSION, Entry, TuningCache
from .errors import GemmtuneError
from .problem import Problem


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of an export document."""
    from importlib.resources import files

    return json.loads(files("gemmtune").joinpath("data/export.schema.json").read_text("utf-8"))


def build_document(entries: list[Entry], fp: dict[str, Any]) -> dict[str, Any]:
    """The export document for ``entries``, described by this machine's fingerprint ``fp``."""
    from . import __version__

    return {
        "schema_version": SCHEMA_VERSION,
        "fingerprint": fp,
        "exported": {"gemmtune_version": __version__,
                     "date": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "entries": [e.to_dict() for e in entries],
    }


def parse_text(text: str, source: str) -> dict[str, Any]:
    """Parse JSON text; GemmtuneError naming ``source`` when it is not JSON."""
    from .safejson import JSONRefused, loads

    try:
        return loads(text)
    except JSONRefused as e:
        raise GemmtuneError(f"Cannot import {source}: {e}.") from None


def validate_document(doc: Any, source: str) -> tuple[str, list[Entry]]:
    """Check the schema and every parameter invariant; nothing is written.

    Args:
        doc: the parsed document.
        source: how to name the document in messages (its file name).

    Returns:
        ``(fingerprint id of the exporting machine, entries)``; entries without their own
        ``fingerprint_id`` take the document's.

    Raises:
        GemmtuneError: one sentence naming ``source`` and the first problem found.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        where = _json_path(error.absolute_path)
        text = _sentence(error.message)
        if len(text) > 200:  # the message quotes the offending value, which may be huge
            text = text[:197] + "..."
        raise GemmtuneError(f"Cannot import {source}: {where + ': ' if where else ''}{text}.")
    doc_id = doc["fingerprint"]["id"]
    entries = []
    for i, raw in enumerate(doc["entries"]):
        try:
            entries.append(Entry.from_dict(raw, fingerprint_id=doc_id))
        except (ValueError, TypeError) as e:
            try:
                where = f"entry {i} ({Problem.from_dict(raw['problem']).label()}) has"
            except (ValueError, TypeError):  # the schema lets 5.0 pass as an integer
                where = f"entry {i}:"
            raise GemmtuneError(f"Cannot import {source}: {where} {_sentence(str(e))}.") from None
    return doc_id, entries


@dataclass
class ImportReport:
    """What an import did (or, before it runs, would do)."""

    imported: list[Entry] = field(default_factory=list)
    foreign: list[Entry] = field(default_factory=list)  # refused: another machine, no --force
    replaced: int = 0
    forced: int = 0  # entries of another machine stored unverified (--force)
    superseded: int = 0  # forced candidates left out: this machine's own or a faster one won

    @property
    def foreign_ids(self) -> list[str]:
        return sorted({e.fingerprint_id for e in self.foreign})


def plan_import(entries: list[Entry], local_id: str, force: bool = False,
                origin: dict[str, Any] | None = None,
                protected: frozenset[Problem] | set[Problem] = frozenset()) -> ImportReport:
    """Sort entries into those to store and those refused as foreign.

    Args:
        entries: validated entries of a document.
        local_id: this machine's fingerprint id.
        force: accept entries of other fingerprints, stored here unverified, for problems
            that have no entry of this machine in ``entries`` or in ``protected``.
        origin: facts about the source (file name, exporting machine) kept in the provenance
            of forced entries.
        protected: problems this machine already has a verified tuning for.
    """
    report = ImportReport()
    own = {e.problem for e in entries if e.fingerprint_id == local_id}
    chosen: dict[Problem, Entry] = {}  # the forced candidate per problem, fastest first
    for e in entries:
        if e.fingerprint_id == local_id:
            report.imported.append(e)
        elif not force:
            report.foreign.append(e)
        elif e.problem in own or e.problem in protected:
            report.superseded += 1
        else:
            if e.problem in chosen:
                report.superseded += 1
                if (e.gflops or 0.0) <= (chosen[e.problem].gflops or 0.0):
                    continue
            chosen[e.problem] = e
    for e in chosen.values():
        provenance = dict(e.provenance)
        provenance["imported_from"] = {"fingerprint_id": e.fingerprint_id, **(origin or {}),
                                       "date": datetime.now(timezone.utc)
                                       .isoformat(timespec="seconds")}
        report.imported.append(Entry(local_id, e.problem, dict(e.params),
                                     dict(e.performance), provenance, verified=False,
                                     family=e.family))
        report.forced += 1
    return report


def import_document(cache: TuningCache, doc: Any, source: str, local_id: str,
                    force: bool = False) -> ImportReport:
    """Validate ``doc`` completely, then store its acceptable entries in one atomic update.

    Raises:
        GemmtuneError: the document is invalid (the cache is untouched), or the cache cannot
            be written.
    """
    doc_id, entries = validate_document(doc, source)
    fp = doc["fingerprint"]
    ident = fp.get("identity") if isinstance(fp.get("identity"), dict) else {}
    rec = fp.get("recorded") if isinstance(fp.get("recorded"), dict) else {}
    origin = {"file": source, "exported_by": doc_id,
              "cpu_name": ident.get("cpu_name"), "brand": rec.get("brand")}
    protected = {e.problem for e in cache.entries(local_id) if e.verified} if force else set()
    # Only strings: the exporter's identity is free-form and goes into the cache as it is.
    report = plan_import(entries, local_id, force,
                         {k: v for k, v in origin.items() if v and isinstance(v, str)},
                         protected)
    for e in report.imported:
        # What lands under this machine's fingerprint must be something the search itself
        # would explore here (a tile over the register budget compiles for minutes).
        from .families import get_family

        family = get_family(e.family)
        problems = family.params_problems(family.parse_params(e.params), e.problem)
        if problems:
            raise GemmtuneError(f"Cannot import {source}: the entry for {e.problem.label()} "
                                f"cannot run on this machine: {_sentence(problems[0])}.")
    if report.imported:
        report.replaced = cache.put_many(report.imported)
    return report


def _json_path(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _sentence(text: str) -> str:
    return text.strip().rstrip(".")
