"""``GEMMTUNE_VERBOSE=1``: one line on stderr per problem ``matmul`` decides a configuration
for, saying which one and why (as ``TRITON_PRINT_AUTOTUNING`` does for Triton).

The same line is always logged at INFO on the ``gemmtune`` logger, for programs that
configure logging instead.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

ENV_VERBOSE = "GEMMTUNE_VERBOSE"
logger = logging.getLogger("gemmtune")


def verbose() -> bool:
    """True when GEMMTUNE_VERBOSE is set to anything but "", "0", "false", "no" or "off"."""
    return os.environ.get(ENV_VERBOSE, "").strip().lower() not in ("", "0", "false", "no", "off")


def describe_choice(problem: Any, params: Any, info: dict[str, Any]) -> str:
    """``gemmtune: 512x512x512 float32 2t -> 6x16_mc96_... (exact tuning)`` and its reasons."""
    source = info.get("source")
    label = params.label() if hasattr(params, "label") else str(params)
    if source in ("exact", "nearest"):
        from .problem import Problem

        tuned = info.get("problem")
        tuned_label = Problem.from_dict(tuned).label() if isinstance(tuned, dict) else "?"
        why = ("the tuning of this problem" if source == "exact" else
               f"the tuning of the nearest tuned problem, {tuned_label} "
               f"(log distance {info.get('distance', 0.0):.2f})")
        if not info.get("verified", True):
            why += ", imported and verified here"
    elif source == "default":
        why = (f"the {info.get('family', '')} family's default for this machine: "
               f"nothing of {problem.dtype} at {problem.threads}t is tuned here").replace("  ", " ")
    else:
        why = str(source)
    return f"gemmtune: {problem.label()} -> {label} ({source}: {why})"


def report_choice(problem: Any, params: Any, info: dict[str, Any]) -> None:
    """Log the line; print it on stderr too when GEMMTUNE_VERBOSE is on."""
    line = describe_choice(problem, params, info)
    logger.info("%s", line)
    if verbose():
        print(line, file=sys.stderr, flush=True)
