"""Job-shop workload: dispatching rules, CP-SAT reference, evaluation (and later GNN-PPO)."""
