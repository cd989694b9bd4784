"""PARL: bilevel policy alignment from preference feedback (and its PEBBLE-style baseline).

teachers.py      scripted B-Pref teachers (oracle, noisy, myopic, skip, equal, mistake)
reward_model.py  reward ensemble, Bradley-Terry loss, query selection, RewardLearner
tabular.py       the tabular task: exact lower level, exact hypergradient (IFT, CG),
                 and the sampled parl / pebble / oracle loop (run_tabular)
hypergrad.py     T2 for network policies: functional parameters, Fisher-vector
                 products, damped conjugate gradient
train.py         PARLConfig, PreferenceLearner (SAC + feedback rounds) on the shared
                 Trainer; Pendulum, Reacher and DM Control walker tasks
compare.py       methods x seeds as Ray tasks: results.csv, results.md, plots
tune.py          the Ray Tune trainable and its default search space
cli.py, report.py  `rlsys parl train|compare|eval` and a run's report.md
"""
