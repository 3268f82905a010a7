"""ntm_numpy: a Neural Turing Machine in NumPy, every forward and backward pass by hand."""

from .model import NTM, NTMConfig, NTMState

__all__ = ["NTM", "NTMConfig", "NTMState"]
__version__ = "0.1.0"
