"""Moving tunings between machines: the export document, its validation, and import rules.

The document (schema version 1, JSON Schema in ``gemmtune/data/export.schema.json``)::

    {"schema_version": 1,
     "fingerprint": {"id": ..., "identity": {...}, "recorded": {...}},
     "entries": [{"problem": {...}, "params": {...}, "performance": {...},
                  "provenance": {...}, "fingerprint_id": ..., "verified": true}]}

A tuning is only trusted on the hardware it was measured on, so import refuses entries of
another fingerprint unless forced; forced entries are stored under this machine's fingerprint,
marked unverified, and checked against the reference before their first use.
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
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise GemmtuneError(f"Cannot import {source}: it is not valid JSON ({e}).") from None


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
            label = Problem.from_dict(raw["problem"]).label()
            raise GemmtuneError(f"Cannot import {source}: entry {i} ({label}) has "
                                f"{_sentence(str(e))}.") from None
    return doc_id, entries


@dataclass
class ImportReport:
    """What an import did (or, before it runs, would do)."""

    imported: list[Entry] = field(default_factory=list)
    foreign: list[Entry] = field(default_factory=list)  # refused: another machine, no --force
    replaced: int = 0
    forced: int = 0  # entries of another machine stored unverified (--force)

    @property
    def foreign_ids(self) -> list[str]:
        return sorted({e.fingerprint_id for e in self.foreign})


def plan_import(entries: list[Entry], local_id: str, force: bool = False,
                origin: dict[str, Any] | None = None) -> ImportReport:
    """Sort entries into those to store and those refused as foreign.

    Args:
        entries: validated entries of a document.
        local_id: this machine's fingerprint id.
        force: accept entries of other fingerprints, stored here unverified.
        origin: facts about the source (file name, exporting machine) kept in the provenance
            of forced entries.
    """
    report = ImportReport()
    for e in entries:
        if e.fingerprint_id == local_id:
            report.imported.append(e)
        elif force:
            provenance = dict(e.provenance)
            provenance["imported_from"] = {"fingerprint_id": e.fingerprint_id, **(origin or {}),
                                           "date": datetime.now(timezone.utc)
                                           .isoformat(timespec="seconds")}
            report.imported.append(Entry(local_id, e.problem, dict(e.params),
                                         dict(e.performance), provenance, verified=False))
            report.forced += 1
        else:
            report.foreign.append(e)
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
    report = plan_import(entries, local_id, force, {k: v for k, v in origin.items() if v})
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
