"""How fast each sampler finds a near-best kernel, replayed on a recorded table.

Every sampler runs over the same table (benchmarks/record_space.py) for 20 seeds, in
simulation mode: real studies, seeds and objective, no compiling or timing. For each run
it counts the candidates (compiled and measured configurations; points rejected before
compiling cost nothing and are not counted) until one is within 5% of the table's best,
and prints the median over the seeds.

``--resample R`` also replays R redrawn tables: a table's figures are medians of a few
measured passes per kernel, so which kernels are "within 5%" is itself uncertain. Each
redrawn table takes, for every kernel, the median of its passes drawn with replacement (a
bootstrap); the samplers then run on every redrawn table, and the medians cover both the
sampler's seed and the measurement's noise.

    python benchmarks/sampler_efficiency.py tests/data/space_1024x1024x1024_f32_t1.json
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import time
from pathlib import Path

from gemmtune.search.evaluators import TableEvaluator
from gemmtune.search.replay import load_table, replay, trials_to_reach
from gemmtune.search.study import SAMPLERS

# (label, sampler, enqueue seeds first)
VARIANTS = [("tpe + seeds (default)", "tpe", True), ("tpe", "tpe", False), ("random + seeds", "random", True),
            ("random", "random", False), ("qmc + seeds", "qmc", True), ("grid + seeds", "grid", True)]


def redrawn(table: dict, seed: int) -> dict:
    """A bootstrap copy of ``table``: each kernel's figure the median of its passes resampled.

    A pass is a numpy-paired ratio scaled by numpy's median figure (``--paired`` tables) or,
    in tables timed kernel by kernel, a GFLOP/s figure.
    """
    rng = random.Random(seed)
    base = statistics.median(table["paired_numpy_gflops"]) if "paired_numpy_gflops" in table else None
    out = copy.deepcopy(table)
    for row in out["rows"]:
        if row.get("status") == "ok":
            ps = ([r * base for r in row["ratio_passes"]] if base is not None and "ratio_passes" in row
                  else row.get("gflops_passes", [row["gflops"]]))
            row["gflops"] = statistics.median(rng.choice(ps) for _ in ps)
    return out


def run(tables: list[dict], budget: int, seeds: int, within: float) -> list[dict]:
    """Replay every variant for ``seeds`` sampler seeds on each of ``tables``."""
    rows = []
    for label, sampler, use_seeds in VARIANTS:
        assert sampler in SAMPLERS
        t0 = time.perf_counter()
        hits, reached = [], 0
        for t in tables:
            target = (1.0 - within) * TableEvaluator(t).best_gflops()
            for s in range(seeds):
                traj = replay(t, sampler, s, budget, use_starts=use_seeds, stop_at=target)
                hit = trials_to_reach(traj, target)
                reached += hit is not None
                # A run that never got there counts as the budget (a lower bound of its cost).
                hits.append(hit if hit is not None else budget)
        rows.append({"variant": label, "sampler": sampler, "seeds_enqueued": use_seeds,
                     "median_trials": statistics.median(hits), "mean_trials": statistics.mean(hits),
                     "worst_trials": max(hits), "reached_within_budget": reached,
                     "runs": len(hits), "seconds": time.perf_counter() - t0})
    return rows


def markdown(table: dict, rows: list[dict], budget: int, within: float, first: bool = True,
             path: str = "tests/data/space_1024x1024x1024_f32_t1.json", output: str | None = None,
             resample: int = 0) -> str:
    p = table["problem"]
    best = TableEvaluator(table).best_gflops()
    n_valid = sum(1 for r in table["rows"] if r.get("status") == "ok")
    close = sum(1 for r in table["rows"] if r.get("status") == "ok" and r["gflops"] >= (1 - within) * best)
    command = (f"python benchmarks/sampler_efficiency.py {path}" + (f" --output {output}" if output else "")
               + (f" --resample {resample}" if resample else ""))
    head = ["# Sampler efficiency, replayed", "",
            f"Produced by `{command}`: every sampler replays the recorded "
            f"table (simulation mode) for {rows[0]['runs']} sampler seeds.", ""] if first else []
    lines = head + [f"## Within {within:.0%} of the best ({close} of {n_valid} configurations qualify)",
             "",
             f"Table: {p['m']}x{p['n']}x{p['k']} {p['dtype']}, {p['threads']} thread(s); "
             f"{len(table['rows'])} measured configurations ({n_valid} valid) of a "
             f"{_grid_size(table)}-point grid; best {best:.1f} GFLOP/s.",
             f"Target: within {within:.0%} of the best ({(1 - within) * best:.1f} GFLOP/s). "
             f"Budget: {budget} candidates; a run that misses counts as {budget}.",
             "Candidates are compiled-and-measured configurations (rejected points are free).",
             "",
             "| variant | median candidates | mean | worst | runs that reached it |",
             "|---|---|---|---|---|"]
    lines += _table_lines(rows)
    return "\n".join(lines) + "\n"


def _table_lines(rows: list[dict]) -> list[str]:
    return [f"| {r['variant']} | {r['median_trials']:g} | {r['mean_trials']:.1f} | "
            f"{r['worst_trials']} | {r['reached_within_budget']}/{r['runs']} |" for r in rows]


def markdown_resampled(tables: list[dict], rows: list[dict], within: float, seeds: int) -> str:
    resample = len(tables)
    counts = []
    for t in tables:
        best = TableEvaluator(t).best_gflops()
        counts.append(sum(1 for row in t["rows"] if row.get("status") == "ok"
                          and row["gflops"] >= (1 - within) * best))
    lines = [f"## Within {within:.0%}, over {resample} redrawn tables (measurement noise)", "",
             f"Each redrawn table takes, for every kernel, the median of its measured passes drawn "
             f"with replacement; {seeds} sampler seeds on each, {resample * seeds} runs per variant. "
             f"Kernels within {within:.0%} of a redrawn table's best: median "
             f"{statistics.median(counts):g} (range {min(counts)}-{max(counts)}).", "",
             "| variant | median candidates | mean | worst | runs that reached it |",
             "|---|---|---|---|---|"] + _table_lines(rows)
    return "\n".join(lines) + "\n"


def _grid_size(table: dict) -> int:
    from gemmtune.search.space import SearchSpace

    return SearchSpace.from_dict(table["space"]).size()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("table")
    ap.add_argument("--budget", type=int, default=150)
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--within", default="0.05,0.02,0.10",
                    help="comma-separated tolerances; the first is the headline")
    ap.add_argument("--resample", type=int, default=0, metavar="R",
                    help="also replay R bootstrap redraws of the table (first tolerance only)")
    ap.add_argument("--resample-seeds", type=int, default=10,
                    help="sampler seeds on each redrawn table")
    ap.add_argument("--output", default="results/sampler_efficiency")
    args = ap.parse_args()
    table = load_table(args.table)
    levels = [float(x) for x in args.within.split(",")]
    results = {w: run([table], args.budget, args.seeds, w) for w in levels}
    default_output = ap.get_default("output")
    md = "\n".join(markdown(table, results[w], args.budget, w, first=(i == 0), path=args.table,
                            output=None if args.output == default_output else args.output,
                            resample=args.resample)
                   for i, w in enumerate(levels))
    resampled = None
    if args.resample:
        tables = [redrawn(table, r) for r in range(args.resample)]
        resampled = run(tables, args.budget, args.resample_seeds, levels[0])
        md += "\n" + markdown_resampled(tables, resampled, levels[0], args.resample_seeds)
    print(md)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(md)
    out.with_suffix(".json").write_text(json.dumps(
        {"table": args.table, "budget": args.budget, "seeds": args.seeds,
         "results": [{"within": w, "rows": results[w]} for w in levels],
         "resampled": resampled and {"within": levels[0], "tables": args.resample,
                                     "seeds_per_table": args.resample_seeds, "rows": resampled}},
        indent=1) + "\n")


if __name__ == "__main__":
    main()
