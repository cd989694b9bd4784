"""PARL: bilevel policy alignment from preference feedback (and its PEBBLE-style baseline).

teachers.py      scripted B-Pref teachers (oracle, noisy, myopic, skip, equal, mistake)
reward_model.py  reward ensemble, Bradley-Terry loss, query selection, RewardLearner
tabular.py       the tabular task's exact lower level and exact hypergradient
hypergrad.py     T1 + T2 for network policies: HVPs and damped conjugate gradient
"""
