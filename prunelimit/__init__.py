"""prunelimit: how far can a trained PyTorch network be pruned, proven and then done."""

__version__ = "0.1.0"
