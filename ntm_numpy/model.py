"""The Neural Turing Machine: parameters, one step, a sequence forward, backprop through time.

One step, in the order of Graves et al. (2014) and DESIGN.md::

    1. controller   h_t, c_t = controller([x_t, r_{t-1}(, h_{t-1})] W_c + b_c, c_{t-1})
                    the LSTM (which also sees h_{t-1}) or a tanh layer    ``controllers.py``
    2. heads        every head's k, beta, g, s, gamma (and e, a) from h_t   ``heads.py``
    3. address      write heads address M_{t-1}                           ``ops.addressing``
    4. write        M_t = M_{t-1} * prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T   ``ops.memory``
    5. read         read heads address M_t, then r_t = w M_t (a read sees this step's write)
    6. output       y_t = [h_t, r_t] W_y + b_y  (logits; the loss applies the sigmoid)

Shapes: B batch, T time, N memory rows, M row width, C controller size, R read heads,
W write heads, H = W + R, S shift range. Sequences are time-major: x [T, B, input_size].

Parameters are named arrays with dotted names, views into one flat array (``FlatArrays``,
``sequence_model.py``); ``backward`` returns the gradients with the same names, views into one
flat array of their own. Backward functions of the ops return new arrays; this module adds them
up. Weights that are shared over time (controller, heads, output) get their gradient once,
after the loop over time, as one product over all steps (``ops.linear.linear_param_grads``);
the loop itself, one ``_step_backward`` per step (the mirror of ``_step_forward``), carries
only the recurrent gradients ``dh, dc, dr, dw_prev, dM`` backwards (``BackwardCarry``).

``ntm_numpy.reference`` is the same backprop through time in plain form (dense gradients, a
linear backward per step, no buffers), tested equal to this one: read it first.

Every gradient of a memory M_t but the one through the next write is a few outer products plus
a rescaling of M_t's rows (the read's w^T dr, the cosines' dd^T k and d|M_i| M_i / |M_i|, for
the read heads at step t and the write heads at step t+1), so the backward keeps them in that
factored form (``ops.memory.MemoryGrad``) and adds them to dM_t in one pass per step. The
forward likewise hands |M_t|, computed by the read addressing, to the next step's write
addressing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import backend
from .configs import DTYPES, MEMORY_INITS, NTMConfig, positive_int, register_model
from .controllers import CONTROLLERS, Controller
from .flat_arrays import FlatArrays
from .heads import Addressing, HeadParams, heads_backward, heads_forward
from .initialization import fixed_initial_memory, init_params
from .ops.activations import OutputCache, SoftmaxCache, softmax, softmax_backward, tanh_backward
from .ops.addressing import (
    AddressCache,
    address_backward_factored,
    address_forward,
    address_stages,
)
from .ops.linear import linear_input_grad, linear_param_grads
from .ops.lstm import LSTMCellCache
from .ops.memory import (
    ReadCache,
    WriteCache,
    memory_grad_total,
    read_backward_factored,
    read_forward,
    write_backward,
    write_forward,
)
from .sequence_model import SequenceModel


class NTMState(NamedTuple):
    """What one step hands to the next."""

    h: Any  # [B, C]     controller output
    c: Any  # [B, C]     the controller's cell state (the LSTM's; None without a cell)
    reads: Any  # [B, R, M]  r_t
    w_read: Any  # [B, R, N]
    w_write: Any  # [B, W, N]
    memory: Any  # [B, N, M]  M_t


class StepCache(NamedTuple):
    controller: Any  # the controller's cache: LSTMCellCache, or the tanh's OutputCache
    heads: Any  # HeadsCache
    write_address: AddressCache
    write: WriteCache
    read_address: AddressCache
    read: ReadCache


class BackwardCarry(NamedTuple):
    """The gradients that step t+1 sends back to step t: dL/d(step t's outputs) through it."""

    h: Any  # [B, C]      through step t+1's controller
    c: Any  # [B, C]      (None for a controller without a cell)
    reads: Any  # [B, R, M]   through step t+1's controller input
    w_read: Any  # [B, R, N]   through step t+1's interpolation (w_prev)
    w_write: Any  # [B, W, N]
    memory: Any  # [B, N, M]   through step t+1's write, dense (None at the last step)
    memory_factored: tuple  # MemoryGrads of M_t through step t+1's write addressing

    def memory_grad(self, memory, *more):
        """dL/dM dense [B, N, M]: this carry's share plus ``more`` (MemoryGrads of ``memory``),
        in one product and one pass (``ops.memory.memory_grad_total``)."""
        return memory_grad_total(memory, [*more, *self.memory_factored], into=self.memory)


class InitCache(NamedTuple):
    reads: Any  # [R, M]  r_0 = tanh(init.read)
    weights: Any  # [H, N]  w_0 = softmax(init.weights)


class Trace(NamedTuple):
    """Every stage of every step, stacked over time, as plain arrays (for plots and teaching).

    Weightings are ``[T, B, W, N]`` for the write heads and ``[T, B, R, N]`` for the read heads.
    """

    write_content: Any
    write_gated: Any
    write_shifted: Any
    write_weights: Any
    read_content: Any
    read_gated: Any
    read_shifted: Any
    read_weights: Any
    reads: Any  # [T, B, R, M]
    erase: Any  # [T, B, W, M]
    add: Any  # [T, B, W, M]
    memory: Any  # [T, B, N, M]  after each step's write
    write_key: Any  # [T, B, W, M]
    write_beta: Any  # [T, B, W]
    write_gate: Any  # [T, B, W]
    write_shift: Any  # [T, B, W, 2S+1]
    write_gamma: Any  # [T, B, W]
    read_key: Any  # [T, B, R, M]
    read_beta: Any  # [T, B, R]
    read_gate: Any  # [T, B, R]
    read_shift: Any  # [T, B, R, 2S+1]
    read_gamma: Any  # [T, B, R]


@dataclass
class ForwardCache:
    """What ``backward`` needs from ``forward``; ``trace`` stacks it for pictures."""

    steps: list  # StepCache per step
    init: InitCache
    controller_inputs: Any  # [T, B, D]   [x_t, r_{t-1}(, h_{t-1})]
    hidden: Any  # [T, B, C]
    output_inputs: Any  # [T, B, C + R*M]   [h_t, r_t]
    intervened: bool = False  # forward(x, intervene=...) replaced head parameters

    @property
    def trace(self) -> Trace:
        xp = backend.array_module(self.hidden)

        def over_time(get):
            return xp.stack([get(step) for step in self.steps])

        def addressing(which: str) -> list:
            """The four stages, then k, beta, g, s, gamma, of the write or the read heads."""
            caches = [getattr(step, which) for step in self.steps]
            stages = [address_stages(c) for c in caches]
            return [
                *(xp.stack([s[k] for s in stages]) for k in range(4)),
                xp.stack([c.content.key for c in caches]),
                xp.stack([c.content.beta[..., 0] for c in caches]),
                xp.stack([c.interpolate.gate[..., 0] for c in caches]),
                xp.stack([c.shift.shift for c in caches]),
                xp.stack([c.sharpen.gamma[..., 0] for c in caches]),
            ]

        write, read = addressing("write_address"), addressing("read_address")
        return Trace(
            *write[:4],
            *read[:4],
            reads=over_time(lambda s: s.read.w @ s.read.memory),
            erase=over_time(lambda s: s.write.erase),
            add=over_time(lambda s: s.write.add),
            memory=over_time(lambda s: s.read.memory),
            write_key=write[4],
            write_beta=write[5],
            write_gate=write[6],
            write_shift=write[7],
            write_gamma=write[8],
            read_key=read[4],
            read_beta=read[5],
            read_gate=read[6],
            read_shift=read[7],
            read_gamma=read[8],
        )


def _step_hook(intervene, t: int):
    """``intervene(t, heads)`` as step t's one-argument hook (None for None)."""
    if intervene is None:
        return None

    def hook(heads: HeadParams) -> HeadParams:
        replaced = intervene(t, heads)
        if not isinstance(replaced, HeadParams):
            raise ValueError(
                f"intervene must return a HeadParams (heads._replace(...)), got "
                f"{type(replaced).__name__} at step {t}"
            )
        return replaced

    return hook


@register_model
class NTM(SequenceModel):
    """A Neural Turing Machine.

    >>> model = NTM(input_size=9, output_size=8, memory_size=128, memory_dim=20,
    ...             controller_size=100, num_heads=1, seed=0, dtype="float64")
    >>> logits, cache = model.forward(x)              # x [T, B, 9] -> logits [T, B, 8]
    >>> grads = model.backward(dlogits, cache)        # same keys as model.params

    Parameters (``model.params``; H = W + R heads, write heads first):

    ==================  =========================  =============================================
    controller.W, .b    [I + R*M (+ C), K]         the controller's z: the LSTM's gates,
                                                   K = 4C (or the tanh layer, K = C)
    heads.W, .b         [C, P]                     every head's raw parameters (``HeadLayout``)
    output.W, .b        [C + R*M, O]               y_t from [h_t, r_t]
    init.read           [R, M]                     r_0 = tanh(init.read)
    init.weights        [H, N]                     w_0 = softmax(init.weights)
    init.memory         [N, M]                     M_0, only with memory_init="learned"
    ==================  =========================  =============================================
    """

    model_type = "ntm"  # the name checkpoints and ``configs.MODEL_TYPES`` know it by
    config_class = NTMConfig

    def __init__(self, config: NTMConfig | None = None, /, **options: Any) -> None:
        if config is None:
            config = NTMConfig(**options)
        elif options:
            raise ValueError("pass either an NTMConfig or keyword options, not both")
        elif not isinstance(config, NTMConfig):
            raise ValueError(f"config must be an NTMConfig, got {type(config).__name__}")
        self.config = config
        self.layout = config.layout
        self.params = init_params(config)
        self.fixed_memory = fixed_initial_memory(config)  # None where memory is learned

    def to(self, device: str) -> NTM:
        """Move the parameters (and a fixed initial memory) to ``device``; returns self."""
        memory = None if self.fixed_memory is None else backend.to_device(self.fixed_memory, device)
        super().to(device)
        self.fixed_memory = memory
        return self

    # --- conveniences ----------------------------------------------------------------------

    @property
    def controller(self) -> Controller:
        """The controller's functions and shape: ``CONTROLLERS[config.controller]``."""
        return CONTROLLERS[self.config.controller]

    def __repr__(self) -> str:
        c = self.config
        return (
            f"NTM(input_size={c.input_size}, output_size={c.outputs}, memory={c.memory_size}x"
            f"{c.memory_dim}, controller={c.controller}({c.controller_size}), read_heads="
            f"{c.read_heads}, write_heads={c.write_heads}, dtype={c.dtype}, "
            f"parameters={self.num_parameters})"
        )

    # --- the initial state -----------------------------------------------------------------

    def initial_state(self, batch_size: int) -> NTMState:
        """The state before the first step, for ``step``: learned r_0 and w_0, M_0, zero h
        (and c, for a controller with a cell)."""
        positive_int("batch_size", batch_size)
        return self._initial_state(batch_size)[0]

    def _initial_state(self, batch_size: int) -> tuple[NTMState, InitCache]:
        xp, p, c = self.xp, self.params, self.config
        B, W, C = batch_size, c.write_heads, c.controller_size
        reads0 = xp.tanh(p["init.read"])  # [R, M]
        weights0 = softmax(p["init.weights"])  # [H, N]
        memory0 = self.fixed_memory if self.fixed_memory is not None else p["init.memory"]
        state = NTMState(
            h=xp.zeros((B, C), dtype=c.dtype),
            c=self.controller.initial_cell(B, C, xp, c.dtype),
            reads=xp.broadcast_to(reads0, (B, *reads0.shape)),
            w_read=xp.broadcast_to(weights0[W:], (B, c.read_heads, c.memory_size)),
            w_write=xp.broadcast_to(weights0[:W], (B, W, c.memory_size)),
            memory=xp.broadcast_to(memory0, (B, *memory0.shape)),
        )
        return state, InitCache(reads0, weights0)

    # --- forward ---------------------------------------------------------------------------

    def _step_forward(
        self, x_t, state: NTMState, controller_input=None, memory_norm=None, intervene=None
    ) -> tuple[NTMState, StepCache]:
        """One step (module docstring, 1-5).

        ``controller_input`` is an optional [B, D] buffer; ``memory_norm`` [B, 1, N], if given,
        the row norms of ``state.memory``, which the last step's read addressing computed.
        ``intervene(heads) -> heads``, if given, replaces the step's ``HeadParams``.
        """
        xp, p, controller = self.xp, self.params, self.controller
        B = x_t.shape[0]

        # 1. controller: z = [x_t, r_{t-1}(, h_{t-1})] W_c + b_c, then h_t, c_t from z, c_{t-1}
        pieces = [x_t, state.reads.reshape(B, -1)] + ([state.h] if controller.recurrent else [])
        controller_input = xp.concatenate(pieces, axis=1, out=controller_input)
        z = controller_input @ p["controller.W"] + p["controller.b"]
        (h, c), controller_cache = controller.forward(z, state.c)

        # 2. heads
        heads, heads_cache = heads_forward(h @ p["heads.W"] + p["heads.b"], self.layout)
        if intervene is not None:
            heads = intervene(heads)

        # 3-4. write heads address M_{t-1}, then erase and add
        w_write, write_address_cache = address_forward(
            *heads.write, state.w_write, state.memory, memory_norm
        )
        memory, write_cache = write_forward(state.memory, w_write, heads.erase, heads.add)

        # 5. read heads address M_t, then read
        w_read, read_address_cache = address_forward(*heads.read, state.w_read, memory)
        reads, read_cache = read_forward(w_read, memory)

        cache = StepCache(
            controller_cache,
            heads_cache,
            write_address_cache,
            write_cache,
            read_address_cache,
            read_cache,
        )
        return NTMState(h, c, reads, w_read, w_write, memory), cache

    def forward(
        self,
        x,
        keep_cache: bool = True,
        intervene: Callable[[int, HeadParams], HeadParams] | None = None,
    ) -> tuple[Any, ForwardCache | None]:
        """Logits for a whole sequence: x [T, B, input_size] -> logits [T, B, output_size].

        With ``keep_cache=False`` nothing is kept for the backward pass (the cache returned is
        None), so evaluating long sequences costs the memory of one step.

        ``intervene(t, heads) -> heads``, if given, is called at every step t with the head
        parameters the controller produced (a ``HeadParams``: ``heads.write`` and
        ``heads.read`` are ``Addressing(key, beta, gate, shift, gamma)``, shapes [B, H, M],
        [B, H, 1], [B, H, 1], [B, H, 2S+1], [B, H, 1]; ``heads.erase``, ``heads.add``
        [B, W, M]), before any addressing; the step goes on with the ``HeadParams`` it returns.
        It is a causal test of the mechanism: clamp a parameter at chosen steps and watch the
        output change. For example, no interpolation with the content weighting at steps 3-5::

            def no_content(t, heads):
                if t not in (3, 4, 5):
                    return heads
                gate = heads.write.gate * 0.0  # g = 0: w_g = w_{t-1}
                return heads._replace(write=heads.write._replace(gate=gate))

            logits, cache = model.forward(x, intervene=no_content)

        Return new arrays (``_replace``, ``xp.full_like``); do not write into the ones given.
        The trace (``cache.trace``) shows the replaced values. ``backward`` refuses a cache
        from an intervened forward: its gradients would not be those of any model.
        """
        x = self._check_sequence(x)
        if intervene is not None and not callable(intervene):
            raise ValueError(f"intervene must be a function (t, heads) -> heads, got {intervene!r}")
        xp, p, c = self.xp, self.params, self.config
        T, B, _ = x.shape
        state, init_cache = self._initial_state(B)
        D = p["controller.W"].shape[0]
        RM = c.read_heads * c.memory_dim
        controller_inputs = xp.empty((T, B, D), dtype=x.dtype) if keep_cache else None
        output_inputs = xp.empty((T, B, c.controller_size + RM), dtype=x.dtype)
        steps, memory_norm = [], None
        for t in range(T):
            buffer = controller_inputs[t] if keep_cache else None
            hook = _step_hook(intervene, t)
            state, step_cache = self._step_forward(x[t], state, buffer, memory_norm, hook)
            memory_norm = step_cache.read_address.content.memory_norm  # |M_t|, reused at t+1
            output_inputs[t, :, : c.controller_size] = state.h
            output_inputs[t, :, c.controller_size :] = state.reads.reshape(B, RM)
            if keep_cache:
                steps.append(step_cache)
        # 6. output: no recurrence, so one product over the whole sequence
        logits = output_inputs @ p["output.W"] + p["output.b"]
        if not keep_cache:
            return logits, None
        hidden = output_inputs[..., : c.controller_size]
        cache = ForwardCache(steps, init_cache, controller_inputs, hidden, output_inputs)
        cache.intervened = intervene is not None
        return logits, cache

    def step(self, x_t, state: NTMState | None = None) -> tuple[Any, NTMState]:
        """One step, as the reference's single-step model: x_t [B, input_size] -> y_t [B, O].

        ``state=None`` starts from ``initial_state``. Returns the logits and the new state.
        """
        x_t = self._as_model_array(x_t, "x_t", ("B", self.config.input_size))
        B = x_t.shape[0]
        if B == 0:
            raise ValueError(f"x_t must hold at least one sequence (B >= 1), got shape {x_t.shape}")
        if state is None:
            state = self.initial_state(B)
        elif state.memory.shape[0] != B:
            raise ValueError(
                f"state is for batch size {state.memory.shape[0]}, but x_t has {B} "
                f"rows; start from model.initial_state({B})"
            )
        state, _ = self._step_forward(x_t, state)
        output_input = self.xp.concatenate([state.h, state.reads.reshape(B, -1)], axis=1)
        return output_input @ self.params["output.W"] + self.params["output.b"], state

    # --- backward --------------------------------------------------------------------------

    def backward(self, dlogits, cache: ForwardCache) -> FlatArrays:
        """Backpropagation through time: dL/dlogits [T, B, O] -> dL/dparams (same keys).

        A loop over the steps in reverse, one ``_step_backward`` each, carrying the gradients
        of the recurrent state (``BackwardCarry``) from step t+1 to step t. The weights shared
        over time (controller, heads, output) get their gradient after the loop, as one product
        over all steps, from the per-step gradients of their outputs that the loop keeps.
        ``reference.backward`` is the same computation in plain form.
        """
        if cache is None:
            raise ValueError("cache is None: run forward(x, keep_cache=True) before backward")
        if cache.intervened:
            raise ValueError(
                "cache is from forward(x, intervene=...): backward needs a plain forward"
            )
        xp, p, c = self.xp, self.params, self.config
        T, B = cache.output_inputs.shape[:2]
        dlogits = self._as_model_array(dlogits, "dlogits", (T, B, c.outputs))
        grads = self.new_grads()  # views into one flat array, filled in below

        # 6. output: y = [h, r] W_y + b_y, for all steps at once
        grads["output.W"], grads["output.b"] = linear_param_grads(dlogits, cache.output_inputs)
        doutput_inputs = linear_input_grad(dlogits, p["output.W"])  # [T, B, C + R*M]

        carry = self._last_carry(B, dlogits.dtype)  # nothing reaches step T-1 from the future
        dz_all = xp.empty((T, B, p["controller.W"].shape[1]), dtype=dlogits.dtype)
        draw_all = xp.empty((T, B, self.layout.size), dtype=dlogits.dtype)
        for t in reversed(range(T)):
            carry, draw_all[t], dz_all[t] = self._step_backward(
                doutput_inputs[t], carry, cache.steps[t]
            )

        grads["heads.W"], grads["heads.b"] = linear_param_grads(draw_all, cache.hidden)
        grads["controller.W"], grads["controller.b"] = linear_param_grads(
            dz_all, cache.controller_inputs
        )
        # the initial state: r_0 = tanh(init.read), w_0 = softmax(init.weights), M_0
        reads0, weights0 = cache.init
        grads["init.read"] = tanh_backward(carry.reads.sum(axis=0), OutputCache(reads0))
        dweights0 = xp.concatenate([carry.w_write, carry.w_read], axis=1).sum(axis=0)  # [H, N]
        grads["init.weights"] = softmax_backward(dweights0, SoftmaxCache(weights0, -1))
        if "init.memory" in p:
            memory0 = cache.steps[0].write.memory_prev
            grads["init.memory"] = carry.memory_grad(memory0).sum(axis=0)
        return grads

    def _last_carry(self, batch_size: int, dtype) -> BackwardCarry:
        """The carry into the last step: zeros (and no memory gradient yet)."""
        xp, c = self.xp, self.config
        B, C, N = batch_size, c.controller_size, c.memory_size
        return BackwardCarry(
            h=xp.zeros((B, C), dtype=dtype),
            c=self.controller.initial_cell(B, C, xp, dtype),
            reads=xp.zeros((B, c.read_heads, c.memory_dim), dtype=dtype),
            w_read=xp.zeros((B, c.read_heads, N), dtype=dtype),
            w_write=xp.zeros((B, c.write_heads, N), dtype=dtype),
            memory=None,
            memory_factored=(),
        )

    def _step_backward(
        self, doutput_input, carry: BackwardCarry, step: StepCache
    ) -> tuple[BackwardCarry, Any, Any]:
        """One step backward, the mirror of ``_step_forward``: its stages in reverse order.

        ``doutput_input`` [B, C + R*M] is dL/d[h_t, r_t] through the output y_t; ``carry`` what
        step t+1 sends back. Returns the carry for step t-1, dL/draw [B, P] (the heads' affine
        map) and dL/dz [B, K] (the controller's), whose weight gradients ``backward`` takes
        after the loop.
        """
        p, c, controller = self.params, self.config, self.controller
        B, C, R, I = doutput_input.shape[0], c.controller_size, c.read_heads, c.input_size
        # h_t and r_t feed the output and step t+1
        dh = carry.h + doutput_input[:, :C]
        dreads = carry.reads + doutput_input[:, C:].reshape(B, R, -1)

        # 5. r_t = w M_t, after w = address(M_t, w_read_{t-1}); w is also step t+1's w_prev
        dw, dmemory_read = read_backward_factored(dreads, step.read)
        dread = address_backward_factored(dw + carry.w_read, step.read_address)
        # dL/dM_t: the read and its addressing (factored here) and step t+1 (in the carry)
        dmemory = carry.memory_grad(step.read.memory, dmemory_read, dread.memory)

        # 4. M_t = write(M_{t-1}, w, e, a), after w = address(M_{t-1}, w_write_{t-1})
        dmemory_prev, dw, derase, dadd = write_backward(dmemory, step.write)
        dwrite = address_backward_factored(dw + carry.w_write, step.write_address)

        # 2. heads: raw = h W_h + b_h
        draw = heads_backward(dwrite, derase, dadd, dread, step.heads)
        dh = dh + linear_input_grad(draw, p["heads.W"])

        # 1. h_t, c_t = controller(z, c_{t-1});  z = [x_t, r_{t-1}(, h_{t-1})] W_c + b_c
        dz, dc_prev = controller.backward(dh, carry.c, step.controller)
        dcontroller_input = linear_input_grad(dz, p["controller.W"])
        RM = R * c.memory_dim
        # h_{t-1} reaches step t only through a recurrent controller's input
        dh_prev = dcontroller_input[:, I + RM :] if controller.recurrent else self.xp.zeros_like(dh)
        dreads_prev = dcontroller_input[:, I : I + RM].reshape(B, R, -1)
        # M_{t-1}'s gradient through the write (dense) and the write addressing (factored);
        # the fields by position: binding keywords shows in a step at batch 1
        carry_prev = BackwardCarry(
            dh_prev,
            dc_prev,
            dreads_prev,
            dread.w_prev,
            dwrite.w_prev,
            dmemory_prev,
            (dwrite.memory,),
        )
        return carry_prev, draw, dz


__all__ = [
    "CONTROLLERS",
    "DTYPES",
    "MEMORY_INITS",
    "NTM",
    "Addressing",
    "ForwardCache",
    "HeadParams",
    "LSTMCellCache",
    "NTMConfig",
    "NTMState",
    "Trace",
]
