"""What it would take to show (or rule out) "PARL needs 40 % fewer samples than PEBBLE":
the spec's measure over more seeds, simulated from a finished ``rlsys parl compare`` study.

    python bench/parl_seeds_needed.py STUDY_DIR [STUDY_DIR ...] [--saving 0.4]
        [--seeds 5,10,20,40,80] [--studies 300] [--out FILE.md]

For each study (its ``results.csv``): the observed saving, 1 - median(parl's env steps
to the target) / median(pebble's), with its paired bootstrap 95 % CI, exactly as
``rlsys parl compare`` writes it (``rlsys.parl.compare.samples_saved``; target = pebble's
mean final true return; a run that never reaches it counts as one evaluation past the
budget). Then, for each study size n, ``--studies`` simulated studies of n seeds drawn
with replacement from the observed (parl, pebble) seed pairs, i.e. more seeds that
behave like the ones run: the median width of their 95 % CI, and the share of them whose
CI lies wholly below ``--saving`` (they would rule a saving that large out) or wholly
above 0 (they would show parl saves samples at all). A second set of simulated studies
scales every parl run's steps by one factor that makes the median ratio ``1 - saving``
(the claim true, each seed's own scatter kept): the share whose CI lies wholly above 0 is the
power a study of n seeds would have to show the claim if it held.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlsys.parl.compare import censor_steps, samples_saved, steps_to_reach  # noqa: E402


def paired_reach(study: Path) -> tuple[list[float], list[float], float]:
    """(parl's, pebble's env steps to pebble's mean final return per seed, censor)."""
    evals: dict[tuple[str, int], list[dict]] = defaultdict(list)
    if not (study / "results.csv").is_file():
        raise SystemExit(f"{study}: no results.csv (a finished `rlsys parl compare` study)")
    with open(study / "results.csv") as f:
        for r in csv.DictReader(f):
            evals[(r["method"], int(r["seed"]))].append(
                {"env_steps": int(r["env_steps"]), "true_return": float(r["true_return"])}
            )
    seeds = sorted(s for m, s in evals if m == "pebble")
    if not seeds or any(("parl", s) not in evals for s in seeds):
        raise SystemExit(f"{study}: needs parl and pebble runs on the same seeds")
    target = statistics.mean(evals[("pebble", s)][-1]["true_return"] for s in seeds)
    parl = [steps_to_reach(evals[("parl", s)], target) for s in seeds]
    pebble = [steps_to_reach(evals[("pebble", s)], target) for s in seeds]
    return parl, pebble, censor_steps(evals[("pebble", seeds[0])])


def simulate(
    a: np.ndarray, b: np.ndarray, censor: float, n: int, studies: int, rng: np.random.Generator
) -> list[dict]:
    """``studies`` studies of n seed pairs drawn with replacement; samples_saved of each."""
    out = []
    for _ in range(studies):
        idx = rng.integers(0, len(a), size=n)
        out.append(samples_saved(a[idx].tolist(), b[idx].tolist(), censor, resamples=1000))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("studies_dirs", nargs="+", type=Path, metavar="STUDY_DIR")
    ap.add_argument("--saving", type=float, default=0.4, help="the claimed saving (0.4)")
    ap.add_argument("--seeds", default="5,10,20,40,80", help="simulated study sizes")
    ap.add_argument("--studies", type=int, default=300, help="simulated studies per size")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if not 0 < args.saving < 1:
        raise SystemExit(f"--saving must be in (0, 1), got {args.saving}")
    sizes = [int(x) for x in args.seeds.split(",")]
    claim = f"{100 * args.saving:.0f} %"
    lines = [
        "# What it takes: the samples-saved measure over more seeds",
        "",
        f"`python bench/parl_seeds_needed.py {' '.join(map(str, args.studies_dirs))} "
        f"--saving {args.saving} --seeds {args.seeds} --studies {args.studies}`",
        "",
        f"Simulated studies draw seed pairs with replacement from the observed ones "
        f"({args.studies} per size, bootstrap CI of 1,000 resamples each). 'Rules out "
        f"{claim}': the share whose 95 % CI lies wholly below {claim}; 'shows > 0': wholly "
        f"above 0; 'power if {claim} held': the share wholly above 0 when every parl run "
        f"takes its observed steps times one factor that makes the median ratio "
        f"{100 * (1 - args.saving):.0f} % (the seeds' own scatter kept).",
        "",
    ]
    for study in args.studies_dirs:
        parl, pebble, censor = paired_reach(study)
        a = np.minimum(np.array(parl), censor)
        b = np.minimum(np.array(pebble), censor)
        if len({*a.tolist(), *b.tolist()}) == 1:
            lines += [
                f"## {study}",
                "",
                "Every run of both methods reaches the target at the same evaluation (or "
                "none does): the measure cannot separate them here, at any number of seeds.",
                "",
            ]
            continue
        seen = samples_saved(parl, pebble, censor)
        lines += [
            f"## {study}",
            "",
            f"{len(a)} seeds: saving **{100 * seen['saved']:.0f} %** (95 % CI "
            f"{100 * seen['saved_low']:.0f} % to {100 * seen['saved_high']:.0f} %); the CI "
            + (
                f"lies below {claim}: these runs rule the claim out."
                if seen["saved_high"] < args.saving
                else f"contains {claim}: these runs cannot rule the claim out."
            ),
            "",
            f"| seeds per method | median CI width | rules out {claim} | shows > 0 "
            f"| power if {claim} held |",
            "|---:|---:|---:|---:|---:|",
        ]
        rng = np.random.default_rng(0)
        for n in sizes:
            sims = simulate(a, b, censor, n, args.studies, rng)
            # the claim true: parl's runs scaled so that the median ratio is 1 - saving,
            # each keeping its own seed's deviation from pebble
            shift = (1 - args.saving) * np.median(b) / np.median(a)
            true_claim = simulate(a * shift, b, censor, n, args.studies, rng)
            width = statistics.median(s["saved_high"] - s["saved_low"] for s in sims)
            below = np.mean([s["saved_high"] < args.saving for s in sims])
            above = np.mean([s["saved_low"] > 0 for s in sims])
            power = np.mean([s["saved_low"] > 0 for s in true_claim])
            lines.append(
                f"| {n} | {100 * width:.0f} points | {100 * below:.0f} % | {100 * above:.0f} % "
                f"| {100 * power:.0f} % |"
            )
        lines.append("")
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
