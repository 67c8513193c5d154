"""Hypothesis strategies for hostile files: a good gemmtune document, damaged in one way.

Every strategy takes the good document (a JSON object) and draws the bytes of a file that
``gemmtune import`` must refuse, or that the tunings cache must survive reading. Kinds:
truncated, not JSON at all, another schema version, a value of the wrong type, a missing
required field, a negative or huge block size, an unknown kernel parameter, NaN / Infinity /
out-of-range numbers, nesting far deeper than any gemmtune document, and megabytes of junk.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from hypothesis import strategies as st

from gemmtune.kernels.params import MAX_KC, MAX_MC, MAX_MR, MAX_NC, MAX_NR, MAX_UNROLL

# Types of the fields of an entry, relative to the entry.
ENTRY_FIELDS: dict[tuple, str] = {
    (): "object",
    ("problem",): "object", ("problem", "m"): "integer", ("problem", "n"): "integer",
    ("problem", "k"): "integer", ("problem", "threads"): "integer", ("problem", "dtype"): "string",
    ("params",): "object", ("params", "MR"): "integer", ("params", "NR"): "integer",
    ("params", "MC"): "integer", ("params", "KC"): "integer", ("params", "NC"): "integer",
    ("params", "vec_bits"): "integer", ("params", "unroll"): "integer",
    ("params", "prefetch"): "integer", ("params", "parallel"): "string",
    ("params", "pack_a"): "boolean", ("params", "pack_b"): "boolean",
    ("performance",): "object", ("provenance",): "object",
    ("fingerprint_id",): "string", ("verified",): "boolean",
}
EXPORT_FIELDS: dict[tuple, str] = {
    ("fingerprint",): "object", ("fingerprint", "id"): "string", ("entries",): "array",
    ("performance", "gflops"): "number",
}
REQUIRED = [("problem",), ("problem", "m"), ("problem", "dtype"), ("problem", "threads"),
            ("params",), ("params", "MR"), ("params", "NC")]
EXPORT_REQUIRED = [("fingerprint",), ("fingerprint", "id"), ("performance",),
                   ("performance", "gflops")]
BOUNDS = {"MR": MAX_MR, "NR": MAX_NR, "MC": MAX_MC, "KC": MAX_KC, "NC": MAX_NC,
          "unroll": MAX_UNROLL, "prefetch": 64}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (st.lists(inner, max_size=3)
                   | st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6)


def _is(kind: str, v: Any) -> bool:
    """Whether ``v`` has JSON type ``kind`` (an integral float counts as an integer, as in
    JSON Schema; gemmtune still refuses it where it wants an int)."""
    if kind == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return {"string": str, "boolean": bool, "object": dict, "array": list}[kind] is type(v)


def wrong_type(kind: str):
    return json_values.filter(lambda v: not _is(kind, v))


def _entry_paths(doc: dict[str, Any]) -> list[tuple]:
    return [("entries", i) for i in range(len(doc["entries"]))]


def _set(doc: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _delete(doc: Any, path: tuple) -> None:
    for key in path[:-1]:
        doc = doc[key]
    del doc[path[-1]]


def _text(doc: Any) -> str:
    return json.dumps(doc, indent=2) + "\n"


PLACEHOLDER = "\u0000HOSTILE"


def _splice(doc: dict[str, Any], path: tuple, raw: str) -> str:
    """The document's text with the value at ``path`` replaced by the raw JSON text ``raw``."""
    doc = copy.deepcopy(doc)
    _set(doc, path, PLACEHOLDER)
    return _text(doc).replace(json.dumps(PLACEHOLDER), raw, 1)


@st.composite
def hostile(draw, good: dict[str, Any], export: bool) -> tuple[str, bytes]:
    """``(kind, file bytes)``: ``good`` damaged in one way that makes it unusable.

    ``export``: ``good`` is an export document (else a tunings cache file); the schema of
    an export is stricter, so a few damages only apply to it.
    """
    fields = dict(ENTRY_FIELDS)
    required = [("schema_version",), ("entries",)] + REQUIRED
    if export:
        required += EXPORT_REQUIRED
    kinds = ["truncated", "not json", "schema version", "wrong type", "missing field",
             "block size", "unknown param", "not a number", "deep nesting", "junk"]
    kind = draw(st.sampled_from(kinds))
    doc = copy.deepcopy(good)
    entry = draw(st.sampled_from(_entry_paths(doc)))
    if kind == "truncated":
        text = _text(doc).rstrip()
        return kind, text[:draw(st.integers(0, len(text) - 1))].encode()
    if kind == "not json":
        return kind, draw(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
    if kind == "schema version":
        version = draw(json_values.filter(lambda v: isinstance(v, bool) or v != 1))
        _set(doc, ("schema_version",), version)
        return kind, _text(doc).encode()
    if kind == "wrong type":
        paths = [(entry + p, t) for p, t in fields.items()]
        if export:
            paths += [(p if p[0] != "performance" else entry + p, t)
                      for p, t in EXPORT_FIELDS.items()]
        path, t = draw(st.sampled_from(paths))
        _set(doc, path, draw(wrong_type(t)))
        return kind, _text(doc).encode()
    if kind == "missing field":
        path = draw(st.sampled_from(required))
        top = path[0] in ("schema_version", "fingerprint", "entries")
        _delete(doc, path if top else entry + path)
        return kind, _text(doc).encode()
    if kind == "block size":
        name = draw(st.sampled_from(sorted(BOUNDS)))
        low = 0 if name == "prefetch" else 1
        value = draw(st.integers(max_value=low - 1) | st.integers(BOUNDS[name] + 1, 10**30))
        _set(doc, entry + ("params", name), value)
        return kind, _text(doc).encode()
    if kind == "unknown param":
        known = doc["entries"][0]["params"]
        name = draw(st.text(min_size=1, max_size=10).filter(lambda s: s not in known))
        _set(doc, entry + ("params", name), draw(json_values))
        return kind, _text(doc).encode()
    if kind == "not a number":
        raw = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "9" * 5000]))
        path = entry + draw(st.sampled_from([("performance", "gflops"), ("params", "MR"),
                                              ("problem", "m")]))
        return kind, _splice(doc, path, raw).encode()
    if kind == "deep nesting":
        levels = draw(st.integers(40, 3000) | st.just(200_000))
        raw = draw(st.sampled_from(["[" * levels + "]" * levels,
                                    '{"a": ' * levels + "0" + "}" * levels]))
        where = draw(st.sampled_from(["whole", "provenance", "MR", "unknown top-level field"]))
        if where == "whole":
            return kind, raw.encode()
        if where == "unknown top-level field":
            doc["extra"] = None
            return kind, _splice(doc, ("extra",), raw).encode()
        path = entry + (("provenance", "x") if where == "provenance" else ("params", "MR"))
        return kind, _splice(doc, path, raw).encode()
    # junk: megabytes of random bytes, alone or around a good document
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    size = draw(st.integers(1 << 20, 3 << 20))
    junk = rng.randbytes(size) if draw(st.booleans()) else \
        "".join(rng.choices("abc{}[]\",:0123456789 \n", k=size)).encode()
    where = draw(st.sampled_from(["alone", "after", "before"]))
    body = _text(doc).encode()
    return kind, {"alone": junk, "after": body + junk, "before": junk + body}[where]
