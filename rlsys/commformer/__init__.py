"""CommFormer: learned sparse communication graphs inside a multi-agent transformer.

graph.py     edge logits -> k-hot graphs: Gumbel top-k, straight-through, top-k rules
model.py     CommFormerConfig, CommFormerPolicy (encoder, autoregressive decoder, gates)
learner.py   the bilevel alternation as a PPOLearner with two parameter groups
train.py     CommFormerTrainConfig, env factories, `rlsys commformer train`
evaluate.py  success rate, steps to capture, return, messages per step
cli.py       `rlsys commformer train|eval`
"""
