"""An NTM moved to a memory of another size: the same weights, N rows instead of N'.

Almost every parameter of an NTM is independent of the number of memory rows N: the controller,
the heads' projection and the output read the memory only through the weightings and the read
vectors, and content addressing, the shift and sharpening work on any N. Only the initial state
has N in its shape::

    init.weights    [H, N]    w_0 = softmax(init.weights)
    init.memory     [N, M]    M_0 (only with memory_init="learned")

So one trained set of weights runs on any memory size. That is what makes a copy model
generalise cheaply: fine-tuned on a small memory (say N = 32), a head that writes a little
everywhere while it reads back a sequence of length 20 erases a visible share of every row,
and the loss punishes it; on the paper's 128 rows the same habit costs almost nothing at
length 20, and so is never unlearned, but it wipes out rows read late in a sequence of 120.

``resize_memory`` builds the model at the new size. The N-dependent parameters are either the
first N columns (rows) of the source's, when the memory shrinks, or taken from another
checkpoint of the new size (``initial_state_from``), which a memory that grows needs: a location
walk starts at the sharpened peak of w_0, so w_0 must be one the weights were trained to start
from, not padding.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from ..configs import ConfigError
from .checkpoint import CheckpointError, build_model, find_checkpoint, model_type_of, read, save

MEMORY_DEPENDENT = {"init.weights": -1, "init.memory": 0}  # parameter -> its axis of length N


def resize_memory(model: Any, memory_size: int, *, initial_state_from: Any = None) -> Any:
    """A new NTM like ``model`` with ``memory_size`` rows, every N-free parameter copied.

    ``init.weights`` [H, N] (and ``init.memory`` [N, M], if learned) come from
    ``initial_state_from`` (an NTM of ``memory_size`` rows, the same heads and row width) when
    it is given, else from the first ``memory_size`` columns (rows) of ``model``'s, which needs
    ``memory_size <= model``'s N. A request that cannot be met is a ``ConfigError`` naming the
    parameter.
    """
    if model_type_of(model) != "ntm":
        raise ConfigError("model must be an NTM: the LSTM baseline has no memory to resize")
    if isinstance(memory_size, bool) or not isinstance(memory_size, int) or memory_size < 1:
        raise ConfigError(f"memory_size must be a positive integer, got {memory_size!r}")
    config = {**model.config.to_dict(), "memory_size": memory_size}
    resized = build_model("ntm", config)
    source_n = model.config.memory_size
    if initial_state_from is None and memory_size > source_n:
        raise ConfigError(
            f"memory_size {memory_size} is larger than the model's {source_n} rows: pass "
            "initial_state_from (--initial-state-from), a model of that size whose initial "
            "weighting to use"
        )
    donor = _check_donor(initial_state_from, resized) if initial_state_from is not None else None
    for name, value in resized.params.items():
        axis = MEMORY_DEPENDENT.get(name)
        if axis is None:
            value[...] = model.params[name].astype(value.dtype)
        elif donor is not None:
            value[...] = donor.params[name].astype(value.dtype)
        else:
            cut = [slice(None)] * value.ndim
            cut[axis] = slice(0, memory_size)
            value[...] = model.params[name][tuple(cut)].astype(value.dtype)
    return resized


def _check_donor(donor: Any, resized: Any) -> Any:
    """``donor`` if its N-dependent parameters fit ``resized``, else a ConfigError naming it."""
    if model_type_of(donor) != "ntm":
        raise ConfigError("initial_state_from must be an NTM")
    for name in MEMORY_DEPENDENT:
        if name not in resized.params:
            continue
        have = donor.params.get(name)
        want = resized.params[name].shape
        if have is None or have.shape != want:
            got = "none" if have is None else tuple(have.shape)
            raise ConfigError(
                f"initial_state_from must have {name} of shape {tuple(want)} (memory_size "
                f"{resized.config.memory_size}, the same heads and memory_init), got {got}"
            )
    return donor


def resize_checkpoint(
    source: str | os.PathLike,
    destination: str | os.PathLike,
    memory_size: int,
    *,
    initial_state_from: str | os.PathLike | None = None,
) -> Path:
    """``resize_memory`` on the checkpoint ``source`` (a path or a pretrained name), saved at
    ``destination`` with its training record: the config's ``memory_size`` becomes the new one,
    and ``train_state["resized"]`` says from what. The optimizer state is not kept."""
    source_path = find_checkpoint(source)
    if Path(destination).resolve() == source_path.resolve():
        raise CheckpointError(f"{destination}: the destination must not be the source")
    saved = read(source_path)
    donor = read(find_checkpoint(initial_state_from)).model if initial_state_from else None
    model = resize_memory(saved.model, memory_size, initial_state_from=donor)
    state = copy.deepcopy(saved.train_state) if saved.train_state else {}
    options = (state.get("config") or {}).get("model_options")
    if isinstance(options, dict):
        options["memory_size"] = memory_size
    state["resized"] = {
        "source": str(source),
        "memory_size_from": saved.model.config.memory_size,
        "initial_state_from": str(initial_state_from) if initial_state_from else None,
    }
    return save(destination, model, train_state=state)
