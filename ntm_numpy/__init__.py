"""ntm_numpy: a Neural Turing Machine in NumPy, every forward and backward pass by hand."""

from .checkpoint import load, pretrained, pretrained_names
from .model import NTM, NTMConfig, NTMState
from .threads import set_blas_threads

__all__ = [
    "NTM",
    "NTMConfig",
    "NTMState",
    "load",
    "pretrained",
    "pretrained_names",
    "set_blas_threads",
]
__version__ = "0.1.0"
