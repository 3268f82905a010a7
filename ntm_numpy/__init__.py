"""ntm_numpy: a Neural Turing Machine in NumPy, every forward and backward pass by hand."""

from .checkpoint import load, pretrained, pretrained_names
from .model import NTM, NTMConfig, NTMState

__all__ = ["NTM", "NTMConfig", "NTMState", "load", "pretrained", "pretrained_names"]
__version__ = "0.1.0"
