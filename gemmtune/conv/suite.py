"""Convolution suites: shape files whose entries are convolution layers.

A suite file extends the GEMM shape format (``gemmtune.shapes``) with entries that name a
convolution instead of m, n, k, either as the text ``ConvSpec.parse`` reads or as the object
``ConvSpec.to_dict`` writes::

    {"suite": "resnet50", "description": "...",
     "shapes": [{"name": "conv1", "conv": "1,3,224,224,64,7,7,2,3", "repeat": 1},
                {"name": "dw", "conv": {"n": 1, "c": 32, "h": 56, "w": 56, "k": 32,
                                        "r": 3, "s": 3, "padding": 1, "groups": 32}}]}

``repeat`` (optional, default 1) says how many times the network runs that layer, so a
whole-network figure can weight it. Entries with m, n, k (plain GEMMs) are skipped here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .spec import ConvSpec


@dataclass(frozen=True)
class ConvLayer:
    name: str
    spec: ConvSpec
    repeat: int = 1


def _read(spec: str) -> tuple[dict, str]:
    path = Path(spec)
    if path.is_file():
        text, source = path.read_text(), str(path)
    else:
        from importlib import resources

        from ..shapes import suite_names

        name = spec[:-5] if spec.endswith(".json") else spec
        shipped = resources.files("gemmtune.configs").joinpath("shapes", f"{name}.json")
        if "/" in spec or not shipped.is_file():
            raise ValueError(f"no shape file {spec!r}; give a path or one of: {', '.join(suite_names())}.")
        text, source = shipped.read_text(), f"{name}.json"
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{source} is not valid JSON ({e.msg} at line {e.lineno}).") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list) or not doc["shapes"]:
        raise ValueError(f"{source} must be an object with a non-empty \"shapes\" list.")
    return doc, source


def conv_entry(entry: dict, source: str, index: int, layout: str = "NCHW") -> ConvLayer:
    """The ConvLayer of one suite entry that has a "conv" key (ValueError with one sentence)."""
    conv = entry["conv"]
    where = f"shape {index} of {source}"
    try:
        if isinstance(conv, str):
            spec = ConvSpec.parse(conv, layout=layout)
        elif isinstance(conv, dict):
            spec = ConvSpec.from_dict({"layout": layout, **conv})
        else:
            raise ValueError("\"conv\" must be text N,C,H,W,K,R,S[,stride,pad] or an object")
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {str(e).rstrip('.')}.") from None
    repeat = entry.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"{where} has repeat={repeat!r}; it must be an integer >= 1.")
    return ConvLayer(str(entry.get("name", f"conv{index}")), spec, repeat)


def load_conv_suite(spec: str, layout: str = "NCHW") -> tuple[str, list[ConvLayer]]:
    """The convolution layers of the suite in file ``spec``, or of the shipped suite ``spec``.

    Args:
        spec: a path to a JSON suite, or a shipped suite's name (e.g. "resnet50").
        layout: the layout given to entries that do not name one.

    Returns:
        ``(suite name, layers)``.

    Raises:
        ValueError: no such suite, invalid JSON, a bad entry, or no convolution entry.
    """
    doc, source = _read(spec)
    layers = [conv_entry(e, source, i, layout) for i, e in enumerate(doc["shapes"])
              if isinstance(e, dict) and "conv" in e]
    if not layers:
        raise ValueError(f"{source} has no convolution entries (objects with a \"conv\" key).")
    return str(doc.get("suite", Path(spec).stem)), layers
