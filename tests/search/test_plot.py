"""``gemmtune search --plot``: the tuning history drawn with optuna's matplotlib module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gemmtune.errors import GemmtuneError
from gemmtune.search.plot import check_plot_path, draw_history, history_points, plot_path_for

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def study():
    """A replayed search over the recorded table (no compiling): starts first, then TPE."""
    import optuna

    from gemmtune.search.evaluators import TableEvaluator
    from gemmtune.search.replay import _TABLE_FP, load_table, table_starts
    from gemmtune.search.space import SearchSpace
    from gemmtune.search.tune import tune

    table = load_table(DATA / "space_1024x1024x1024_f32_t1.json")
    space = SearchSpace.from_dict(table["space"])
    evaluator = TableEvaluator(table)
    storage = optuna.storages.InMemoryStorage()
    tune(evaluator.problem, root=None, trials=12, sampler="tpe", sampler_seed=0, storage=storage,
         study="history", evaluator=evaluator, cache=False, space=space,
         starts=table_starts(table, space), fp=_TABLE_FP, finish=False)
    return optuna.load_study(study_name="history", storage=storage)


def test_points_mark_the_starts_and_the_best_so_far(study):
    pts = history_points(study)
    assert pts["trials"] and pts["starts"]
    assert set(pts["starts"]) <= set(pts["trials"])
    assert pts["starts"][0][0] == pts["trials"][0][0]   # the starting points run first
    best = [v for _, v in pts["best"]]
    assert best == sorted(best) and best[-1] == max(v for _, v in pts["trials"])


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_the_file_reads_back(study, tmp_path, suffix):
    path = draw_history(study, tmp_path / f"history{suffix}", title="1024^3 float32 1t")
    assert path.is_file()
    if suffix == ".png":
        import matplotlib.image

        img = matplotlib.image.imread(path)
        assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 600
        # Not a blank canvas: the trials, best line and star markers put colour on it.
        assert (img[..., :3].std(axis=(0, 1)) > 0.05).any()
    else:
        text = path.read_text()
        assert "<svg" in text and "starting points" in text and "GFLOP/s" in text


def test_bad_paths_and_missing_matplotlib(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        check_plot_path(tmp_path / "h.jpg")
    with pytest.raises(GemmtuneError, match="cannot write the plot"):
        check_plot_path(tmp_path / "missing-dir" / "h.png")
    check_plot_path(tmp_path / "h.png")
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # what an absent package looks like
    with pytest.raises(GemmtuneError, match=r"gemmtune\[plot\]"):
        check_plot_path(tmp_path / "h.png")


def test_one_file_per_shape_of_a_suite():
    assert plot_path_for(Path("out/h.png"), "qkv_proj", 1) == Path("out/h.png")
    assert plot_path_for(Path("out/h.png"), "qkv proj/1", 4) == Path("out/h-qkv_proj_1.png")
