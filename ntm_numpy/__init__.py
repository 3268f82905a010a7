"""ntm_numpy: a Neural Turing Machine in NumPy, every forward and backward pass by hand."""

# every model module, so that each registers its model type (configs.MODEL_TYPES) on import
from .configs import ConfigError, TrainConfig
from .lstm_baseline import LSTMConfig, LSTMModel
from .model import NTM, NTMConfig, NTMState
from .training.checkpoint import load, pretrained, pretrained_names
from .training.threads import set_blas_threads

__all__ = [
    "NTM",
    "ConfigError",
    "LSTMConfig",
    "LSTMModel",
    "NTMConfig",
    "NTMState",
    "TrainConfig",
    "load",
    "pretrained",
    "pretrained_names",
    "set_blas_threads",
]
__version__ = "0.1.0"
