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

``from ntm_numpy.training import train`` (or any other name of ``loop.__all__``) imports the
loop on first use, not with this package: ``configs`` imports ``threads`` and ``optimizers``
from here, and the loop imports ``configs``, so loading the loop with the package would be an
import cycle.
"""

from __future__ import annotations

from typing import Any

_LOOP_NAMES = frozenset(
    {
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
    }
)


def __getattr__(name: str) -> Any:
    """``training.train`` and the loop's other public names, from ``training.loop``."""
    if name in _LOOP_NAMES:
        from . import loop

        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
