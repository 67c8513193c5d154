"""A search's tuning history as a figure: each trial's GFLOP/s against its number, the best
so far, and the starting points marked (``gemmtune search --plot FILE``).

The figure is optuna's own ``optuna.visualization.matplotlib.plot_optimization_history``
(its trials and its best-value line) with the starting points drawn over it; matplotlib is
the optional ``plot`` extra, imported only here with the non-interactive Agg backend.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import GemmtuneError

FORMATS = (".png", ".svg", ".pdf")
INSTALL_HINT = "pip install 'gemmtune[plot]'"


def require_matplotlib() -> None:
    """Fail before searching when matplotlib is not installed.

    Raises:
        GemmtuneError: matplotlib cannot be imported, with the command that installs it.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise GemmtuneError(f"--plot needs matplotlib, which is not installed: {INSTALL_HINT}.") from None


def check_plot_path(path: Path) -> None:
    """Check ``path`` before minutes of searching: a known format, a writable folder, and
    matplotlib present.

    Raises:
        ValueError: the extension is not one of FORMATS (one sentence).
        GemmtuneError: matplotlib is missing, or the folder cannot be written.
    """
    if Path(path).suffix.lower() not in FORMATS:
        raise ValueError(f"cannot tell the plot format of {path}: use a .png, .svg or .pdf file name.")
    require_matplotlib()
    folder = Path(path).parent if str(Path(path).parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise GemmtuneError(f"cannot write the plot to {folder}: not a writable directory.")


def plot_path_for(path: Path, name: str, shapes: int) -> Path:
    """``path`` for a single search; ``<stem>-<name><suffix>`` for each shape of a suite."""
    path = Path(path)
    if shapes <= 1 or not name:
        return path
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return path.with_name(f"{path.stem}-{safe}{path.suffix}")


def history_points(study: Any) -> dict[str, list[tuple[int, float]]]:
    """(trial number, GFLOP/s) of the measured trials, of the starting points among them, and
    the best so far after each measured trial."""
    import optuna

    from .study import is_start

    done = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if t.value is not None]
    done.sort(key=lambda t: t.number)
    best, running = [], None
    for t in done:
        running = t.value if running is None else max(running, t.value)
        best.append((t.number, running))
    return {"trials": [(t.number, t.value) for t in done],
            "starts": [(t.number, t.value) for t in done if is_start(t)],
            "best": best}


def draw_history(study: Any, path: Path, title: str | None = None) -> Path:
    """Draw ``study``'s history into ``path`` (format from the extension) and return it.

    Raises:
        GemmtuneError: matplotlib is missing, the study has no measured trial, or the file
            cannot be written.
    """
    require_matplotlib()
    import warnings

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import optuna

    points = history_points(study)
    if not points["trials"]:
        raise GemmtuneError("the search measured no candidate, so there is no history to plot.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = optuna.visualization.matplotlib.plot_optimization_history(
            study, target_name="GFLOP/s")
    fig = ax.figure
    for line in ax.get_lines():   # optuna calls the running maximum "Best Value"
        if line.get_label() == "Best Value":
            line.set_label("best so far")
    if points["starts"]:
        xs, ys = zip(*points["starts"])
        ax.scatter(xs, ys, s=90, marker="*", color="#2ca02c", zorder=5,
                   label="starting points (transfer, BLIS model, ISA default)")
    ax.set_xlabel("trial")
    ax.set_ylabel("GFLOP/s (on the study's numpy scale)")
    if title:
        ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    fig.set_size_inches(8, 4.5)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as e:
        raise GemmtuneError(f"cannot write the plot to {path}: {e.strerror or e}.") from None
    finally:
        plt.close(fig)
    return Path(path)


def save_history(doc: dict[str, Any], storage: str | None, root: str | os.PathLike,
                 path: Path) -> Path:
    """Draw the study a ``search`` document names (its storage URL, or the SQLite file in
    ``root``) into ``path``."""
    import optuna

    from ..problem import Problem
    from .study import open_storage

    store, _ = open_storage(storage, root)
    study = optuna.load_study(study_name=doc["study"]["name"], storage=store)
    p = Problem.from_dict(doc["problem"])
    best = doc.get("best") or {}
    title = f"gemmtune search {p.label()}" + (f": best {best['label']}" if best.get("label") else "")
    return draw_history(study, path, title)
