"""Graph operators of the job-shop policy (one PyG ``MessagePassing`` per file)."""

from rlsys.jobshop.nn.typed_gin_conv import TypedGINConv

__all__ = ["TypedGINConv"]
