"""Two training levers of the job-shop issue, tried as fine-tuning of the shipped policy:
self-labeling and PPO with a group (POMO-style) baseline. Measured: neither pays here.

    python bench/jobshop_finetune_levers.py --method selflabel|group [--init pretrained]
        [--samples 32] [--instances 4] [--lr 1e-4] [--epochs 2] [--iters 400]
        [--eval-every 25] [--probs 0,0.01,0.02,0.05,0.1] [--seed 1] [--out DIR]

Both draw ``--instances`` training instances per iteration from the training distribution
of ``configs/jobshop/reserve.yaml`` (6-20 jobs, 4-10 machines, p drawn from ``--probs``)
and run ``--samples`` schedules of each with the current policy, all on the instance's one
disruption path, in lockstep (one batched policy call per decision step).

- ``selflabel`` (SLIM, Corsini et al. 2024): one of the schedules is greedy, the others
  sampled; the shortest is the label, and one Adam step lowers the cross-entropy of the
  policy to its decisions (mean over its decisions, mean over the instances).
- ``group``: every schedule sampled; each schedule's advantage is (group mean makespan -
  its makespan) / group std (the instance's difficulty cancels, no critic), the same for
  each of its decisions; ``--epochs`` passes of PPO's clipped loss (clip 0.2, minibatches
  of 512 decisions, grad clip 0.5).

Decisions with one candidate are not trained on. Every ``--eval-every`` iterations the
greedy policy is scored on ``reserve.yaml``'s validation set (60 random instances x p = 0,
0.05, 0.1, against MWKR on the same paths; ``rlsys.jobshop.train.Validator``), as a
training run picks its ``best.pt``. Writes ``log.jsonl`` and the policy at each evaluation
to ``--out`` (default ``runs/jobshop-levers/<method>``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from envs.jobshop.env import GraphTopology, observe  # noqa: E402
from envs.jobshop.sim import Simulator  # noqa: E402
from rlsys.config import load_config  # noqa: E402
from rlsys.jobshop.policies import learned_policy  # noqa: E402
from rlsys.jobshop.train import InstanceDistribution, JobshopTrainConfig, Validator  # noqa: E402
from rlsys.rl.distributions import MaskedCategorical  # noqa: E402


@torch.no_grad()
def run_group(policy, inst, p: float, seed: int, n: int, greedy_first: bool, gen):
    """``n`` schedules of one instance on its disruption path ``seed``: per schedule the
    (observation, action, log-probability) of every decision with > 1 candidate, and the
    makespans (a deadlock counts as twice the longest finished one)."""
    topo = GraphTopology(inst)
    first = Simulator(inst, p, seed, decisions=policy.config.decisions)
    sims = [first] + [first.fork() for _ in range(n - 1)]
    records: dict[int, list] = {id(s): [] for s in sims}
    active = [s for s in sims if not s.done]
    policy.eval()
    while active:
        obs = [observe(s, topo) for s in active]
        logits, mask, _ = policy(policy.collate(obs))
        dist = MaskedCategorical(logits, mask)
        actions = dist.sample(gen)
        if greedy_first and active[0] is first:
            actions[0] = MaskedCategorical(logits[:1], mask[:1]).mode()[0]
        logp = dist.log_prob(actions)
        for sim, o, a, lp, row in zip(
            active, obs, actions.tolist(), logp.tolist(), mask, strict=True
        ):
            if int(row.sum()) > 1:
                records[id(sim)].append((o, a, lp))
            sim.step(a)
        active = [s for s in active if not s.done]
    longest = max((s.makespan or 0) for s in sims)
    makespans = np.array([2 * longest if s.deadlock else s.makespan for s in sims], dtype=float)
    return [records[id(s)] for s in sims], makespans


def selflabel_step(policy, opt, groups) -> dict:
    """Cross-entropy to the shortest schedule of each group, one Adam step."""
    policy.train()
    opt.zero_grad()
    losses, gains = [], []
    for records, makespans in groups:
        best = int(np.argmin(makespans))
        gains.append(makespans[best] / makespans[0] - 1)  # against the greedy schedule
        if not records[best]:
            continue
        obs, actions, _ = zip(*records[best], strict=True)
        logits, mask, _ = policy(policy.collate(list(obs)))
        loss = -MaskedCategorical(logits, mask).log_prob(torch.tensor(actions)).mean()
        (loss / len(groups)).backward()
        losses.append(loss.item())
    torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    opt.step()
    return {"loss": float(np.mean(losses)), "best_vs_greedy": float(np.mean(gains))}


def group_step(policy, opt, groups, epochs: int, shuffle) -> dict:
    """PPO's clipped loss with the group advantage (module docstring)."""
    data = []
    for records, makespans in groups:
        adv = (makespans.mean() - makespans) / (makespans.std() + 1e-8)
        for rec, a in zip(records, adv, strict=True):
            data += [(o, act, lp, a) for o, act, lp in rec]
    if not data:
        return {}
    obs = [d[0] for d in data]
    actions = torch.tensor([d[1] for d in data])
    old_logp = torch.tensor([d[2] for d in data])
    advantages = torch.tensor([d[3] for d in data], dtype=torch.float32)
    policy.train()
    kls = []
    for _ in range(epochs):
        for idx in torch.split(torch.randperm(len(data), generator=shuffle), 512):
            logits, mask, _ = policy(policy.collate([obs[i] for i in idx.tolist()]))
            logp = MaskedCategorical(logits, mask).log_prob(actions[idx])
            ratio = (logp - old_logp[idx]).exp()
            adv = advantages[idx]
            loss = -torch.min(ratio * adv, ratio.clamp(0.8, 1.2) * adv).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 0.5)
            opt.step()
            kls.append(((ratio - 1) - (logp - old_logp[idx])).mean().item())
    best = [m.min() / m.mean() - 1 for _, m in groups]
    return {"approx_kl": float(np.mean(kls)), "best_vs_mean": float(np.mean(best)),
            "decisions": len(data)}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", choices=["selflabel", "group"], required=True)
    ap.add_argument("--init", default="pretrained")
    ap.add_argument("--samples", type=int, default=None, help="default 32 (selflabel), 16 (group)")
    ap.add_argument("--instances", type=int, default=4)
    ap.add_argument("--lr", type=float, default=None, help="default 1e-4 (selflabel), 5e-5 (group)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--iters", type=int, default=400)
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--probs", default="0,0.01,0.02,0.05,0.1")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    selflabel = args.method == "selflabel"
    samples = args.samples or (32 if selflabel else 16)
    lr = args.lr or (1e-4 if selflabel else 5e-5)
    out = Path(args.out or f"runs/jobshop-levers/{args.method}")
    out.mkdir(parents=True, exist_ok=True)

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    policy = learned_policy(args.init, "--init")
    reserve = load_config(JobshopTrainConfig, ROOT / "configs/jobshop/reserve.yaml")
    probs = [float(p) for p in args.probs.split(",")]
    dist = InstanceDistribution(jobs=reserve.instances.jobs, machines=reserve.instances.machines,
                                shutdown_probs=probs)  # fmt: skip
    validate = Validator(reserve.validation)
    opt = torch.optim.Adam(policy.parameters(), lr=lr, eps=1e-8 if selflabel else 1e-5)
    gen = torch.Generator().manual_seed(args.seed)
    shuffle = torch.Generator().manual_seed(args.seed + 1)
    log = (out / "log.jsonl").open("w")

    def evaluate(it: int, started: float) -> None:
        row = {"iter": it, "t": round(time.time() - started, 1), **validate(policy, it)}
        print(json.dumps(row), flush=True)
        log.write(json.dumps(row) + "\n")
        log.flush()
        policy.save(out / f"iter{it}.pt", {"lever": args.method, "iter": it})

    started = time.time()
    evaluate(0, started)
    for it in range(1, args.iters + 1):
        groups = []
        for b in range(args.instances):
            inst, p = dist.sample(args.seed * 10**7 + it * args.instances + b)
            seed = it * args.instances + b
            groups.append(run_group(policy, inst, p, seed, samples, selflabel, gen))
        if selflabel:
            stats = selflabel_step(policy, opt, groups)
        else:
            stats = group_step(policy, opt, groups, args.epochs, shuffle)
        if it % 5 == 0:
            print(f"iter {it} {json.dumps(stats)} t {time.time() - started:.0f}", flush=True)
        if it % args.eval_every == 0:
            evaluate(it, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
