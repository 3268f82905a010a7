"""Checkpoints: one ``.npz`` file with the parameters, the config, and optionally the optimizer
and trainer state; written atomically, read back with every part validated.

Layout of the archive::

    meta.json          uint8 bytes of a JSON object: format, model type, config,
                       optimizer name/config/steps, train state, anything extra
    param/<name>       one array per parameter (host arrays, the model's dtype)
    optim/<slot.name>  the optimizer's state arrays, where there is an optimizer

A checkpoint is written to a temporary file beside its destination and renamed over it, so a
crash or Ctrl-C mid-write leaves the previous file whole.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .backend import to_numpy

FORMAT = "ntm_numpy.checkpoint/1"
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, of another shape, or not a checkpoint."""


MODEL_TYPES = {  # type name -> (module, model class, config class), imported on demand
    "ntm": ("ntm_numpy.model", "NTM", "NTMConfig"),
    "lstm": ("ntm_numpy.lstm_baseline", "LSTMModel", "LSTMConfig"),
}


def model_type_of(model: Any) -> str:
    """The type name a model is saved under (its class attribute ``model_type``)."""
    name = getattr(model, "model_type", None)
    if name not in MODEL_TYPES:
        raise ValueError(f"model must be an NTM or an LSTMModel, got {type(model).__name__}")
    return name


def build_model(model_type: str, config: dict[str, Any]):
    """A fresh model from its type name and config dict (as stored in a checkpoint)."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model type must be one of {sorted(MODEL_TYPES)}, got {model_type!r}")
    module_name, model_name, config_name = MODEL_TYPES[model_type]
    module = importlib.import_module(module_name)
    return getattr(module, model_name)(getattr(module, config_name)(**config))


def save(
    path: str | os.PathLike,
    model: Any,
    *,
    optimizer: Any = None,
    train_state: dict[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """Write ``model`` (and the optimizer / trainer state) to ``path``, atomically."""
    path = Path(path)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "model_type": model_type_of(model),
        "config": model.config.to_dict(),
        "train_state": train_state,
        "extra": extra,
    }
    arrays = {f"param/{k}": to_numpy(v) for k, v in model.params.items()}
    if optimizer is not None:
        state = optimizer.state_dict()
        meta["optimizer"] = {k: v for k, v in state.items() if k != "state"}
        arrays.update({f"optim/{k}": to_numpy(v) for k, v in state["state"].items()})
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; a checkpoint is for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass
class Checkpoint:
    """Everything a checkpoint holds, validated."""

    path: Path
    model: Any
    optimizer_state: dict[str, Any] | None  # ready for ``optim.optimizer_from_state``
    train_state: dict[str, Any] | None
    extra: dict[str, Any]


def read(path: str | os.PathLike) -> Checkpoint:
    """Open and validate a checkpoint; raises ``CheckpointError`` naming the file and the fault."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{path}: a single .npy array, not an .npz checkpoint")
        with loaded as archive:
            contents = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{path}: not a readable checkpoint (truncated, or not an .npz archive): {error}"
        ) from None
    if "meta.json" not in contents:
        raise CheckpointError(
            f"{path}: an .npz archive, but not an ntm_numpy checkpoint (no meta.json)"
        )
    try:
        meta = json.loads(contents.pop("meta.json").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: its meta.json is corrupt: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: unknown checkpoint format "
            f"{meta.get('format') if isinstance(meta, dict) else meta!r}; "
            f"expected {FORMAT!r}"
        )
    try:
        model = build_model(meta["model_type"], meta["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its model config is invalid: {error}") from None

    params = {k[len("param/") :]: v for k, v in contents.items() if k.startswith("param/")}
    expected = model.params
    if set(params) != set(expected):
        missing = sorted(set(expected) - set(params))
        unexpected = sorted(set(params) - set(expected))
        raise CheckpointError(
            f"{path}: parameters do not match its config: missing {missing}, "
            f"unexpected {unexpected}"
        )
    for name, value in params.items():
        if value.shape != expected[name].shape:
            raise CheckpointError(
                f"{path}: parameter {name} has shape {value.shape}, but its "
                f"config gives {expected[name].shape}"
            )
        if not np.all(np.isfinite(value)):
            raise CheckpointError(f"{path}: parameter {name} holds NaN or inf")
    model.params = {k: params[k].astype(model.config.dtype) for k in expected}

    optimizer_state = None
    if meta.get("optimizer") is not None:
        optimizer_state = dict(meta["optimizer"])
        optimizer_state["state"] = {
            k[len("optim/") :]: v for k, v in contents.items() if k.startswith("optim/")
        }
    return Checkpoint(
        path, model, optimizer_state, meta.get("train_state"), meta.get("extra") or {}
    )


def load(path: str | os.PathLike):
    """The model saved at ``path`` (an ``NTM`` or an ``LSTMModel``), on the CPU."""
    return read(path).model


def export_pretrained(
    run_dir: str | os.PathLike, name: str, dest_dir: str | os.PathLike = PRETRAINED_DIR
) -> Path:
    """Ship a run: ``<dest_dir>/<name>.npz`` (float32 parameters, config and the run's train
    state, no optimizer state) and ``<name>.metrics.jsonl``, its training log.

    The model shipped is the run's best evaluation (``best.npz``) where the run kept one, else
    its last checkpoint: training can be unsteady, and the last step need not be the best.
    """
    run_dir, dest_dir = Path(run_dir), Path(dest_dir)
    best = run_dir / "best.npz"
    checkpoint = read(best if best.exists() else run_dir / "checkpoint.npz")
    model = checkpoint.model
    if model.config.dtype != "float32":  # a pretrained file is for looking at, and small
        model = build_model(model_type_of(model), {**model.config.to_dict(), "dtype": "float32"})
        model.params = {k: v.astype("float32") for k, v in checkpoint.model.params.items()}
    path = save(
        dest_dir / f"{name}.npz", model, train_state=checkpoint.train_state, source=str(run_dir)
    )
    metrics = run_dir / "metrics.jsonl"
    if metrics.exists():
        target = dest_dir / f"{name}.metrics.jsonl"
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=dest_dir)
        with os.fdopen(fd, "wb") as f:
            f.write(metrics.read_bytes())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    return path


def pretrained_names() -> list[str]:
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.npz"))


def pretrained(name: str):
    """A model shipped in ``ntm_numpy/pretrained/`` (``copy``, ``lstm_copy``, ...)."""
    path = PRETRAINED_DIR / f"{name}.npz"
    if not path.exists():
        available = ", ".join(pretrained_names()) or "none yet"
        raise ValueError(f"no pretrained model named {name!r}; available: {available}")
    return load(path)
