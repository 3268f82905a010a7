"""Named arrays that are views into one contiguous 1-D array: parameters, gradients and
optimizer state, each held in one block (as llm.c holds its parameters).

    flat    [P]                 P = the parameters' total size
    layout  ((name, shape), ...)   the order and shape of the named views
    views   name -> flat[start:stop].reshape(shape)

A ``FlatArrays`` is a read-only mapping from name to view, with one exception: assigning to a
name writes *into* that view (``arrays[name] = value`` is ``arrays[name][...] = value``), so
the views can never come loose from ``flat``. Whatever works on the whole block (an optimizer's
update, clipping, copying into shared memory, moving to the GPU) is then one array operation
on ``flat`` instead of one per parameter, and whatever works on one parameter by name (the
backward pass, a checkpoint, a gradient check perturbing one entry) sees the same numbers.

This module is in the compute path: it never imports numpy, and it takes the array module from
the arrays it is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .backend import array_module

Layout = tuple[tuple[str, tuple[int, ...]], ...]  # ((name, shape), ...) in the order of flat


def layout_of(arrays: Mapping[str, Any]) -> Layout:
    """The names and shapes of ``arrays``, in their order."""
    return tuple((str(name), tuple(int(n) for n in a.shape)) for name, a in arrays.items())


def layout_size(layout: Layout) -> int:
    """P, the number of elements of a flat array of ``layout``."""
    return sum(math.prod(shape) for _, shape in layout)


def _views(flat: Any, layout: Layout) -> dict[str, Any]:
    """name -> flat[start:stop].reshape(shape), the slices laid one after another."""
    views, start = {}, 0
    for name, shape in layout:
        stop = start + math.prod(shape)
        views[name] = flat[start:stop].reshape(shape)
        start = stop
    return views


class FlatArrays(Mapping):
    """``{name: view}`` over one flat array ``flat`` [P] of ``layout``.

    >>> grads = FlatArrays.zeros_like(model.params)   # the same layout, filled with zeros
    >>> grads["output.b"] = db                        # writes into grads.flat
    >>> grads.flat *= 0.5                             # every view sees it
    """

    def __init__(self, flat: Any, layout: Layout) -> None:
        if getattr(flat, "ndim", None) != 1 or flat.shape[0] != layout_size(layout):
            raise ValueError(
                f"flat must be a 1-D array of {layout_size(layout)} elements (the layout's "
                f"size), got shape {getattr(flat, 'shape', type(flat).__name__)}"
            )
        self.flat = flat
        self.layout = layout
        self._views = _views(flat, layout)

    # --- building ----------------------------------------------------------------------------

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any]) -> FlatArrays:
        """A new flat array holding copies of ``arrays`` (one concatenation), in their order."""
        if isinstance(arrays, FlatArrays):
            return arrays.map(lambda flat: flat.copy())
        if not arrays:
            raise ValueError("arrays must hold at least one named array, got none")
        xp = array_module(*arrays.values())
        flat = xp.concatenate([xp.reshape(a, (-1,)) for a in arrays.values()])
        return cls(flat, layout_of(arrays))

    @classmethod
    def zeros_like(cls, arrays: FlatArrays) -> FlatArrays:
        """Zeros of the layout, dtype and device of ``arrays``."""
        return arrays.map(array_module(arrays.flat).zeros_like)

    def map(self, fn: Callable[[Any], Any]) -> FlatArrays:
        """``fn(flat)`` with this layout: e.g. a copy, a scaled copy, or the block on another
        device (``backend.to_device``), all in one operation."""
        return FlatArrays(fn(self.flat), self.layout)

    # --- the mapping ---------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Any:
        return self._views[name]

    def __setitem__(self, name: str, value: Any) -> None:
        """Write ``value`` into the view ``name`` (same shape); the view stays in ``flat``."""
        view = self._views.get(name)
        if view is None:
            raise KeyError(f"{name!r} is not one of the arrays {list(self._views)}")
        shape = tuple(getattr(value, "shape", ()))
        if shape != view.shape:
            raise ValueError(
                f"{name} must keep its shape {tuple(view.shape)} (it is a view into one flat "
                f"array), got an array of shape {shape}"
            )
        view[...] = value

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __repr__(self) -> str:
        names = ", ".join(f"{name}{list(shape)}" for name, shape in self.layout)
        return f"FlatArrays({self.flat.shape[0]} x {self.flat.dtype}: {names})"

    def __reduce__(self):
        # copy, deepcopy and pickle would each copy the views on their own, apart from flat
        return FlatArrays, (self.flat, self.layout)


def flat_of(*mappings: Any) -> tuple[Any, ...] | None:
    """The ``flat`` arrays of ``mappings`` where all are ``FlatArrays`` of one layout, else
    None (then work name by name)."""
    if not all(isinstance(m, FlatArrays) for m in mappings):
        return None
    layout = mappings[0].layout
    if any(m.layout != layout for m in mappings[1:]):
        return None
    return tuple(m.flat for m in mappings)
