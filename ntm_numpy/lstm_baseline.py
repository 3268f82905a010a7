"""A plain stacked LSTM sequence model: the baseline of the paper's NTM-vs-LSTM comparison.

Graves et al. (2014) compare the NTM with a network of 3 stacked LSTM layers of 256 units
(for copy), each layer reading only the hidden state of the layer below (no skip connections).
For layer l = 0 .. L-1 and step t, with h^{-1}_t = x_t::

    z^l_t        = [h^{l-1}_t, h^l_{t-1}] W_l + b_l          gate pre-activations  [B, 4H]
    h^l_t, c^l_t = LSTM-cell(z^l_t, c^l_{t-1})                ``ops.lstm``           [B, H]
    y_t          = h^{L-1}_t W_y + b_y                         logits                [B, O]

with zero initial states h^l_{-1} = c^l_{-1} = 0. Shapes: T time, B batch, D_l the width of
layer l's input (``input_size`` for layer 0, H above it), H ``hidden_size``, O ``outputs``.
Sequences are time-major: x [T, B, input_size].

The public interface is the NTM's (``model.py``): ``forward``, ``backward``, ``loss``,
``loss_and_grads``, ``step``, ``initial_state``, ``to``, ``save``, ``params`` with dotted names
(views into one flat array) and gradients with the same names, so the trainer, the checkpoints
and the command line work with either model.

The layers run one after another, each over the whole sequence: the input half of the affine
map, ``h^{l-1} W_l[:D_l] + b_l``, is one product over all T steps, and only the recurrent half,
``h^l_{t-1} W_l[D_l:]``, runs inside the loop over time. The backward pass mirrors it: the loop
over time (in reverse) carries only ``dh, dc`` of the layer; the gradient sent to the layer
below and the weight gradients are each one product over all steps after the loop
(``ops.linear.linear_param_grads`` over the stacked steps *is* the sum over time).
Backward functions of the ops return new arrays; this module adds them up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from .configs import LSTMConfig, positive_int, register_model
from .flat_arrays import FlatArrays
from .initialization import init_lstm_params
from .ops.linear import linear_input_grad, linear_param_grads
from .ops.lstm import LSTMCellCache, lstm_cell_backward, lstm_cell_forward
from .sequence_model import SequenceModel


class LSTMState(NamedTuple):
    """What one step hands to the next: every layer's state, layers on the first axis."""

    h: Any  # [L, B, H]
    c: Any  # [L, B, H]


class LayerCache(NamedTuple):
    """One layer over the whole sequence."""

    inputs: Any  # [T, B, D_l]    h^{l-1}_t (x_t for layer 0)
    hidden: Any  # [T + 1, B, H]  h^l_{t-1} at index t: hidden[0] = 0, hidden[t + 1] = h^l_t
    cells: list  # LSTMCellCache per step


@dataclass
class LSTMForwardCache:
    """What ``backward`` needs from ``forward``: one ``LayerCache`` per layer, bottom first."""

    layers: list

    @property
    def hidden(self) -> Any:
        """h^{L-1}_t of the top layer, [T, B, H] (what the output layer reads)."""
        return self.layers[-1].hidden[1:]


@register_model
class LSTMModel(SequenceModel):
    """A stack of LSTM layers and an affine output layer.

    >>> model = LSTMModel(input_size=9, output_size=8, hidden_size=256, num_layers=3)
    >>> logits, cache = model.forward(x)              # x [T, B, 9] -> logits [T, B, 8]
    >>> grads = model.backward(dlogits, cache)        # same keys as model.params

    Parameters (``model.params``):

    ==================  =========================  =============================================
    layer{l}.W          [D_l + H, 4H]              z = [h^{l-1}_t, h^l_{t-1}] W + b; [i|f|o|g]
    layer{l}.b          [4H]
    output.W, .b        [H, O]                     y_t from the top layer's h_t
    ==================  =========================  =============================================
    """

    model_type = "lstm"  # the name checkpoints and ``configs.MODEL_TYPES`` know it by
    config_class = LSTMConfig

    def __init__(self, config: LSTMConfig | None = None, /, **options: Any) -> None:
        if config is None:
            config = LSTMConfig(**options)
        elif options:
            raise ValueError("pass either an LSTMConfig or keyword options, not both")
        elif not isinstance(config, LSTMConfig):
            raise ValueError(f"config must be an LSTMConfig, got {type(config).__name__}")
        self.config = config
        self.params = init_lstm_params(config)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"LSTMModel(input_size={c.input_size}, output_size={c.outputs}, hidden_size="
            f"{c.hidden_size}, num_layers={c.num_layers}, dtype={c.dtype}, "
            f"parameters={self.num_parameters})"
        )

    # --- the initial state -----------------------------------------------------------------

    def initial_state(self, batch_size: int) -> LSTMState:
        """The state before the first step, for ``step``: h = c = 0, [L, B, H] each."""
        positive_int("batch_size", batch_size)
        c = self.config
        zeros = self.xp.zeros((c.num_layers, batch_size, c.hidden_size), dtype=c.dtype)
        return LSTMState(h=zeros, c=zeros)

    # --- forward ---------------------------------------------------------------------------

    def _split(self, layer: int) -> tuple[Any, Any, Any]:
        """(W_in [D_l, 4H], W_rec [H, 4H], b [4H]): layer l's weights, input rows first."""
        W = self.params[f"layer{layer}.W"]
        D = self.config.layer_input_size(layer)
        return W[:D], W[D:], self.params[f"layer{layer}.b"]

    def forward(self, x, keep_cache: bool = True) -> tuple[Any, LSTMForwardCache | None]:
        """Logits for a whole sequence: x [T, B, input_size] -> logits [T, B, output_size].

        With ``keep_cache=False`` no per-step caches are kept (the cache returned is None).
        """
        x = self._check_sequence(x)
        xp, p, c = self.xp, self.params, self.config
        T, B, _ = x.shape
        H = c.hidden_size
        inputs = x  # [T, B, D_l]  what layer l reads: x, then the layer below's h
        layers = []
        for layer in range(c.num_layers):
            W_in, W_rec, b = self._split(layer)
            # the input half of z = [h^{l-1}_t, h^l_{t-1}] W + b, for every step at once
            z_in = inputs @ W_in + b  # [T, B, 4H]
            hidden = xp.zeros((T + 1, B, H), dtype=x.dtype)  # hidden[t] = h^l_{t-1}
            cell_state = xp.zeros((B, H), dtype=x.dtype)  # c^l_{-1} = 0
            cells = []
            for t in range(T):
                z = z_in[t] + hidden[t] @ W_rec  # [B, 4H]
                (h, cell_state), cell_cache = lstm_cell_forward(z, cell_state)
                hidden[t + 1] = h
                if keep_cache:
                    cells.append(cell_cache)
            if keep_cache:
                layers.append(LayerCache(inputs, hidden, cells))
            inputs = hidden[1:]  # [T, B, H]
        # output: no recurrence, so one product over the whole sequence
        logits = inputs @ p["output.W"] + p["output.b"]  # [T, B, O]
        return logits, (LSTMForwardCache(layers) if keep_cache else None)

    def step(self, x_t, state: LSTMState | None = None) -> tuple[Any, LSTMState]:
        """One step of every layer: x_t [B, input_size] -> y_t [B, O], and the new state.

        ``state=None`` starts from ``initial_state``.
        """
        x_t = self._as_model_array(x_t, "x_t", ("B", self.config.input_size))
        if state is None:
            state = self.initial_state(x_t.shape[0])
        xp, p = self.xp, self.params
        inputs, hs, cs = x_t, [], []
        for layer in range(self.config.num_layers):
            W_in, W_rec, b = self._split(layer)
            # z = [h^{l-1}_t, h^l_{t-1}] W + b, summed in the order forward sums it
            z = (inputs @ W_in + b) + state.h[layer] @ W_rec
            (h, c), _ = lstm_cell_forward(z, state.c[layer])
            hs.append(h)
            cs.append(c)
            inputs = h
        logits = inputs @ p["output.W"] + p["output.b"]
        return logits, LSTMState(xp.stack(hs), xp.stack(cs))

    # --- backward --------------------------------------------------------------------------

    def backward(self, dlogits, cache: LSTMForwardCache) -> FlatArrays:
        """Backpropagation through time: dL/dlogits [T, B, O] -> dL/dparams (same keys).

        The output layer first, then the layers from the top down; within a layer the steps
        are walked in reverse, carrying dh = dL/dh^l_{t-1} and dc = dL/dc^l_{t-1}::

            dh^l_t      = dabove_t + dh            dabove_t: from the output or layer l+1
            dz_t, dc    = lstm_cell_backward(dh^l_t, dc)
            dh          = dz_t W_rec^T             through z_t = ... + h^l_{t-1} W_rec

        then, once over all steps: dW_l = [h^{l-1}, h^l_{t-1}]^T dz, db_l = sum dz, and the
        gradient sent down, dabove = dz W_in^T [T, B, D_l].
        """
        if cache is None:
            raise ValueError("cache is None: run forward(x, keep_cache=True) before backward")
        xp, p, c = self.xp, self.params, self.config
        T, B = cache.hidden.shape[:2]
        dlogits = self._as_model_array(dlogits, "dlogits", (T, B, c.outputs))
        H = c.hidden_size
        grads = self.new_grads()  # views into one flat array, filled in below

        # y = h^{L-1} W_y + b_y, for all steps at once
        grads["output.W"], grads["output.b"] = linear_param_grads(dlogits, cache.hidden)
        dabove = linear_input_grad(dlogits, p["output.W"])  # [T, B, H]

        for layer in reversed(range(c.num_layers)):
            W_in, W_rec, _ = self._split(layer)
            layer_cache = cache.layers[layer]
            dz_all = xp.empty((T, B, 4 * H), dtype=dlogits.dtype)
            dh = xp.zeros((B, H), dtype=dlogits.dtype)  # dL/dh^l_t from step t+1
            dc = xp.zeros((B, H), dtype=dlogits.dtype)  # dL/dc^l_t from step t+1
            for t in reversed(range(T)):
                # h^l_t, c^l_t = LSTM-cell(z_t, c^l_{t-1})
                cell_cache: LSTMCellCache = layer_cache.cells[t]
                dz_all[t], dc = lstm_cell_backward(dh + dabove[t], dc, cell_cache)
                # z_t = h^{l-1}_t W_in + h^l_{t-1} W_rec + b
                dh = linear_input_grad(dz_all[t], W_rec)
            # the weights are shared over time: one product over the stacked steps
            xh = xp.concatenate([layer_cache.inputs, layer_cache.hidden[:-1]], axis=-1)
            grads[f"layer{layer}.W"], grads[f"layer{layer}.b"] = linear_param_grads(dz_all, xh)
            if layer > 0:  # x needs no gradient
                dabove = linear_input_grad(dz_all, W_in)  # [T, B, H] to the layer below
        return grads


__all__ = [
    "LSTMConfig",
    "LSTMForwardCache",
    "LSTMModel",
    "LSTMState",
    "LayerCache",
    "init_lstm_params",
]
