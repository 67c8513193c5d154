"""Parsing JSON from files gemmtune does not control: imported documents, the tunings cache.

``json.loads`` accepts things no gemmtune document holds and that break a later step with a
traceback or with output that is not JSON: ``NaN`` and ``Infinity`` (not JSON at all; once
stored they would turn up in ``--json`` output), numbers beyond the float range (they become
infinite), integers of thousands of digits (Python refuses to convert them), and nesting deep
enough to exhaust the interpreter's recursion limit (``RecursionError``). ``loads`` refuses
every one of them with one sentence.

``read_file`` and ``read_stream`` bring the text in: at most ``MAX_BYTES`` (``/dev/zero``
would fill memory), from a regular file only (a FIFO would block forever), decoded as UTF-8.
"""

from __future__ import annotations

import json
import math
import os
import stat
from typing import IO, Any

# gemmtune's own documents nest five levels deep (export -> entries -> entry -> provenance
# -> imported_from); anything far deeper is not one of them.
MAX_DEPTH = 32
MAX_INT_DIGITS = 100
# Far above any gemmtune document (10 000 tuned entries take about 10 MiB).
MAX_BYTES = 64 << 20


class JSONRefused(ValueError):
    """The text is not JSON gemmtune accepts; the message completes "... because <it>"."""


def _constant(name: str) -> Any:
    raise JSONRefused(f"it is not valid JSON ({name} is not a JSON number)")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONRefused(f"it holds the number {text[:40]}, which is out of range")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JSONRefused(f"it holds an integer of {len(text.lstrip('-'))} digits")
    return int(text)


def loads(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``text``; raise JSONRefused with one sentence when gemmtune cannot use it.

    The sentence reads "it is not valid JSON (...)", "it is nested more than 32 levels
    deep"... so callers can say ``f"Cannot import {file}: {e}."``.
    """
    try:
        doc = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except JSONRefused:
        raise
    except RecursionError:
        raise JSONRefused(f"it is nested more than {max_depth} levels deep") from None
    except ValueError as e:  # JSONDecodeError, and anything else the decoder refuses
        raise JSONRefused(f"it is not valid JSON ({e})") from None
    if depth(doc, max_depth + 1) > max_depth:
        raise JSONRefused(f"it is nested more than {max_depth} levels deep")
    # "\ud800" is valid JSON but not Unicode text: printed or written as UTF-8 later it
    # raises UnicodeEncodeError. Only an escape can bring one in, so most texts skip the walk.
    if "\\ud" in text.lower():
        lone = _lone_surrogate(doc)
        if lone is not None:
            raise JSONRefused(f"it holds the lone surrogate \\u{lone:04x}, which is not Unicode text")
    return doc


def _lone_surrogate(doc: Any) -> int | None:
    """The first unpaired UTF-16 surrogate in the strings of ``doc``, or None."""
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        return ord(e.object[e.start])
    return None


def depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), counted up to ``limit``.

    Iterative, so it never recurses however deep the value is.
    """
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest >= limit:
            return deepest
        stack.extend((child, level) for child in children)
    return deepest


def read_file(path: str | os.PathLike, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of the regular file ``path`` (links followed), at most ``limit`` bytes.

    Raises:
        JSONRefused: not a regular file, larger than ``limit``, or not UTF-8 (one sentence).
        OSError: the file cannot be opened or read.
    """
    # O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore it.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise JSONRefused("it is not a regular file")
        os.set_blocking(fd, True)
        return read_stream(f, limit)


def read_stream(f: IO[bytes], limit: int = MAX_BYTES) -> str:
    """At most ``limit`` bytes of the binary stream ``f`` (stdin), decoded as UTF-8.

    Raises:
        JSONRefused: more than ``limit`` bytes, or not UTF-8 (one sentence).
        OSError: the stream cannot be read.
    """
    data = f.read(limit + 1)
    if len(data) > limit:
        raise JSONRefused(f"it is larger than {limit / 2**20:g} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise JSONRefused(f"it is not UTF-8 text ({e.reason} at byte {e.start})") from None
