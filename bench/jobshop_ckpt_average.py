"""Checkpoint averaging for a job-shop training run: is the mean of a run's last
checkpoints' weights a better greedy policy than any one of them?

    python bench/jobshop_ckpt_average.py RUN_DIR [--windows 50,100,200] [--every 10]
        [--config CONFIG] [--out DIR]
    python bench/jobshop_ckpt_average.py --files A.pt,B.pt[,...] --config CONFIG --out DIR

For each window W the policy is the element-wise mean of the weights of the checkpoints
``ckpt_<u>.pt`` of the last W updates (every ``--every``-th, the run's checkpoint spacing)
of ``RUN_DIR``; one forward pass per decision, as for any policy file. Each averaged
policy, the run's ``best.pt`` and ``final.pt`` are scored greedily on the validation set
of the run's config (or ``--config``'s: ``rlsys.jobshop.train.Validator``, the set
``best.pt`` was chosen on, so a window that beats ``best.pt`` there has also been chosen
on it: score it on the benchmarks before believing it). Writes ``average.md`` and the
averaged policies (``avg<W>.pt``) to ``--out`` (default ``RUN_DIR/average``).

``--files`` averages whole policy files instead, the run ends of several fine-tuning runs
from one start (a "model soup", Wortsman et al. 2022): written as ``soup.pt`` and scored
with each file on ``--config``'s validation set. A file without the machine-load features
joins a soup of files with them as ``init_weights`` would start it (its encoder's extra
columns at zero).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from rlsys.config import load_config  # noqa: E402
from rlsys.jobshop.policy import JobShopGNNPolicy  # noqa: E402
from rlsys.jobshop.train import (  # noqa: E402
    JobshopTrainConfig,
    Validator,
    load_initial_weights,
)


def average(paths: list[Path]) -> JobShopGNNPolicy:
    """The policy whose every weight is the mean of that weight over ``paths`` (of the
    widest encoder among them: files without the machine-load features are zero-padded)."""
    policy = max((JobShopGNNPolicy.load(p) for p in paths), key=lambda p: p.encoder[0].in_features)
    states = []
    for path in paths:
        load_initial_weights(policy, str(path))
        states.append({k: v.clone() for k, v in policy.state_dict().items()})
    mean = {k: torch.stack([s[k].float() for s in states]).mean(0) for k in states[0]}
    policy.load_state_dict(mean)
    return policy


def soup(files: list[Path], cfg: JobshopTrainConfig, out: Path) -> int:
    """``--files``: each file and their mean on the validation set of ``cfg``."""
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    validate = Validator(cfg.validation)
    rows = [(str(f), 1, validate(JobShopGNNPolicy.load(f), 0)) for f in files]
    policy = average(files)
    policy.save(out / "soup.pt", {"averaged": [str(f) for f in files]})
    rows.append((str(out / "soup.pt"), len(files), validate(policy, 0)))
    write_table(rows, f"Weight average of {len(files)} policy files", validate, out)
    return 0


def write_table(rows: list, title: str, validate: Validator, out: Path) -> None:
    lines = [
        f"# {title}",
        "",
        "`python bench/jobshop_ckpt_average.py " + " ".join(sys.argv[1:]) + "`",
        "",
        f"Validation set of the config ({len(validate.cases)} cases), greedy policy.",
        "",
        "| policy | weights averaged | val makespan | MWKR | ratio to MWKR |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, n, m in rows:
        lines.append(
            f"| {name} | {n} | {m['val/makespan']:.1f} | {m['val/mwkr_makespan']:.1f} "
            f"| {m['val/ratio_to_mwkr']:.4f} |"
        )
    (out / "average.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, nargs="?")
    ap.add_argument("--files", default="", help="policy files to average, comma-separated")
    ap.add_argument("--windows", default="50,100,200", help="updates averaged, comma-separated")
    ap.add_argument("--every", type=int, default=10, help="checkpoint spacing (updates)")
    ap.add_argument("--config", type=Path, default=None, help="default RUN_DIR/config.yaml")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.files:
        if args.config is None or args.out is None:
            raise SystemExit("--files needs --config (its validation set) and --out")
        files = [Path(f) for f in args.files.split(",")]
        return soup(files, load_config(JobshopTrainConfig, args.config), args.out)
    if args.run_dir is None:
        raise SystemExit("give RUN_DIR or --files")
    run = args.run_dir
    ckpts = {int(p.stem.split("_")[1]): p for p in (run / "checkpoints").glob("ckpt_*.pt")}
    if not ckpts:
        raise SystemExit(f"{run}: no checkpoints/ckpt_<update>.pt")
    last = max(ckpts)
    cfg = load_config(JobshopTrainConfig, args.config or run / "config.yaml")
    out = args.out or run / "average"
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    validate = Validator(cfg.validation)

    rows = []
    for name in ("best.pt", "final.pt"):
        if (run / name).exists():
            policy = JobShopGNNPolicy.load(run / name)
            rows.append((name, 1, validate(policy, last)))
            print(rows[-1], flush=True)
    for window in (int(w) for w in args.windows.split(",")):
        updates = [u for u in sorted(ckpts) if last - window < u <= last and u % args.every == 0]
        chosen = [ckpts[u] for u in updates]
        policy = average(chosen)
        policy.save(out / f"avg{window}.pt", {"averaged": [p.name for p in chosen]})
        rows.append((f"avg{window}.pt (updates {updates[0]}-{last})", len(chosen),
                     validate(policy, last)))  # fmt: skip
        print(rows[-1], flush=True)

    title = f"Checkpoint averaging: `{run.name}` (last update {last})"
    write_table(rows, title, validate, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
