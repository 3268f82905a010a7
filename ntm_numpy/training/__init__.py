"""The machinery to train, save and load a model.

- ``loop``: the training loop, ``train`` (sample a batch, loss and gradients, clip, step;
  evaluate, log, checkpoint), and ``evaluate``;
- ``state``: ``TrainState`` (where a run stands: what a checkpoint stores as ``train_state``)
  and ``Curriculum`` (the policy that grows the longest training length);
- ``rundir``: the run directory (held by one run at a time), stop signals, the metrics log and
  ``best.npz``;
- ``progress``: the progress line on a terminal;
- ``optimizers``: SGD, RMSProp and Adam as objects that hold their state (the update rules
  themselves are ``ntm_numpy/optim.py``), and gradient clipping;
- ``parallel``: data parallelism, one batch split over worker processes;
- ``threads``: how many workers and BLAS threads, from the batch and the cores;
- ``allocator``: keep freed memory in the process (glibc's malloc settings);
- ``checkpoint``: save and load models and runs (``.npz``), the shipped pretrained models;
- ``resize``: a trained model's memory grown to more rows;
- ``files``: files written whole or not at all.

The loop's public names are importable from here: ``from ntm_numpy.training import train``.
"""

from .loop import (
    DEMO_MODEL,
    MODEL_TYPES,
    NOT_RESUMED,
    Curriculum,
    Progress,
    RunDirectoryError,
    TrainConfig,
    TrainingDiverged,
    TrainResult,
    TrainState,
    build,
    clip_gradients,
    evaluate,
    init_params_from,
    read_metrics,
    train,
)

__all__ = [
    "DEMO_MODEL",
    "MODEL_TYPES",
    "NOT_RESUMED",
    "Curriculum",
    "Progress",
    "RunDirectoryError",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "TrainingDiverged",
    "build",
    "clip_gradients",
    "evaluate",
    "init_params_from",
    "read_metrics",
    "train",
]
