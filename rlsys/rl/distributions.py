"""A categorical distribution over the legal actions only.

Illegal actions get logit -inf, so their probability is exactly 0: they are never
sampled, their log-probability is -inf, and they add nothing to the entropy. Rows may be
padded (a graph policy batching instances with different numbers of jobs pads the logits
to the widest instance and marks the padding illegal).
"""

from __future__ import annotations

import torch


class MaskedCategorical:
    """Categorical over ``logits`` [..., A] restricted to ``mask`` [..., A] (True = legal).

    Every row must have at least one legal action. Works for one row [A] or a batch [B, A].
    """

    def __init__(self, logits: torch.Tensor, mask: torch.Tensor) -> None:
        mask = torch.as_tensor(mask, dtype=torch.bool, device=logits.device)
        if mask.shape != logits.shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} != logits {tuple(logits.shape)}")
        if not bool(mask.any(-1).all()):
            raise ValueError("every row needs at least one legal action")
        self.mask = mask
        self.logits = logits.masked_fill(~mask, float("-inf"))
        self.log_probs = torch.log_softmax(self.logits, dim=-1)  # [..., A], -inf where illegal
        self.probs = self.log_probs.exp()

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw one action per row [...] (int64), by the Gumbel-max trick.

        logits - log(Exp(1)) is Gumbel-distributed around the logits; an illegal action
        stays at -inf and cannot win the argmax, with no rounding edge cases.
        """
        noise = torch.empty_like(self.probs).exponential_(generator=generator)
        return (self.logits - noise.log()).argmax(-1)

    def mode(self) -> torch.Tensor:
        """The most probable legal action per row [...] (int64)."""
        return self.logits.argmax(-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Log-probability [...] of ``actions`` [...] (int); -inf for an illegal action."""
        actions = torch.as_tensor(actions, dtype=torch.long, device=self.logits.device)
        return self.log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        """Entropy [...] in nats over the legal actions."""
        # Zero the -inf entries before multiplying: 0 * -inf would be nan, in the
        # forward pass and in the gradient (torch.where would still leak it backwards).
        safe_log_probs = self.log_probs.masked_fill(~self.mask, 0.0)
        return -(self.probs * safe_log_probs).sum(-1)
