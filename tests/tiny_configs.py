"""Workload configs small enough for a sweep test to run in seconds on 2 CPUs."""

TINY_JOBSHOP = {
    "instances": {"jobs": [3, 4], "machines": [2, 3], "shutdown_probs": [0.0, 0.05]},
    "validation": {"sizes": [[3, 2]], "instances_per_size": 1, "shutdown_probs": [0.0],
                   "seeds": 1},
    "policy": {"hidden": 16, "layers": 2},
    "train": {
        "checkpoint_every": 1,
        "eval_every": 1,
        "ppo": {"minibatch_size": 32, "update_epochs": 1},
        "rollout": {"num_workers": 1, "envs_per_worker": 2, "episodes_per_request": 4,
                    "worker_num_cpus": 0.5},
    },
}  # fmt: skip

# BEAM's Urbansim-10k mode shares (percent) on the `small` scenario
TINY_CALIBRATION = {
    "scenario": "small",
    "check_seeds": 0,
    "targets": {
        "car": 64.86, "walk": 6.94, "drive_transit": 5.98, "walk_transit": 5.98,
        "ride_hail_transit": 5.98, "ride_hail": 5.23, "ride_hail_pooled": 5.03, "bike": 0.0,
    },
}  # fmt: skip
