"""Calibration methods side by side: simulated iterations and wall time to L1 <= 5 and <= 1.

    python bench/calibration.py [--quick] [--seeds 5] [--evaluations 200] [--workers 2]
                                [--long 2000] [--long-seeds 3]

Every run is a real `rlsys calibrate` (rlsys.calibration.calibrate) on one shared local
Ray instance (all local CPUs), on the default scenario (urbansim-10k-like, 10,000
agents, full evaluation = 18 iterations):

1. BEAM Urbansim-10k targets, each method x seed (bohb and random: --evaluations each;
   fixed-point and hybrid stop when they no longer improve);
2. recovery: targets made by the simulation from hidden ASCs (with the calibration's
   seed, so L1 = 0 is reachable), each method x seed;
3. long runs: bohb and random with --long evaluations each, --long-seeds seeds;
   how many simulated iterations bohb needs to reach random search's final best;
4. wall time with 1 and with N workers (bohb and random on the default scenario; bohb
   on `large`, whose evaluations take ~0.6 s);
5. the tuner's own overhead per trial: a trainable that does nothing, 1 and N workers,
   and one that reports 18 times.

Prints markdown tables (medians over seeds, "-" = not reached) with ratios against
random search, and writes plots and results.json to --out (bench/results/calibration).
Run directories go to runs/bench-calibration/ (not committed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from envs.transport import MODES, TransportSim, load_scenario  # noqa: E402
from rlsys.calibration.calibrate import calibrate  # noqa: E402
from rlsys.calibration.config import DEFAULT_CONFIG, CalibrationConfig  # noqa: E402
from rlsys.calibration.objective import BEAM_URBANSIM_10K, l1, mean_shares  # noqa: E402
from rlsys.calibration.objective import HIDDEN_ASC as HIDDEN  # noqa: E402
from rlsys.calibration.report import plot_l1, plot_shares  # noqa: E402
from rlsys.config import load_config  # noqa: E402
from rlsys.runtime import init_ray  # noqa: E402

METHODS = ("bohb", "bohb-plain", "random", "fixed-point", "hybrid")
"""bohb-plain: hpbandster's BOHB as it comes (no fixed-point proposals, uniform first
draws), the levers measured. bohb-uniform (bench/calibration_goal.py --methods): BOHB with
proposals but uniform first draws (``start_at_default: false``), the default before it."""
THRESHOLDS = (25.9, 20.0, 15.0, 10.0, 5.0, 2.0, 1.0)  # 25.9: the paper's best L1


def method_settings(method: str) -> dict:
    if method == "bohb-plain":
        return {"method": "bohb", "refine_fraction": 0.0, "start_at_default": False}
    if method == "bohb-uniform":
        return {"method": "bohb", "start_at_default": False}
    return {"method": method}


def study_targets(study: str, scenario: str, seed: int) -> tuple[dict, str]:
    """(targets, their name) of a study: the BEAM shares, or the hidden ASCs' shares."""
    if study == "beam":
        return BEAM_URBANSIM_10K, "BEAM Urbansim-10k"
    return hidden_targets(scenario, seed, 18, 5), "hidden ASCs"


def default_l1_line(study: str, scenario: str, seeds: list[int]) -> str:
    """L1 (pp) of the simulation's default constants (every ASC 0, 18 iterations) per
    seed: where BOHB's initial design starts, to read the random-search ratios against."""
    values = []
    for seed in seeds:
        targets, _ = study_targets(study, scenario, seed)
        shares = settled_shares(scenario, {}, seed, 18, 5)
        values.append(l1([targets[m] for m in MODES], [shares[m] for m in MODES]))
    return (
        f"Default constants (all ASCs 0, BOHB's first configuration), {study}: L1 per seed "
        + ", ".join(f"{v:.1f}" for v in values)
        + " pp"
    )


def goal_lines(results: dict[str, list[dict]], title: str, bohb_key: str = "bohb") -> list[str]:
    """The issue's goals: bohb's median L1 after its evaluations <= 2 pp, and at least 3x
    fewer simulated iterations than random search to random search's final L1 (per seed:
    random's best L1 and the iterations it took, against bohb's iterations to that L1).
    ``bohb_key``: which of the results is the BOHB variant."""
    bohb, rnd = results.get(bohb_key), results.get("random")
    if not bohb or not rnd:
        return []
    med = statistics.median(r["best_l1"] for r in bohb)
    ratios = []
    for rb, rr in zip(bohb, rnd, strict=True):
        hit_r = reach(rr["rows"], rr["best_l1"])
        hit_b = reach(rb["rows"], rr["best_l1"])
        ratios.append(None if hit_b is None or hit_r is None else hit_r[0] / hit_b[0])
    ok = [x for x in ratios if x is not None]
    med_ratio = statistics.median(ok) if len(ok) == len(ratios) else None
    return [
        f"Goals ({title}): {bohb_key} median best L1 {med:.2f} pp "
        f"({'<=' if med <= 2.0 else '>'} 2); random search / bohb simulated iterations to "
        f"random search's final L1, per seed: "
        + ", ".join("never" if x is None else f"{x:.1f}x" for x in ratios)
        + (f" (median {med_ratio:.1f}x)" if med_ratio is not None else ""),
        "",
    ]


def settled_shares(
    scenario: str, asc: dict, seed: int, max_iterations: int, last_k: int
) -> dict[str, float]:
    """Mode shares of ``asc`` averaged over the last ``last_k`` of ``max_iterations``
    iterations (the objective's ``mean_shares``)."""
    out, _ = TransportSim(load_scenario(scenario)).run(asc, max_iterations, seed=seed)
    shares = mean_shares([[o["mode_shares"][m] for m in MODES] for o in out], last_k)
    return {m: float(v) for m, v in zip(MODES, shares, strict=True)}


def hidden_targets(scenario: str, seed: int, max_iterations: int, last_k: int) -> dict:
    return settled_shares(scenario, HIDDEN, seed, max_iterations, last_k)


def run_one(runs: Path, name: str, **over) -> dict:
    """One calibration; returns its summary plus the evaluation rows."""
    run_dir = runs / name
    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = load_config(CalibrationConfig, DEFAULT_CONFIG, **over)
    t0 = time.perf_counter()
    summary = calibrate(cfg, run_dir, quiet=True)
    summary["process_s"] = time.perf_counter() - t0
    summary["rows"] = _rows(run_dir)
    return summary


def _rows(run_dir: Path) -> list[dict]:
    import csv

    out = []
    with open(run_dir / "evaluations.csv") as f:
        for r in csv.DictReader(f):
            out.append(
                {
                    "full_budget": r["full_budget"] == "True",
                    "l1": float(r["l1"]) if r["l1"] not in ("", "None") else None,
                    "objective": float(r["objective"])
                    if r["objective"] not in ("", "None")
                    else None,
                    "cumulative_iterations": int(r["cumulative_iterations"]),
                    "elapsed_s": float(r["elapsed_s"]),
                    "sim_s": float(r["sim_s"] or 0.0) if r["sim_s"] not in ("", "None") else 0.0,
                }
            )
    return out


def reach(rows: list[dict], threshold: float) -> tuple[float, float] | None:
    for r in rows:
        if r["full_budget"] and r["l1"] is not None and r["l1"] <= threshold:
            return r["cumulative_iterations"], r["elapsed_s"]
    return None


def median_or_none(values: list[float | None]) -> float | None:
    """Median where a missing value counts as infinitely bad; None if that is the median."""
    v = sorted(np.inf if x is None else x for x in values)
    m = statistics.median(v) if v else np.inf
    return None if not np.isfinite(m) else float(m)


def fmt(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None and b is None:
        return "-"
    if b is None:
        return "n/a"
    if a is None:
        return "> " + f"{b:.0f}"  # not reached by the reference
    return f"{a / b:.1f}x"


def method_table(results: dict[str, list[dict]], title: str) -> list[str]:
    lines = [
        f"### {title}",
        "",
        "| method | best L1 (seed) | L1, 3 other seeds | iterations to <=5 | to <=1 |"
        " wall s to <=5 | to <=1 | evaluations | iterations | saved by early stop |"
        " ms / evaluation |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for method, runs in results.items():
        best = statistics.median(r["best_l1"] for r in runs)
        others = statistics.median(statistics.mean(r["other_seeds_l1"]) for r in runs)
        cells = []
        for idx in (0, 1):
            for t in (5.0, 1.0):
                cells.append(
                    median_or_none([(reach(r["rows"], t) or (None, None))[idx] for r in runs])
                )
        it5, it1, w5, w1 = cells[0], cells[1], cells[2], cells[3]
        lines.append(
            f"| {method} | {best:.2f} | {others:.2f} | {fmt(it5)} | {fmt(it1)} | {fmt(w5, 1)} |"
            f" {fmt(w1, 1)} | {statistics.median(r['evaluations'] for r in runs):.0f} |"
            f" {statistics.median(r['iterations'] for r in runs):,.0f} |"
            f" {statistics.median(r['iterations_saved'] for r in runs):,.0f} |"
            f" {1000 * statistics.median(per_evaluation_s(r['rows']) for r in runs):.0f} |"
        )
    return lines


def per_evaluation_s(rows: list[dict]) -> float:
    """Wall seconds per evaluation from the first to the last finish (start-up excluded)."""
    t = sorted(r["elapsed_s"] for r in rows)
    return (t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else 0.0


def ratio_table(results: dict[str, list[dict]], reference: str = "random") -> list[str]:
    """Simulated iterations to reach each threshold, and the reference's / method's ratio."""
    lines = [
        f"| threshold (L1 pp) | {' | '.join(results)} | {reference} / bohb | "
        f"{reference} / hybrid |",
        "|---" * (len(results) + 3) + "|",
    ]
    for t in THRESHOLDS:
        med = {
            m: median_or_none([(reach(r["rows"], t) or (None,))[0] for r in runs])
            for m, runs in results.items()
        }
        cells = " | ".join(fmt(med[m]) for m in results)
        lines.append(
            f"| <= {t:g} | {cells} | {ratio(med.get(reference), med.get('bohb'))} |"
            f" {ratio(med.get(reference), med.get('hybrid'))} |"
        )
    return lines


def best_at_budget(results: dict[str, list[dict]], budgets: list[int]) -> list[str]:
    """Best full-evaluation L1 after a given number of simulated iterations (median)."""
    lines = [
        "| simulated iterations | " + " | ".join(results) + " |",
        "|---" * (len(results) + 1) + "|",
    ]
    for b in budgets:
        cells = []
        for runs in results.values():
            vals = []
            for r in runs:
                full = [
                    x["l1"]
                    for x in r["rows"]
                    if x["full_budget"] and x["l1"] is not None and x["cumulative_iterations"] <= b
                ]
                vals.append(min(full) if full else None)
            cells.append(fmt(median_or_none(vals), 2))
        lines.append(f"| {b:,} | " + " | ".join(cells) + " |")
    return lines


def long_table(long_runs: dict[str, list[dict]], evaluations: int, seeds: list[int]) -> list[str]:
    """Long bohb and random runs: medians, iterations to each L1, and the headline ratio."""
    lines = [
        f"### Long runs: bohb against random search ({evaluations} evaluations, seeds {seeds})",
        "",
        "Medians over seeds ('-': not reached by most seeds; per seed in brackets).",
        "",
        "| method | best L1 | L1, 3 other seeds | iterations | wall s | "
        + " | ".join(f"iterations to <= {t:g}" for t in THRESHOLDS)
        + " | wall s to <= 5 |",
        "|---" * (6 + len(THRESHOLDS)) + "|",
    ]
    for method, runs in long_runs.items():
        cells = []
        for t in THRESHOLDS:
            per = [(reach(r["rows"], t) or (None,))[0] for r in runs]
            each = ", ".join(fmt(x) for x in per)
            cells.append(f"{fmt(median_or_none(per))} ({each})")
        w5 = median_or_none([(reach(r["rows"], 5.0) or (None, None))[1] for r in runs])
        lines.append(
            f"| {method} | {statistics.median(r['best_l1'] for r in runs):.2f} |"
            f" {statistics.median(statistics.mean(r['other_seeds_l1']) for r in runs):.2f} |"
            f" {statistics.median(r['iterations'] for r in runs):,.0f} |"
            f" {statistics.median(r['wall_s'] for r in runs):.1f} | {' | '.join(cells)} |"
            f" {fmt(w5, 1)} |"
        )
    if "bohb" in long_runs and "random" in long_runs:
        # the headline: random search's final best, and what bohb paid to get there
        lines.append("")
        for rb, rr in zip(long_runs["bohb"], long_runs["random"], strict=True):
            hit = reach(rb["rows"], rr["best_l1"])
            got = "never" if hit is None else f"after {hit[0]:,.0f} iterations"
            ratio_txt = "" if hit is None else f" ({rr['iterations'] / hit[0]:.0f}x fewer)"
            lines.append(
                f"- seed {rr['seed']}: random search's best after {rr['iterations']:,}"
                f" iterations is L1 {rr['best_l1']:.2f}; bohb reached it {got}{ratio_txt}."
            )
    return lines


def tuner_overhead(
    workers: int, trials: int, reports: int, runs: Path, checkpoint_kb: int = 0
) -> float:
    """Wall seconds per trial of a trainable that does no work (Tune's own cost)."""
    from rlsys.tuner import BUDGET_KEY, ExperimentSpec, run_experiment
    from rlsys.tuner.space import uniform_box

    def noop(config):
        from rlsys.tuner.trainable import report

        for i in range(reports):
            metrics = {"loss": config["x"], "iteration": i + 1, BUDGET_KEY: reports}
            payload = None
            if i + 1 == reports:
                metrics["record"] = {"key": "final", "config": {"x": config["x"]}, "loss": 0.0}
                payload = {"state.bin": bytes(1024 * checkpoint_kb)} if checkpoint_kb else None
            report(metrics, payload)

    spec = ExperimentSpec(
        trainable=noop,
        constants={},
        search="random",
        space=uniform_box({"x": (0.0, 1.0)}),
        metric="loss",
        max_budget=reports,
        evaluations=trials,
        workers=workers,
        early_stopping=False,
        quiet=True,
    )
    path = runs / f"overhead-w{workers}-r{reports}-c{checkpoint_kb}"
    shutil.rmtree(path, ignore_errors=True)
    records = run_experiment(spec, path)
    t = sorted(r["finished_at"] for r in records)
    # from the first to the last finish: excludes the actors' start-up
    return (t[-1] - t[0]) / (len(t) - 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 seed, 60 evaluations, no w=1 runs")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--evaluations", type=int, default=200)
    ap.add_argument("--workers", type=int, default=0, help="0: all local CPUs")
    ap.add_argument("--scenario", default="urbansim-10k-like")
    ap.add_argument(
        "--long", type=int, default=2000, help="evaluations of the long bohb/random runs (0: none)"
    )
    ap.add_argument("--long-seeds", type=int, default=3, help="seeds of the long runs")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "calibration")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench-calibration")
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.evaluations = 1, 60
    ray = init_ray()
    cpus = int(ray.cluster_resources().get("CPU", 1))
    workers = args.workers or cpus
    seeds = list(range(1, args.seeds + 1))
    base = {"scenario": args.scenario, "evaluations": args.evaluations, "workers": workers}
    t_start = time.perf_counter()
    print(f"# Calibration benchmark ({args.scenario}, {cpus} CPUs, {workers} workers)\n")

    studies: dict[str, dict[str, list[dict]]] = {"beam": {}, "recovery": {}}
    for study in studies:
        for method in METHODS:
            studies[study][method] = []
            for seed in seeds:
                targets, tname = study_targets(study, args.scenario, seed)
                s = run_one(
                    args.runs,
                    f"{study}/{method}-s{seed}",
                    **base,
                    **method_settings(method),
                    seed=seed,
                    targets=targets,
                    targets_file=tname,
                )
                studies[study][method].append(s)
                print(
                    f"  {study:8s} {method:11s} seed {seed}: best L1 {s['best_l1']:.2f} after "
                    f"{s['iterations']} iterations, {s['wall_s']:.1f} s",
                    flush=True,
                )

    scaling: dict[int, dict[str, list[dict]]] = {}
    if not args.quick and workers > 1:
        for w in (1, workers):
            scaling[w] = {}
            for method in ("bohb", "random"):
                if w == workers:
                    scaling[w][method] = studies["beam"][method]
                    continue
                scaling[w][method] = [
                    run_one(
                        args.runs,
                        f"scaling/{method}-w{w}-s{seed}",
                        **{**base, "workers": w},
                        method=method,
                        seed=seed,
                        targets=BEAM_URBANSIM_10K,
                        targets_file="BEAM Urbansim-10k",
                    )
                    for seed in seeds
                ]
                print(f"  scaling {method} w={w} done", flush=True)

    # the same with evaluations that take ~0.6 s (large: 200,000 agents, 17 x 17 km)
    heavy: dict[int, dict] = {}
    if not args.quick and workers > 1:
        for w in (1, workers):
            heavy[w] = run_one(
                args.runs,
                f"scaling-large/bohb-w{w}",
                **{**base, "workers": w, "scenario": "large", "evaluations": 100},
                method="bohb",
                seed=seeds[0],
                targets=BEAM_URBANSIM_10K,
                targets_file="BEAM Urbansim-10k",
            )
            print(f"  scaling large bohb w={w} done", flush=True)

    long_runs: dict[str, list[dict]] = {}
    long_seeds = list(range(1, args.long_seeds + 1))
    if not args.quick and args.long:
        for method in ("bohb", "random"):
            long_runs[method] = []
            for seed in long_seeds:
                r = run_one(
                    args.runs,
                    f"long/{method}-s{seed}",
                    **{**base, "evaluations": args.long},
                    method=method,
                    seed=seed,
                    targets=BEAM_URBANSIM_10K,
                    targets_file="BEAM Urbansim-10k",
                )
                long_runs[method].append(r)
                print(
                    f"  long {method} seed {seed}: best L1 {r['best_l1']:.2f} after "
                    f"{r['iterations']} iterations, {r['wall_s']:.1f} s",
                    flush=True,
                )

    n_over = 40 if args.quick else 100
    overhead = {
        f"1 report, {w} worker(s)": tuner_overhead(w, n_over, 1, args.runs)
        for w in sorted({1, workers})
    }
    overhead[f"18 reports, {workers} worker(s)"] = tuner_overhead(workers, n_over, 18, args.runs)
    overhead[f"1 report + a 26 KB checkpoint, {workers} worker(s)"] = tuner_overhead(
        workers, n_over, 1, args.runs, checkpoint_kb=26
    )

    lines = [
        f"Scenario {args.scenario}; full evaluation 18 iterations; bohb/random "
        f"{args.evaluations} evaluations; seeds {seeds}; {workers} workers on {cpus} CPUs; "
        "medians over seeds; '-' = not reached.",
        "",
    ]
    lines += goal_lines(studies["beam"], "BEAM targets")
    lines += goal_lines(studies["recovery"], "hidden-ASC targets")
    lines += [default_l1_line(study, args.scenario, seeds) for study in studies] + [""]
    lines += method_table(studies["beam"], "BEAM Urbansim-10k targets")
    lines += ["", "Simulated iterations to reach an L1 (BEAM targets):", ""]
    lines += ratio_table(studies["beam"])
    lines += ["", "Best L1 after a number of simulated iterations (BEAM targets):", ""]
    lines += best_at_budget(studies["beam"], [100, 300, 1000, 3000])
    if long_runs:
        lines += [""] + long_table(long_runs, args.long, long_seeds)
    lines += [""]
    lines += method_table(studies["recovery"], "Recovery of hidden ASCs")
    lines += ["", "Simulated iterations to reach an L1 (hidden-ASC targets):", ""]
    lines += ratio_table(studies["recovery"])
    if scaling:
        lines += [
            "",
            "### Workers (BEAM targets, full runs)",
            "",
            "Wall time includes the workers' start-up; 'after start-up' is from the first "
            "to the last finished evaluation.",
            "",
            f"| method | wall s, 1 worker | wall s, {workers} workers | speed-up |"
            f" ms / evaluation after start-up, 1 -> {workers} | speed-up after start-up |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for method in ("bohb", "random"):
            w1 = statistics.median(r["wall_s"] for r in scaling[1][method])
            wn = statistics.median(r["wall_s"] for r in scaling[workers][method])
            e1 = statistics.median(per_evaluation_s(r["rows"]) for r in scaling[1][method])
            en = statistics.median(per_evaluation_s(r["rows"]) for r in scaling[workers][method])
            lines.append(
                f"| {method} | {w1:.1f} | {wn:.1f} | {w1 / wn:.2f}x | "
                f"{1000 * e1:.0f} -> {1000 * en:.0f} | {e1 / en:.2f}x |"
            )
    if heavy:
        lines += [
            "",
            f"Scenario large (200,000 agents, a full evaluation ~0.6 s), bohb, 100 "
            f"evaluations, seed {seeds[0]}:",
            "",
            "| workers | wall s | simulated iterations | simulation s (all workers) |"
            " ms / evaluation after start-up |",
            "|---:|---:|---:|---:|---:|",
        ]
        for w, r in sorted(heavy.items()):
            sim_s = sum(x["sim_s"] for x in r["rows"])
            lines.append(
                f"| {w} | {r['wall_s']:.1f} | {r['iterations']:,} | {sim_s:.1f} |"
                f" {1000 * per_evaluation_s(r['rows']):.0f} |"
            )
        h1, hn = per_evaluation_s(heavy[1]["rows"]), per_evaluation_s(heavy[workers]["rows"])
        lines.append(f"\nThroughput after start-up, {workers} vs 1 workers: {h1 / hn:.2f}x.")
    sim_share = []
    for runs in studies["beam"].values():
        for r in runs:
            busy = r["wall_s"] * r["workers"]
            sim_share.append(sum(x["sim_s"] for x in r["rows"]) / busy if busy else 0.0)
    lines += [
        "",
        "### Tuner overhead (a trainable that does nothing)",
        "",
        "| trials | wall ms per trial |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {1000 * v:.0f} |" for k, v in overhead.items()]
    lines += [
        "",
        f"Share of worker time spent simulating in the BEAM runs: median "
        f"{100 * statistics.median(sim_share):.0f}% (the rest is Ray Tune's per-trial "
        "and per-report cost).",
        "",
        f"Total bench time {time.perf_counter() - t_start:.0f} s.",
    ]
    text = "\n".join(lines)
    print(text)

    args.out.mkdir(parents=True, exist_ok=True)
    seed = seeds[0]
    for study, title in (("beam", "BEAM Urbansim-10k targets"), ("recovery", "hidden ASCs")):
        plot_l1(
            {m: runs[0]["rows"] for m, runs in studies[study].items()},
            args.out / f"{study}_l1.png",
            title=f"{args.scenario}, {title}, seed {seed}, {workers} workers",
        )
    best_method = min(studies["beam"], key=lambda m: studies["beam"][m][0]["best_l1"])
    b = studies["beam"][best_method][0]
    plot_shares(
        BEAM_URBANSIM_10K,
        b["seed_shares"],
        args.out / "beam_shares.png",
        title=f"BEAM targets vs {best_method} (seed {seed}): L1 {b['best_l1']:.2f} pp",
    )
    if long_runs:
        plot_l1(
            {f"{m} seed {r['seed']}": r["rows"] for m, runs in long_runs.items() for r in runs},
            args.out / "long_l1.png",
            title=f"{args.scenario}, BEAM targets, {args.long} evaluations, {workers} workers",
        )
    keep = ("best_l1", "other_seeds_l1", "iterations", "wall_s", "evaluations", "best_asc")
    results = {
        "tables": text,
        "studies": {
            st: {m: [{k: r.get(k) for k in keep} for r in runs] for m, runs in res.items()}
            for st, res in studies.items()
        },
        "overhead_s_per_trial": overhead,
    }
    (args.out / ("results-quick.json" if args.quick else "results.json")).write_text(
        json.dumps(results, indent=1)
    )
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
