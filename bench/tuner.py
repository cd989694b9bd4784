"""The central tuner's own cost against a bare Ray Tune ``Tuner``, same trainable, same run.

    python bench/tuner.py [--trials 24] [--reports 10] [--repeats 3] [--workers 2]

A trainable that does no work reports ``--reports`` times per trial. Each repeat runs it
through (a) ``rlsys.tuner.experiment.run_experiment`` (random search: journal, JSON
searcher state, trial checkpoints off) and (b) a bare ``tune.Tuner`` (``tune.uniform``
sampling, ``reuse_actors=True``, the same concurrency), in alternation on one local Ray
instance. Printed (medians over repeats): wall seconds per trial, the latency from the
start of the experiment to the first result (trial start-up), and the driver's CPU
share (its process CPU time over wall time). Writes bench/results/tuner/bench.md.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_trainable(reports: int):
    def noop(config):
        from ray import tune

        for i in range(reports):
            tune.report({"loss": config["x"], "iteration": i + 1, "_budget": reports})

    return noop


class FirstResult:
    """A Tune callback: when the first result arrived (trial start-up latency)."""

    def __init__(self):
        from ray import tune

        class _Cb(tune.Callback):
            def on_trial_result(cb, iteration, trials, trial, result, **info):
                if self.at is None:
                    self.at = time.perf_counter()

        self.at: float | None = None
        self.callback = _Cb()


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_ours(trials: int, reports: int, workers: int, storage: Path) -> dict:
    from rlsys.tuner.experiment import ExperimentSpec, run_experiment
    from rlsys.tuner.space import uniform_box

    first = FirstResult()
    spec = ExperimentSpec(
        trainable=make_trainable(reports),
        constants={},
        search="random",
        space=uniform_box({"x": (0.0, 1.0)}),
        metric="loss",
        max_budget=reports,
        evaluations=trials,
        workers=workers,
        early_stopping=False,
        quiet=True,
        callbacks=[first.callback],
    )
    t0, c0 = time.perf_counter(), cpu_s()
    records = run_experiment(spec, storage)
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    assert len(records) == trials
    return {"per_trial_s": wall / trials, "first_result_s": first.at - t0, "driver_cpu": cpu / wall}


def run_bare(trials: int, reports: int, workers: int, storage: Path) -> dict:
    from ray import tune

    first = FirstResult()
    tuner = tune.Tuner(
        tune.with_resources(make_trainable(reports), {"cpu": 1}),
        param_space={"x": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(
            num_samples=trials, max_concurrent_trials=workers, reuse_actors=True
        ),
        run_config=tune.RunConfig(
            storage_path=str(storage.parent),
            name=storage.name,
            callbacks=[first.callback],
            verbose=0,
        ),
    )
    t0, c0 = time.perf_counter(), cpu_s()
    results = tuner.fit()
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    assert len(results) == trials and not results.errors
    return {"per_trial_s": wall / trials, "first_result_s": first.at - t0, "driver_cpu": cpu / wall}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=24)
    p.add_argument("--reports", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tuner")
    args = p.parse_args()

    from rlsys.runtime import init_ray

    ray = init_ray()
    cpus = int(ray.cluster_resources().get("CPU", 0))
    tmp = Path(tempfile.mkdtemp(prefix="bench-tuner-"))
    runs: dict[str, list[dict]] = {"rlsys tuner": [], "bare Ray Tune": []}
    for i in range(args.repeats):
        for name, fn in (("rlsys tuner", run_ours), ("bare Ray Tune", run_bare)):
            runs[name].append(fn(args.trials, args.reports, args.workers, tmp / f"{name[:4]}-{i}"))
            print(name, i, runs[name][-1], flush=True)
    shutil.rmtree(tmp, ignore_errors=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    ours, bare = "rlsys tuner", "bare Ray Tune"
    lines = [
        "# Tuner overhead: rlsys's tuner against a bare Ray Tune Tuner",
        "",
        f"`python bench/tuner.py --trials {args.trials} --reports {args.reports} --repeats "
        f"{args.repeats} --workers {args.workers}` on a local Ray instance of {cpus} CPUs; "
        f"a trainable that does nothing but report {args.reports} times; medians over "
        f"{args.repeats} alternating repeats.",
        "",
        "| | wall s per trial | first result after s | driver CPU share |",
        "|---|---:|---:|---:|",
    ]
    for name in runs:
        lines.append(
            f"| {name} | {med(name, 'per_trial_s'):.3f} | {med(name, 'first_result_s'):.2f} | "
            f"{100 * med(name, 'driver_cpu'):.0f}% |"
        )
    lines.append(
        f"| ratio (rlsys / bare) | {med(ours, 'per_trial_s') / med(bare, 'per_trial_s'):.2f} | "
        f"{med(ours, 'first_result_s') / med(bare, 'first_result_s'):.2f} | "
        f"{med(ours, 'driver_cpu') / med(bare, 'driver_cpu'):.2f} |"
    )
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
