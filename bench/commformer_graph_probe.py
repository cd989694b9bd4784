"""What does the graph gradient of a CommFormer run say, edge by edge?

Loads one checkpoint of a learned-graph run (``RUN/checkpoints/ckpt_U.pt``), collects
``--episodes`` episodes with Gumbel graphs as training does (in-process, one
``RolloutWorker``), and prints per receiver i and sender j:

- ``adv``: the mean normalised advantage of agent i's steps on which it heard j
  (+- 2 standard errors): what hearing j is worth to i under this policy, the signal a
  score-function graph gradient follows;
- ``g_pol``, ``g_val``, ``g_ent``: the straight-through gradient that the PPO loss's
  policy, value and entropy terms send to logit (i, j), at ratio 1 (the first epoch of
  an update), as the mean over ``--chunks`` equal chunks +- 2 standard errors. A
  *negative* entry raises the logit (Adam descends), i.e. pushes i to hear j.

``python bench/commformer_graph_probe.py RUN --update 100 --episodes 2000``
``python bench/commformer_graph_probe.py pretrained --episodes 1500`` probes the shipped
10x10 predator-prey policy (its final weights, the PPO settings of its run-config.yaml).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import yaml

from rlsys.commformer.model import CommFormerPolicy
from rlsys.commformer.train import PRETRAINED, EnvConfig, TeamEnvFn
from rlsys.config import from_dict
from rlsys.rl.ppo import PPOConfig, batch_advantages, value_error
from rlsys.rl.rollout import RolloutBatch, RolloutWorker


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "run", help="a learned-graph run directory (final.pt and checkpoints/), or 'pretrained'"
    )
    p.add_argument("--update", type=int, help="checkpoint ckpt_U.pt to probe (of a run)")
    p.add_argument("--episodes", type=int, default=2000)
    p.add_argument("--chunks", type=int, default=10)
    p.add_argument("--seed", type=int, default=12345, help="rollout seed of the probe")
    args = p.parse_args()
    torch.set_num_threads(1)

    run = Path(args.run)
    final = PRETRAINED if args.run == "pretrained" else run / "final.pt"
    final_state = torch.load(final, map_location="cpu", weights_only=True)
    meta = final_state["meta"]
    if args.run == "pretrained":
        run_config = yaml.safe_load((final.parent / "run-config.yaml").read_text())
        # the shipped file keeps no PPO settings: those of the run that made it
        ckpt = {"model": final_state["model"], "config": run_config["train"]}
        label = f"pretrained (update {meta['update']})"
    else:
        if args.update is None:
            raise SystemExit("--update U is needed for a run directory")
        ckpt = torch.load(
            run / "checkpoints" / f"ckpt_{args.update}.pt", map_location="cpu", weights_only=True
        )
        label = f"{run.name} ckpt {args.update}"
    policy = CommFormerPolicy.load(final)  # the config (and env) of the run
    policy.load_state_dict(ckpt["model"])
    if policy.config.graph != "learned":
        raise SystemExit(f"{run}: graph {policy.config.graph!r}, the probe needs 'learned'")
    policy.warmup.fill_(False)
    policy.sampling.fill_(True)
    ppo = from_dict(PPOConfig, ckpt["config"]["ppo"], source="checkpoint config")
    env = from_dict(EnvConfig, meta["env"], source="final.pt env")

    worker = RolloutWorker(TeamEnvFn(env), lambda: policy, 0, args.seed, 16)
    batches = []
    done = 0
    while done < args.episodes:
        n = min(256, args.episodes - done)
        batches.append(worker.sample(policy.state_dict(), 0, len(batches), n))
        done += n
    batch = RolloutBatch.concat(batches)
    adv, ret = batch_advantages(batch, ppo.gamma, ppo.gae_lambda)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)  # as PPO normalises (over the batch)
    graphs = np.asarray(batch.policy_extras["graph"])  # [S, N, N]
    n_agents = graphs.shape[-1]
    steps = len(adv)
    print(f"{label}: {args.episodes} episodes, {steps} steps")
    print("logits:\n", policy.edge_logits.detach().numpy().round(2))

    # mean advantage of agent i given that it heard j
    print("\nmean normalised advantage of receiver i's steps, by the sender it heard (+- 2 se)")
    for i in range(n_agents):
        cells = []
        for j in range(n_agents):
            if i == j:
                cells.append(" " * 16)
                continue
            a = adv[graphs[:, i, j] == 1, i]
            se = a.std() / max(np.sqrt(len(a)), 1)
            cells.append(f"{a.mean():+.3f} +-{2 * se:.3f}")
        print(f"  i={i}: " + " | ".join(cells))

    # straight-through gradients of the loss terms, per chunk
    policy.train()
    actions = torch.as_tensor(np.asarray(batch.actions), dtype=torch.long)
    returns = torch.as_tensor(ret)
    advantages = torch.as_tensor(adv)
    extras = {k: torch.as_tensor(np.asarray(v)) for k, v in batch.policy_extras.items()}
    grads: dict[str, list[np.ndarray]] = {"pol": [], "val": [], "ent": []}
    for idx in np.array_split(np.random.default_rng(0).permutation(steps), args.chunks):
        idx_t = torch.as_tensor(idx)
        obs = [batch.obs[i] for i in idx.tolist()]
        logp, entropy, values = policy.evaluate(
            obs, actions[idx_t], {k: v[idx_t] for k, v in extras.items()}
        )
        terms = {
            "pol": -(advantages[idx_t] * logp).mean(),  # PPO's surrogate at ratio 1
            # PPO's value loss at ratio 1 (the clipped and unclipped values coincide)
            "val": ppo.vf_coef * value_error(values, returns[idx_t], ppo.vloss_type).mean(),
            "ent": -ppo.ent_coef * entropy.mean(),
        }
        for name, term in terms.items():
            (g,) = torch.autograd.grad(term, policy.edge_logits, retain_graph=True)
            grads[name].append(g.numpy().copy())
    for name, gs in grads.items():
        g = np.stack(gs)
        mean, se = g.mean(0), g.std(0, ddof=1) / np.sqrt(len(g))
        print(f"\ng_{name} (x1e3; negative = raises the logit), +- 2 se:")
        for i in range(n_agents):
            cells = [
                " " * 15 if i == j else f"{1e3 * mean[i, j]:+7.2f} +-{2e3 * se[i, j]:5.2f}"
                for j in range(n_agents)
            ]
            print(f"  i={i}: " + " | ".join(cells))


if __name__ == "__main__":
    main()
