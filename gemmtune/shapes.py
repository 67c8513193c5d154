"""Shape suites: named lists of GEMM shapes from real workloads (``configs/shapes/*.json``).

A suite file is ``{"suite": NAME, "description": ..., "shapes": [{"name", "m", "n", "k"}, ...]}``;
an entry may add ``"batch"`` (a stack of that many products, 1 by default).
An entry may name a convolution layer instead (``{"name", "conv": "N,C,H,W,K,R,S,stride,pad"}``,
see ``gemmtune.conv.suite``); to ``load_shapes`` it stands for the GEMMs its passes run (by
default the forward pass's, the problems ``gemmtune.conv2d`` runs; ``conv_directions`` adds
``gemmtune.conv2d_backward``'s), so tuning the suite tunes the network; ``load_entries``
keeps it as the layer (``gemmtune bench`` times the layer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Shape:
    name: str
    m: int
    n: int
    k: int
    batch: int = 1  # products in the stack (attention heads, ...); 1 for a single GEMM
    role: str = ""  # for a convolution's GEMM: "forward", "grad_x", "grad_w" (joined with "+")


def suite_names() -> list[str]:
    """Names of the suites shipped in ``configs/shapes``."""
    from importlib import resources

    folder = resources.files("gemmtune.configs").joinpath("shapes")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_shapes(spec: str, conv_directions: tuple[str, ...] = ("forward",)) -> tuple[str, list[Shape]]:
    """The suite in file ``spec``, or the shipped suite named ``spec`` (e.g. "transformer"),
    as GEMM shapes: a convolution entry stands for the GEMMs of its passes.

    Args:
        spec: a path or a shipped suite's name.
        conv_directions: for convolution entries, the passes whose GEMMs are listed
            ("forward", "backward_data", "backward_weight"; see ``gemmtune.conv.layer_gemms``).

    Raises:
        ValueError: no such file or suite, or the file is not a valid suite (one sentence).
    """
    suite, entries = load_entries(spec)
    shapes: list[Shape] = []
    conv_rows: dict[tuple[int, int, int, int], int] = {}  # a conv GEMM's row in shapes
    for entry in entries:
        if isinstance(entry, Shape):
            shapes.append(entry)
            continue
        from .conv.plan import ROLES, layer_gemms

        gemms = layer_gemms(entry.spec, directions=conv_directions)
        # Numbered when a role has several GEMMs (a batch lowered in unequal chunks).
        numbered = len({roles[0] for _, roles in gemms}) < len(gemms)
        for j, (g, roles) in enumerate(gemms):
            key = (g.m, g.n, g.k, g.batch)
            row = conv_rows.get(key)
            if row is None:
                conv_rows[key] = len(shapes)
                name = f"{entry.name}/{j}" if numbered else entry.name
                shapes.append(Shape(name, g.m, g.n, g.k, g.batch, "+".join(roles)))
                continue
            # Layers that lower to the same GEMM (e.g. two 3x3 layers) share one tuning;
            # the row says every role it plays.
            old = shapes[row]
            order = list(ROLES.values())
            joined = sorted(set(old.role.split("+")) | set(roles), key=order.index)
            shapes[row] = Shape(old.name, old.m, old.n, old.k, old.batch, "+".join(joined))
    return suite, shapes


def load_entries(spec: str) -> tuple[str, list]:
    """The suite's entries in file order: a ``Shape`` per GEMM entry, a
    ``gemmtune.conv.ConvLayer`` per convolution entry (what ``gemmtune bench`` times as a layer).

    Raises:
        ValueError: as :func:`load_shapes`.
    """
    from .safejson import JSONRefused, loads, read_file

    path = Path(spec)
    if path.exists() and not path.is_dir():  # a FIFO or device: refused by read_file
        try:
            text, source = read_file(path), str(path)
        except JSONRefused as e:
            raise ValueError(f"{path} cannot be used because {e}.") from None
        except OSError as e:
            raise ValueError(f"{path} cannot be read: {e.strerror or e}.") from None
    else:
        from importlib import resources

        name = spec[:-5] if spec.endswith(".json") else spec
        shipped = resources.files("gemmtune.configs").joinpath("shapes", f"{name}.json")
        if "/" in spec or not shipped.is_file():
            raise ValueError(f"no shape file {spec!r}; give a path or one of: {', '.join(suite_names())}.")
        text, source = shipped.read_text(), f"{name}.json"
    try:
        doc = loads(text)  # refuses what json.loads would end in a RecursionError for
    except JSONRefused as e:
        raise ValueError(f"{source} cannot be used because {e}.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list) or not doc["shapes"]:
        raise ValueError(f"{source} must be an object with a non-empty \"shapes\" list.")
    entries: list = []
    for i, s in enumerate(doc["shapes"]):
        if not isinstance(s, dict):
            raise ValueError(f"shape {i} of {source} is not an object.")
        if "conv" in s:
            from .conv.suite import conv_entry

            entries.append(conv_entry(s, source, i))
            continue
        missing = [key for key in ("m", "n", "k") if key not in s]
        if missing:
            raise ValueError(f"shape {i} of {source} has no {missing[0]!r} (nor a \"conv\").")
        for key in ("m", "n", "k", "batch"):
            v = s.get(key, 1)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"shape {i} of {source} has {key}={v!r}; sizes must be integers >= 1.")
        entries.append(Shape(str(s.get("name", f"shape{i}")), s["m"], s["n"], s["k"], s.get("batch", 1)))
    return str(doc.get("suite", path.stem)), entries
