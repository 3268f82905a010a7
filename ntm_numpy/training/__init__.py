"""The parts of the training loop (``ntm_numpy.train``) that are not the loop itself.

- ``state``: ``TrainState`` (where a run stands: what a checkpoint stores as ``train_state``)
  and ``Curriculum`` (the policy that grows the longest training length);
- ``rundir``: the run directory (held by one run at a time), stop signals, the metrics log and
  ``best.npz``;
- ``progress``: the progress line on a terminal.
"""
