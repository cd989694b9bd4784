"""Evaluate dispatching policies on instances x shutdown probabilities x seeds, on Ray.

One Ray task per (instance, seed) runs every policy at every shutdown probability on
the same disruption sample paths (common random numbers), validates every schedule and
returns one row per (instance, policy, shutdown_prob, seed).
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from envs.jobshop.instance import Instance, load_instance
from envs.jobshop.schedule import save_schedule, violations
from envs.jobshop.shutdowns import RepairTime
from envs.jobshop.sim import Simulator

RESULT_FIELDS = (
    "instance",
    "policy",
    "shutdown_prob",
    "seed",
    "makespan",
    "decisions",
    "swaps",
    "valid",
    "wall_ms",
)


@dataclass(frozen=True)
class SimOptions:
    """Problem variant shared by every run of an evaluation."""

    swaps: bool = True
    """Blocking with swaps (BWS); False: no swaps (BNS), deadlocks reported."""
    repair: str = "uniform:1:10"
    """Repair-time distribution (time units): uniform:LOW:HIGH, constant:V, geometric:MEAN."""
    resume: bool = True
    """Interrupted operations resume their remaining work (False: restart from zero)."""


def parse_seeds(text: str) -> list[int]:
    """``0-9`` or ``0,3,5`` or ``0-4,10`` (non-negative integers)."""
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            lo, _, hi = part.partition("-")
            lo_i, hi_i = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(f"bad seeds {text!r}: use e.g. 0-9 or 0,3,5") from None
        if lo_i < 0 or hi_i < lo_i:
            raise ValueError(f"bad seeds {text!r}: use e.g. 0-9 or 0,3,5")
        seeds.extend(range(lo_i, hi_i + 1))
    if not seeds:
        raise ValueError("no seeds given")
    return seeds


_NAMED = re.compile(r"^([A-Za-z]+)(\d+)$")


def parse_instances(text: str) -> list[str]:
    """``ft06,la01-la05,random:25x15:0-4,my.txt`` -> instance specs for ``load_instance``.

    A dash joins two benchmark names of one family (``la01-la05``: la01, ..., la05, the
    width of the digits kept) or two seeds of a random size (``random:25x15:0-4``); any other
    entry, a file name with a dash included, is taken as it is."""
    out: list[str] = []
    for part in (x.strip() for x in str(text).split(",")):
        if not part:
            continue
        if part.startswith("random:") and "-" in part:
            head, _, seeds = part.rpartition(":")
            out.extend(f"{head}:{seed}" for seed in parse_seeds(seeds))
            continue
        lo, dash, hi = part.partition("-")
        a, b = _NAMED.match(lo), _NAMED.match(hi)
        if dash and a and b and a.group(1) == b.group(1) and not Path(part).exists():
            first, last = int(a.group(2)), int(b.group(2))
            if last < first:
                raise ValueError(f"bad instance range {part!r}: the second must not be smaller")
            width = len(a.group(2))
            out.extend(f"{a.group(1)}{i:0{width}d}" for i in range(first, last + 1))
            continue
        out.append(part)
    if not out:
        raise ValueError("no instances given")
    return out


def parse_probs(text: str) -> list[float]:
    try:
        probs = [float(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"bad shutdown probabilities {text!r}: use e.g. 0,0.05,0.1") from None
    for p in probs:
        if not 0.0 <= p < 1.0:
            raise ValueError(f"shutdown probability {p} outside [0, 1)")
    if not probs:
        raise ValueError("no shutdown probabilities given")
    return probs


def run_policy(
    instance: Instance,
    policy: str,
    shutdown_prob: float,
    seed: int,
    options: SimOptions = SimOptions(),
) -> Simulator:
    """One episode of ``policy`` (a name for ``make_policy``) on ``instance``; returns the
    finished sim."""
    from rlsys.jobshop.policies import make_policy

    return run_episode(instance, make_policy(policy, seed=seed), shutdown_prob, seed, options)


def run_episode(
    instance: Instance,
    choose,
    shutdown_prob: float,
    seed: int,
    options: SimOptions = SimOptions(),
) -> Simulator:
    """One episode of a built policy (``choose(sim, candidates) -> job``, or a planner
    with ``run(sim)``); returns the finished sim."""
    # a learned policy acts in the decision model it was trained in; rules are non-delay
    sim = Simulator(
        instance,
        shutdown_prob,
        seed,
        swaps=options.swaps,
        repair=RepairTime.parse(options.repair),
        resume=options.resume,
        decisions=getattr(choose, "decisions", "non_delay"),
    )
    if hasattr(choose, "run"):  # a planner that builds whole schedules (sample:N)
        return choose.run(sim)
    while not sim.done:
        sim.step(choose(sim, sim.candidates))
    return sim


def evaluate_one(
    instance: Instance,
    policies: Sequence[str],
    probs: Sequence[float],
    seed: int,
    options: SimOptions = SimOptions(),
    keep_schedules: bool = False,
) -> tuple[list[dict], list[dict]]:
    """All policies x probabilities for one instance and seed: (rows, schedules)."""
    from rlsys.jobshop.policies import make_policy

    for policy in policies:  # loads policy files once, outside the timed runs
        make_policy(policy, seed=seed)
    rows, schedules = [], []
    for p in probs:
        for policy in policies:
            t0 = time.perf_counter()
            sim = run_policy(instance, policy, p, seed, options)
            wall_ms = (time.perf_counter() - t0) * 1e3
            row = {
                "instance": instance.name,
                "policy": policy,
                "shutdown_prob": p,
                "seed": seed,
                "makespan": sim.makespan if not sim.deadlock else "",
                "decisions": sim.n_decisions,
                "swaps": sim.n_swaps,
                "valid": "deadlock",
                "wall_ms": round(wall_ms, 3),
            }
            if not sim.deadlock:
                sched = sim.schedule()
                sched["policy"] = policy
                found = violations(sched, instance, limit=1)
                row["valid"] = "yes" if not found else f"no: {found[0]}"
                if keep_schedules:
                    schedules.append(sched)
            rows.append(row)
    return rows, schedules


def evaluate(
    instances: Iterable[str | Instance],
    policies: Sequence[str],
    probs: Sequence[float],
    seeds: Sequence[int],
    options: SimOptions = SimOptions(),
    schedules_dir: str | Path | None = None,
    address: str | None = None,
    progress: bool = True,
    parts_dir: str | Path | None = None,
) -> list[dict]:
    """Run the evaluation grid as Ray tasks (one per instance x seed); rows sorted.

    parts_dir: each finished task's rows are saved there as JSON, and tasks whose file
    exists are not run again, so an interrupted evaluation resumes where it stopped.
    """
    from envs.jobshop.sim import plan_ranks
    from rlsys.jobshop.planning import SamplingPlanner
    from rlsys.jobshop.policies import PlanExecutor, make_policy
    from rlsys.runtime import init_ray

    insts = [load_instance(i) for i in instances]
    for policy in policies:
        # fail fast on unknown names, refused probabilities and missing plans, before Ray
        built = make_policy(policy, seed=0)
        if isinstance(built, SamplingPlanner):
            SamplingPlanner.check_shutdown_prob(max(probs))
        if isinstance(built, PlanExecutor):
            for inst in insts:
                plan_ranks(inst, built.plan_for(inst.name))
    ray = init_ray(address)
    task = ray.remote(num_cpus=1, max_retries=2)(evaluate_one)
    keep = schedules_dir is not None
    rows: list[dict] = []
    pending, part_of = [], {}
    for inst in insts:
        for seed in seeds:
            part = Path(parts_dir) / f"{inst.name}_s{seed}.json" if parts_dir else None
            if part is not None and part.exists():
                rows.extend(json.loads(part.read_text()))
                continue
            ref = task.remote(inst, list(policies), list(probs), seed, options, keep)
            pending.append(ref)
            part_of[ref] = part
    bar = None
    if progress:
        from tqdm import tqdm

        total = len(pending) + len(rows) // max(1, len(policies) * len(probs))
        bar = tqdm(total=total, initial=total - len(pending), desc="jobshop eval", unit="task")
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        task_rows, schedules = ray.get(done[0])
        rows.extend(task_rows)
        part = part_of[done[0]]
        if part is not None:
            part.parent.mkdir(parents=True, exist_ok=True)
            tmp = part.with_suffix(".tmp")
            tmp.write_text(json.dumps(task_rows))
            tmp.replace(part)  # atomic: a killed run never leaves half a part
        for sched in schedules:
            # a policy named by a path (a *.pt, plan:DIR) must not nest directories
            policy = str(sched["policy"]).replace("/", "_").replace("\\", "_")
            name = f"{sched['instance']}_{policy}_p{sched['shutdown_prob']}_s{sched['seed']}.json"
            save_schedule(sched, Path(schedules_dir) / name)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    order = {name: i for i, name in enumerate(policies)}
    rows.sort(key=lambda r: (r["instance"], r["shutdown_prob"], order[r["policy"]], r["seed"]))
    return rows


def write_csv(rows: list[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RESULT_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def summarize(rows: list[dict]) -> dict[tuple[str, float], float]:
    """Mean makespan per (policy, shutdown_prob) over instances and seeds."""
    acc: dict[tuple[str, float], list[float]] = defaultdict(list)
    for r in rows:
        if r["makespan"] != "":
            acc[(r["policy"], float(r["shutdown_prob"]))].append(float(r["makespan"]))
    return {k: sum(v) / len(v) for k, v in acc.items()}


def summary_table(rows: list[dict], title: str = "mean makespan") -> str:
    """Markdown table: policies x shutdown probabilities, best per column in bold."""
    means = summarize(rows)
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    probs = sorted({float(r["shutdown_prob"]) for r in rows})
    best = {p: min(means[(pol, p)] for pol in policies if (pol, p) in means) for p in probs}
    lines = [
        f"| {title} | " + " | ".join(f"p={p:g}" for p in probs) + " |",
        "|---|" + "---:|" * len(probs),
    ]
    for pol in policies:
        cells = []
        for p in probs:
            v = means.get((pol, p))
            cell = "deadlock" if v is None else f"{v:.1f}"
            cells.append(f"**{cell}**" if v is not None and v == best[p] else cell)
        lines.append(f"| {pol} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bws_reference() -> dict[str, tuple[int, str]]:
    """Published makespans of the blocking job shop with swaps: name -> (value, status)."""
    path = Path(__file__).parent / "data" / "bws_reference.csv"
    out = {}
    with open(path) as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            out[row["instance"]] = (int(row["bws"]), row["status"])
    return out


def best_rules(rows: list[dict]) -> dict[float, tuple[str, float]]:
    """The best dispatching rule at each shutdown probability in ``rows``: p -> (rule, its
    mean makespan over every instance and seed of that p). RANDOM is not a rule here."""
    from rlsys.jobshop.rules import RULES

    means = summarize(rows)
    out = {}
    for p in sorted({p for _, p in means}):
        rules = {
            name: means[(name, p)] for name in RULES if name != "RANDOM" and (name, p) in means
        }
        if not rules:
            raise ValueError(f"no rule schedules at p={p:g}: evaluate the rules in the same grid")
        best = min(rules, key=rules.get)
        out[p] = (best, rules[best])
    return out


def reference_gaps(
    rows: list[dict], references: dict[str, int] | None = None
) -> dict[str, list[float]]:
    """Per policy, the gaps (%) of its p = 0 makespans to a reference makespan per instance:
    ``references`` (instance -> makespan) or the published BWS values."""
    if references is None:
        references = {name: value for name, (value, _) in bws_reference().items()}
    out: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if float(r["shutdown_prob"]) == 0.0 and r["instance"] in references and r["makespan"] != "":
            out[r["policy"]].append(100.0 * (float(r["makespan"]) / references[r["instance"]] - 1))
    return dict(out)


def vs_best_rule_table(rows: list[dict], references: dict[str, int] | None = None) -> str:
    """Markdown: each policy's mean makespan against the best rule's at every p, and its mean
    gap to the reference at p = 0 (``reference_gaps``; the count of schedules beside it)."""
    best = best_rules(rows)
    means = summarize(rows)
    gaps = reference_gaps(rows, references)
    lines = [
        "| mean makespan vs best rule | "
        + " | ".join(f"p={p:g} ({name})" for p, (name, _) in best.items())
        + " | gap to reference, p=0 |",
        "|---|" + "---:|" * (len(best) + 1),
    ]
    for policy in dict.fromkeys(r["policy"] for r in rows):
        cells = [
            f"{100 * (means[(policy, p)] / base - 1):+.1f} %" if (policy, p) in means else ""
            for p, (_, base) in best.items()
        ]
        g = gaps.get(policy)
        cells.append(f"{sum(g) / len(g):.1f} % ({len(g)})" if g else "")
        lines.append(f"| {policy} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reference_gap_table(rows: list[dict]) -> str | None:
    """Markdown: mean gap (%) of each policy's p = 0 makespan to the BWS reference, or None
    if no instance has a reference."""
    acc = reference_gaps(rows)
    if not acc:
        return None
    lines = ["| policy | mean gap to BWS reference at p=0 (%) |", "|---|---:|"]
    best = min(sum(v) / len(v) for v in acc.values())
    for pol, gaps in acc.items():
        g = sum(gaps) / len(gaps)
        cell = f"{g:.1f}"
        lines.append(f"| {pol} | {'**' + cell + '**' if g == best else cell} |")
    return "\n".join(lines)
