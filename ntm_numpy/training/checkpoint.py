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

import json
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..configs import MODEL_TYPES, checked_task, model_class, model_config, parameter_shapes
from ..optim import config_from_dict
from ..tasks import Task
from .files import write_atomic
from .optimizers import OPTIMIZERS, optimizer_from_state
from .state import TrainStateError, check_train_state

FORMAT = "ntm_numpy.checkpoint/1"
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"  # ntm_numpy/pretrained


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, of another shape, or not a checkpoint."""


def model_type_of(model: Any) -> str:
    """The type name a model is saved under (its class attribute ``model_type``)."""
    name = getattr(model, "model_type", None)
    if not isinstance(name, str) or name not in MODEL_TYPES:
        known = ", ".join(cls.__name__ for cls in MODEL_TYPES.values())
        raise ValueError(f"model must be one of {known}, got {type(model).__name__}")
    return name


def build_model(model_type: str, config: dict[str, Any]):
    """A fresh model from its type name (in ``configs.MODEL_TYPES``) and config dict (as stored
    in a checkpoint)."""
    return model_class(model_type)(model_config(model_type, config))


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
    return write_atomic(path, lambda f: np.savez(f, **arrays), durable=True)


@dataclass
class Checkpoint:
    """Everything a checkpoint holds, validated."""

    path: Path
    model: Any
    optimizer_state: dict[str, Any] | None  # ready for ``optimizers.optimizer_from_state``
    train_state: dict[str, Any] | None
    extra: dict[str, Any]

    def task(self, name: str | None = None, **options: Any) -> Task:
        """The task the model was trained on, rebuilt from the run's config in ``train_state``.

        ``name`` asks for another task (the run's options then do not apply); ``options``
        override the task's options. Raises ``CheckpointError`` where the checkpoint names no
        task and none is given, or where the task's input and output widths are not the
        model's; an unknown task or option is a ``configs.ConfigError``.
        """
        run = (self.train_state or {}).get("config") or {}
        if name is None and "task" not in run:
            raise CheckpointError(
                f"{self.path}: its train_state names no task (a model saved outside a training "
                "run); name the task (on the command line: --task)"
            )
        if name is None or name == run.get("task"):
            name, options = run["task"], {**(run.get("task_options") or {}), **options}
        task = checked_task(name, options)
        model = self.model.config
        if (model.input_size, model.outputs) != (task.input_size, task.output_size):
            raise CheckpointError(
                f"{self.path}: the model reads {model.input_size} and writes {model.outputs} "
                f"channels, the task {task.name} has {task.input_size} and {task.output_size}"
            )
        return task


# A checkpoint is never trusted: before anything is inflated or allocated, every member of the
# archive must be one the config expects, each .npy header must give the shape the config gives
# and a float dtype, and each member's uncompressed size (from the zip directory, which bounds
# what inflating can produce) must be exactly its header plus its data.
META_LIMIT = 16 * 2**20  # bytes of meta.json: a config, a generator state, a few losses
HEADER_LIMIT = 4096  # bytes of an .npy header (numpy writes 128)
NONNEGATIVE_SLOTS = {"adam": ("v",), "rmsprop": ("n",)}  # running means of g^2
NPY_MAGIC, ZIP_MAGIC = b"\x93NUMPY", b"PK\x03\x04"


def read(path: str | os.PathLike) -> Checkpoint:
    """Open and validate a checkpoint; raises ``CheckpointError`` naming the file and the fault.

    Nothing is taken on trust: unknown members, sizes, shapes, dtypes (float32 or float64),
    finite values, the optimizer's state (finite, second moments >= 0) and the trainer's state
    are all checked, and the sizes before anything is inflated or allocated. No pickle runs.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    try:
        with open(path, "rb") as f:
            start = f.read(len(NPY_MAGIC))
        if not zipfile.is_zipfile(path):
            raise CheckpointError(_not_an_archive(path, start))
        with zipfile.ZipFile(path) as archive:
            return _read_archive(path, archive)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as error:
        raise CheckpointError(
            f"{path}: not a readable checkpoint (truncated, or a corrupt .npz archive): {error}"
        ) from None


def _not_an_archive(path: Path, start: bytes) -> str:
    """What a file that is no zip archive is, as an error message."""
    if not start:
        return f"{path}: not a readable checkpoint: the file is empty"
    if start.startswith(NPY_MAGIC):
        return f"{path}: a single .npy array, not an .npz checkpoint"
    if start.startswith(ZIP_MAGIC):
        return f"{path}: not a readable checkpoint (a truncated .npz archive)"
    return f"{path}: not an ntm_numpy checkpoint (not an .npz archive)"


def _read_archive(path: Path, archive: zipfile.ZipFile) -> Checkpoint:
    members = {info.filename: info for info in archive.infolist()}
    if len(members) != len(archive.infolist()):
        raise CheckpointError(f"{path}: the archive names a member twice")
    if "meta.json.npy" not in members:
        raise CheckpointError(
            f"{path}: an .npz archive, but not an ntm_numpy checkpoint (no meta.json)"
        )
    meta = _read_meta(path, archive, members["meta.json.npy"])
    model_type, config = _config(path, meta)
    shapes = parameter_shapes(config)
    optimizer_meta = _optimizer_meta(path, meta.get("optimizer"))
    expected = {f"param/{k}.npy": (f"param/{k}", shape) for k, shape in shapes.items()}
    if optimizer_meta is not None and optimizer_meta["steps"] > 0:
        for slot in optimizer_meta["slots"]:
            expected.update(
                {f"optim/{slot}.{k}.npy": (f"optim/{slot}.{k}", s) for k, s in shapes.items()}
            )
    _check_members(path, members, expected)
    train_state = _checked_train_state(path, meta.get("train_state"))
    arrays = {
        name: _read_float_array(path, archive, members[member], name, shape)
        for member, (name, shape) in expected.items()
        if member in members
    }
    model = build_model(model_type, config.to_dict())
    model.params = {k: arrays[f"param/{k}"].astype(model.config.dtype) for k in shapes}
    optimizer_state = None
    if optimizer_meta is not None:
        optimizer_state = {k: meta["optimizer"][k] for k in ("name", "config", "steps")}
        optimizer_state["state"] = {
            k[len("optim/") :]: v for k, v in arrays.items() if k.startswith("optim/")
        }
        _check_optimizer_state(path, optimizer_state)
    extra = meta.get("extra") or {}
    if not isinstance(extra, dict):
        raise CheckpointError(f"{path}: its meta.json 'extra' must be an object, got {extra!r}")
    return Checkpoint(path, model, optimizer_state, train_state, extra)


def _read_meta(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    """meta.json, bounded in size, parsed without recursion errors, of the right format."""
    if info.file_size > META_LIMIT:
        raise CheckpointError(
            f"{path}: its meta.json is {info.file_size} bytes, more than a checkpoint's "
            f"{META_LIMIT}"
        )
    data = _read_array(path, archive, info, "meta.json", kinds="u", itemsizes=(1,))
    try:
        meta = json.loads(data.tobytes().decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else error
        raise CheckpointError(f"{path}: its meta.json is corrupt: {reason}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: unknown checkpoint format "
            f"{meta.get('format') if isinstance(meta, dict) else type(meta).__name__!r}; "
            f"expected {FORMAT!r}"
        )
    return meta


def _config(path: Path, meta: dict[str, Any]) -> tuple[str, Any]:
    """(model type, validated config): the config's own checks include its size limits."""
    try:
        model_type, config = meta["model_type"], meta["config"]
        if not isinstance(config, dict):
            raise ValueError(f"config must be an object, got {type(config).__name__}")
        return model_type, model_config(model_type, config)
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its model config is invalid: {error}") from None


def _optimizer_meta(path: Path, meta: Any) -> dict[str, Any] | None:
    """The optimizer's name, config and step count, checked, with the slots it keeps."""
    if meta is None:
        return None
    try:
        if not isinstance(meta, dict) or not {"name", "config", "steps"} <= set(meta):
            raise ValueError(f"must be an object with name, config and steps, got {meta!r:.80}")
        cls = OPTIMIZERS.get(meta["name"]) if isinstance(meta["name"], str) else None
        if cls is None:
            raise ValueError(f"name must be one of {list(OPTIMIZERS)}, got {meta['name']!r:.80}")
        if not isinstance(meta["config"], dict):
            raise ValueError(f"config must be an object, got {meta['config']!r:.80}")
        slots = cls.slot_names(config_from_dict(cls.config_type, meta["config"]))
        steps = meta["steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be an integer >= 0, got {steps!r:.80}")
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its optimizer state is invalid: {error}") from None
    return {"name": meta["name"], "steps": steps, "slots": slots}


def _check_members(path: Path, members: dict[str, zipfile.ZipInfo], expected: dict) -> None:
    """Every member one the config expects, every parameter there, no member larger than its
    expected array could be: all from the zip directory, before anything is inflated."""
    unexpected = sorted(
        name[: -len(".npy")] if name.endswith(".npy") else name
        for name in set(members) - set(expected) - {"meta.json.npy"}
    )
    missing = sorted(
        name
        for member, (name, _) in expected.items()
        if member not in members and name.startswith("param/")
    )
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: its arrays do not match its config: missing "
            f"{[m[len('param/') :] for m in missing]}, unexpected {unexpected}"
        )
    for member, (name, shape) in expected.items():
        if member in members and members[member].file_size > HEADER_LIMIT + 8 * math.prod(shape):
            raise CheckpointError(
                f"{path}: {_label(name)} is {members[member].file_size} bytes uncompressed, "
                f"more than an array of the shape its config gives, {shape}, can take"
            )


def _label(name: str) -> str:
    """'param/output.W' -> 'parameter output.W'; 'optim/v.output.W' -> 'optimizer state ...'."""
    kind, _, key = name.partition("/")
    return {"param": "parameter", "optim": "optimizer state"}.get(kind, kind) + " " + key


def _read_array(
    path: Path,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    name: str,
    *,
    kinds: str,
    itemsizes: tuple[int, ...],
    shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """One .npy member, its header checked (dtype kind and size, ``shape`` where given, the
    member's size exactly header plus data) before its data is read. No pickle can run: an
    object dtype is refused from the header."""
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"unsupported .npy format version {version}")
            read_header = getattr(np.lib.format, f"read_array_header_{version[0]}_0")
            found, fortran, dtype = read_header(f)
        except ValueError as error:
            raise CheckpointError(f"{path}: {_label(name)} is not an .npy array: {error}") from None
        if (
            dtype.hasobject
            or dtype.fields is not None
            or dtype.kind not in kinds
            or (dtype.itemsize not in itemsizes)
        ):
            expected = "float32 or float64" if kinds == "f" else "uint8 bytes"
            raise CheckpointError(
                f"{path}: {_label(name)} has dtype {dtype}; a checkpoint holds {expected} there"
            )
        if shape is not None and tuple(found) != tuple(shape):
            raise CheckpointError(
                f"{path}: {_label(name)} has shape {tuple(found)}, but its config gives "
                f"{tuple(shape)}"
            )
        size = math.prod(found) * dtype.itemsize
        if info.file_size != f.tell() + size:
            raise CheckpointError(
                f"{path}: {_label(name)} holds {info.file_size - f.tell()} bytes of data, but its "
                f"header gives {size}"
            )
        data = f.read()  # at most file_size bytes in all; the CRC is checked at the end
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(found[::-1]).T if fortran else array.reshape(found)


def _read_float_array(
    path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, shape: tuple
) -> np.ndarray:
    """A parameter or optimizer array: float32 or float64, the config's shape, finite."""
    array = _read_array(path, archive, info, name, kinds="f", itemsizes=(4, 8), shape=shape)
    if not np.all(np.isfinite(array)):
        raise CheckpointError(f"{path}: {_label(name)} holds NaN or inf")
    return array


def _check_optimizer_state(path: Path, state: dict[str, Any]) -> None:
    """Second moments >= 0 (their square roots divide the step), and a state the optimizer
    itself accepts (every slot, for every parameter)."""
    for slot in NONNEGATIVE_SLOTS.get(state["name"], ()):
        for key, value in state["state"].items():
            if key.startswith(f"{slot}.") and np.any(value < 0):
                raise CheckpointError(
                    f"{path}: optimizer state {key} holds negative values; a running mean of "
                    f"squared gradients is >= 0"
                )
    try:
        optimizer_from_state(state)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its optimizer state is invalid: {error}") from None


def _checked_train_state(path: Path, state: Any) -> dict[str, Any] | None:
    """The trainer's state, each part that is there of the right type and within bounds
    (``training.state.check_train_state``; a shipped model's may lack what only resuming
    needs)."""
    if state is None:
        return None
    try:
        check_train_state(state, complete=False)
    except TrainStateError as error:
        raise CheckpointError(f"{path}: its train_state is invalid: {error}") from None
    return state


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
        log = metrics.read_bytes()
        write_atomic(dest_dir / f"{name}.metrics.jsonl", lambda f: f.write(log))
    return path


def find_checkpoint(spec: str | os.PathLike) -> Path:
    """The file ``spec`` names: a path, or else the name of a pretrained model (``"copy"``, as
    ``pretrained`` takes). A bare name (letters, digits, underscores) that is neither is a
    ``CheckpointError`` listing the pretrained names; any other path is returned as it is, for
    ``read`` to report."""
    path = Path(spec)
    if not path.exists() and isinstance(spec, str) and spec.replace("_", "").isalnum():
        shipped = PRETRAINED_DIR / f"{spec}.npz"
        if shipped.exists():
            return shipped
        raise CheckpointError(
            f"{spec!r} is neither a checkpoint file nor a pretrained model "
            f"(pretrained: {', '.join(pretrained_names()) or 'none yet'})"
        )
    return path


def pretrained_names() -> list[str]:
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.npz"))


def _pretrained_path(name: str) -> Path:
    path = PRETRAINED_DIR / f"{name}.npz"
    if not isinstance(name, str) or not path.exists():
        available = ", ".join(pretrained_names()) or "none yet"
        raise ValueError(f"no pretrained model named {name!r}; available: {available}")
    return path


def pretrained(name: str):
    """A model shipped in ``ntm_numpy/pretrained/`` (``copy``, ``lstm_copy``, ...)."""
    return load(_pretrained_path(name))


def pretrained_with_task(name: str) -> tuple[Any, Task]:
    """``(model, task)``: the pretrained model ``name`` and the task it was trained on, built
    with the run's own options (``Checkpoint.task``). An unknown name is a ``ValueError``
    listing the names shipped."""
    saved = read(_pretrained_path(name))
    return saved.model, saved.task()
