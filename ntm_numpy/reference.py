"""The NTM's backpropagation through time in plain form: what an auditor reads first.

``NTM.backward`` is the fast version of what is written here. This module computes the same
loss and the same gradients the plain way, so that a reader can check each line against the
math, and a test (``tests/test_reference.py``) checks that both agree to rounding:

- its own forward, one step at a time, every affine map a ``linear_forward`` with its cache;
- a step backward that undoes the step forward's stages in reverse order, each gradient line
  under a comment that recalls the forward line it inverts;
- every gradient dense: dL/dM_t is a plain [B, N, M] array, summed where M_t is used (the
  next step, the read, the read addressing); the addressing's four stages are undone one by
  one with the ops' backwards (``content_backward`` gives a dense dM);
- the weights shared over time get their gradient one step at a time
  (``linear_backward`` at every step, added into ``grads``).

What the model does instead, and why it may: it reuses the row norms |M_t| from one step's
read addressing in the next step's write addressing; it keeps the memory's gradients in a
factored form (``ops.memory.MemoryGrad``) and makes them dense once per step; it computes the
weight gradients after the loop, as one product over all steps, from preallocated buffers.
Each is an identity of the sums written out here.

The gradients carried from step t+1 back to step t have the fields of the state itself
(``NTMState``): dL/dh_t, dL/dc_t, dL/dr_t, dL/dw_t (read and write heads) and dL/dM_t.

``adjoint_trace`` gives, for every quantity of ``NTM.forward``'s ``Trace``, its adjoint
dL/d(quantity) at every step: what a nudge of that quantity at step t does to the loss.

Shapes: B batch, T time, N memory rows, M row width, C controller size, R read heads, W write
heads, H = W + R, P the raw head vector's width, I the input width, O the output width.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .heads import Addressing, HeadsCache, heads_backward, heads_forward
from .model import NTM, NTMState, Trace
from .ops.activations import (
    OutputCache,
    SoftmaxCache,
    softmax_backward,
    softmax_forward,
    tanh_backward,
    tanh_forward,
)
from .ops.addressing import (
    AddressCache,
    AddressGrads,
    content_backward,
    content_forward,
    interpolate_backward,
    interpolate_forward,
    sharpen_backward,
    sharpen_forward,
    shift_backward,
    shift_forward,
)
from .ops.linear import LinearCache, linear_backward, linear_forward
from .ops.loss import sigmoid_cross_entropy_backward, sigmoid_cross_entropy_forward
from .ops.memory import ReadCache, WriteCache, read_backward, read_forward, write_backward
from .ops.memory import write_forward as memory_write_forward

ADDRESSING = ("key", "beta", "gate", "shift", "gamma")  # a group's parameters, as in the Trace
# nudge(t, name, value) -> value: called on every Trace quantity as the forward computes it
Nudge = Callable[[int, str, Any], Any]


class StepCache(NamedTuple):
    """What one step's backward needs, stage by stage."""

    controller_linear: LinearCache  # z = [x_t, r_{t-1}(, h_{t-1})] W_c + b_c
    controller: Any  # the controller's cache (the LSTM cell's, or the tanh's OutputCache)
    heads_linear: LinearCache  # raw = h_t W_h + b_h
    heads: HeadsCache  # k, beta, g, s, gamma, e, a from raw
    write_address: AddressCache  # the four stages of the write heads
    write: WriteCache  # M_t from M_{t-1}
    read_address: AddressCache  # the four stages of the read heads
    read: ReadCache  # r_t from M_t
    output_linear: LinearCache  # y_t = [h_t, r_t] W_y + b_y


class Tape(NamedTuple):
    """The whole forward: the initial state's caches, then one ``StepCache`` per step."""

    init_reads: OutputCache  # r_0 = tanh(init.read)       [R, M]
    init_weights: SoftmaxCache  # w_0 = softmax(init.weights)  [H, N]
    steps: list


# --- forward --------------------------------------------------------------------------------


def initial_state(model: NTM, batch_size: int) -> tuple[NTMState, OutputCache, SoftmaxCache]:
    """r_0 = tanh(init.read), w_0 = softmax(init.weights), M_0, and zero h_0 (and c_0, for a
    controller with a cell)."""
    xp, p, c = model.xp, model.params, model.config
    B, W = batch_size, c.write_heads
    reads0, reads0_cache = tanh_forward(p["init.read"])  # [R, M]
    weights0, weights0_cache = softmax_forward(p["init.weights"])  # [H, N], write heads first
    memory0 = p["init.memory"] if "init.memory" in p else model.fixed_memory  # [N, M]
    state = NTMState(
        h=xp.zeros((B, c.controller_size), dtype=c.dtype),  # [B, C]
        c=model.controller.initial_cell(B, c.controller_size, xp, c.dtype),  # [B, C] or None
        reads=xp.broadcast_to(reads0, (B, *reads0.shape)),  # [B, R, M]
        w_read=xp.broadcast_to(weights0[W:], (B, *weights0[W:].shape)),  # [B, R, N]
        w_write=xp.broadcast_to(weights0[:W], (B, *weights0[:W].shape)),  # [B, W, N]
        memory=xp.broadcast_to(memory0, (B, *memory0.shape)),  # [B, N, M]
    )
    return state, reads0_cache, weights0_cache


def address_forward(at, group: str, params: Addressing, w_prev, memory):
    """One group of heads' weighting [B, H, N], stage by stage (eqs. 5-9).

    ``at(name, value)`` is the step's nudge; ``group`` is "write" or "read".
    """
    key, beta, gate, shift, gamma = (
        at(f"{group}_{name}", getattr(params, name)) for name in ADDRESSING
    )
    w_content, content = content_forward(key, memory, beta)  # softmax(beta K(k, M_i))  (5, 6)
    w_content = at(f"{group}_content", w_content)
    w_gated, interpolate = interpolate_forward(w_content, w_prev, gate)  # (7)
    w_gated = at(f"{group}_gated", w_gated)
    w_shifted, shifted = shift_forward(w_gated, shift)  # circular convolution (8)
    w_shifted = at(f"{group}_shifted", w_shifted)
    w, sharpen = sharpen_forward(w_shifted, gamma)  # w~^gamma / sum w~^gamma (9)
    w = at(f"{group}_weights", w)
    return w, AddressCache(content, interpolate, shifted, sharpen)


def step_forward(model: NTM, t: int, x_t, state: NTMState, nudge: Nudge | None = None):
    """One step: (y_t [B, O], the new state, its ``StepCache``). ``nudge`` as in ``forward``."""
    xp, p, controller = model.xp, model.params, model.controller
    B = x_t.shape[0]

    def at(name: str, value):
        return value if nudge is None else nudge(t, name, value)

    # 1. controller: z = [x_t, r_{t-1}(, h_{t-1})] W_c + b_c, then the LSTM cell (or tanh)
    pieces = [x_t, state.reads.reshape(B, -1)] + ([state.h] if controller.recurrent else [])
    z, controller_linear = linear_forward(
        xp.concatenate(pieces, axis=1), p["controller.W"], p["controller.b"]
    )  # [B, K]: K = 4C (LSTM) or C (tanh)
    (h, c), controller_cache = controller.forward(z, state.c)  # h [B, C], c [B, C] or None
    # 2. heads: raw = h_t W_h + b_h [B, P], then each parameter's activation
    raw, heads_linear = linear_forward(h, p["heads.W"], p["heads.b"])
    heads, heads_cache = heads_forward(raw, model.layout)
    # 3. write heads address M_{t-1}
    w_write, write_address = address_forward(at, "write", heads.write, state.w_write, state.memory)
    erase, add = at("erase", heads.erase), at("add", heads.add)  # [B, W, M]
    # 4. M_t = M_{t-1} * prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T   (3, 4)
    memory, write = memory_write_forward(state.memory, w_write, erase, add)
    memory = at("memory", memory)  # [B, N, M]
    # 5. read heads address M_t, then r_t = w M_t   (2)
    w_read, read_address = address_forward(at, "read", heads.read, state.w_read, memory)
    reads, read = read_forward(w_read, memory)
    reads = at("reads", reads)  # [B, R, M]
    # 6. output: y_t = [h_t, r_t] W_y + b_y
    output_input = xp.concatenate([h, reads.reshape(B, -1)], axis=1)  # [B, C + R*M]
    y, output_linear = linear_forward(output_input, p["output.W"], p["output.b"])
    cache = StepCache(
        controller_linear,
        controller_cache,
        heads_linear,
        heads_cache,
        write_address,
        write,
        read_address,
        read,
        output_linear,
    )
    return y, NTMState(h, c, reads, w_read, w_write, memory), cache


def forward(model: NTM, x, nudge: Nudge | None = None) -> tuple[Any, Tape]:
    """Logits [T, B, O] for x [T, B, I], one step at a time, and the ``Tape`` for ``backward``.

    ``nudge(t, name, value) -> value``, if given, is called on every quantity that
    ``NTM.forward``'s ``Trace`` records (``name`` is the Trace field: "write_key",
    "write_content", ..., "memory", "reads", "erase", "add", "read_gamma"), at step t, as soon
    as it is computed, and what it returns is used from there on. ``value`` has the shape of
    ``trace.<name>[t]``, except that beta, g and gamma keep a trailing axis of 1 ([B, H, 1]).
    Adding eps * delta to one quantity changes the loss by eps * <adjoint, delta> to first
    order (``adjoint_trace``); the tests check that with finite differences. The caches record
    the values before a nudge, so ``backward`` is for forwards without one.
    """
    x = model._check_sequence(x)
    state, reads0, weights0 = initial_state(model, x.shape[1])
    logits, steps = [], []
    for t in range(x.shape[0]):
        y, state, cache = step_forward(model, t, x[t], state, nudge)
        logits.append(y)
        steps.append(cache)
    return model.xp.stack(logits), Tape(reads0, weights0, steps)


# --- backward -------------------------------------------------------------------------------


def address_backward(dw, cache: AddressCache) -> tuple[AddressGrads, tuple]:
    """The four stages undone in reverse order, from dL/dw [B, H, N] (w's total gradient).

    Returns the gradients of the inputs (``AddressGrads``, the memory's dense [B, N, M]) and
    the adjoints of the stages in between: (dL/dw_c, dL/dw_g, dL/dw~), each [B, H, N].
    """
    # w = sharpen(w~, gamma) = w~^gamma / sum_k w~_k^gamma   (9)
    dw_shifted, dgamma = sharpen_backward(dw, cache.sharpen)
    # w~ = shift(w_g, s): w~_i = sum_j w_g[(i - j) mod N] s_j   (8)
    dw_gated, dshift = shift_backward(dw_shifted, cache.shift)
    # w_g = g w_c + (1 - g) w_prev   (7)
    dw_content, dw_prev, dgate = interpolate_backward(dw_gated, cache.interpolate)
    # w_c = softmax(beta K(k, M_i)),  K = k . M_i / (|k| |M_i| + eps)   (5, 6)
    dkey, dmemory, dbeta = content_backward(dw_content, cache.content)
    grads = AddressGrads(dkey, dbeta, dgate, dshift, dgamma, dw_prev, dmemory)
    return grads, (dw_content, dw_gated, dw_shifted)


def step_backward(model: NTM, dy, carry: NTMState, cache: StepCache):
    """One step undone: dL/dy_t [B, O] and the gradients ``carry`` of this step's outputs
    that come from step t+1 -> (the gradients of the previous state, this step's parameter
    gradients, this step's adjoints as a ``Trace`` of [B, ...] arrays)."""
    xp, c, controller = model.xp, model.config, model.controller
    B, C, R, M, I = dy.shape[0], c.controller_size, c.read_heads, c.memory_dim, c.input_size
    # 6. y_t = [h_t, r_t] W_y + b_y
    doutput_input, dW_y, db_y = linear_backward(dy, cache.output_linear)  # [B, C + R*M]
    # h_t and r_t feed the output and step t+1
    dh = carry.h + doutput_input[:, :C]  # [B, C]
    dreads = carry.reads + doutput_input[:, C:].reshape(B, R, M)  # [B, R, M]
    # 5. r_t = w_read M_t
    dw_read, dmemory_by_read = read_backward(dreads, cache.read)
    # 5. w_read = address(read heads, w_read_{t-1}, M_t); also step t+1's w_prev
    dw_read = dw_read + carry.w_read  # [B, R, N]
    dread, read_stages = address_backward(dw_read, cache.read_address)
    # M_t feeds step t+1 (carry.memory), the read and the read addressing
    dmemory = carry.memory + dmemory_by_read + dread.memory  # [B, N, M]
    # 4. M_t = M_{t-1} * prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T
    dmemory_prev, dw_write, derase, dadd = write_backward(dmemory, cache.write)
    # 3. w_write = address(write heads, w_write_{t-1}, M_{t-1}); also step t+1's w_prev
    dw_write = dw_write + carry.w_write  # [B, W, N]
    dwrite, write_stages = address_backward(dw_write, cache.write_address)
    # M_{t-1} feeds the write and the write addressing
    dmemory_prev = dmemory_prev + dwrite.memory  # [B, N, M]
    # 2. k, beta, g, s, gamma, e, a = activations(raw);  raw = h_t W_h + b_h
    draw = heads_backward(dwrite, derase, dadd, dread, cache.heads)  # [B, P]
    dh_by_heads, dW_h, db_h = linear_backward(draw, cache.heads_linear)
    dh = dh + dh_by_heads
    # 1. h_t, c_t = controller(z, c_{t-1});  z = [x_t, r_{t-1}(, h_{t-1})] W_c + b_c
    dz, dc_prev = controller.backward(dh, carry.c, cache.controller)  # [B, K], [B, C] or None
    dcontroller_input, dW_c, db_c = linear_backward(dz, cache.controller_linear)
    dreads_prev = dcontroller_input[:, I : I + R * M].reshape(B, R, M)
    # h_{t-1} reaches step t only through a recurrent controller's input
    dh_prev = dcontroller_input[:, I + R * M :] if controller.recurrent else xp.zeros_like(dh)
    carry_prev = NTMState(dh_prev, dc_prev, dreads_prev, dread.w_prev, dwrite.w_prev, dmemory_prev)
    step_grads = {
        "controller.W": dW_c,
        "controller.b": db_c,
        "heads.W": dW_h,
        "heads.b": db_h,
        "output.W": dW_y,
        "output.b": db_y,
    }
    adjoints = step_adjoints(dwrite, write_stages, dw_write, dread, read_stages, dw_read)
    adjoints = adjoints._replace(reads=dreads, erase=derase, add=dadd, memory=dmemory)
    return carry_prev, step_grads, adjoints


def step_adjoints(dwrite, write_stages, dw_write, dread, read_stages, dw_read) -> Trace:
    """One step's addressing adjoints as a ``Trace`` of [B, ...] arrays (reads, erase, add and
    memory left None)."""

    def group(grads: AddressGrads, stages: tuple, dw) -> dict:
        return dict(
            content=stages[0],
            gated=stages[1],
            shifted=stages[2],
            weights=dw,
            key=grads.key,
            beta=grads.beta[..., 0],
            gate=grads.gate[..., 0],
            shift=grads.shift,
            gamma=grads.gamma[..., 0],
        )

    fields = {f"write_{k}": v for k, v in group(dwrite, write_stages, dw_write).items()}
    fields |= {f"read_{k}": v for k, v in group(dread, read_stages, dw_read).items()}
    return Trace(reads=None, erase=None, add=None, memory=None, **fields)


def backward(model: NTM, dlogits, tape: Tape) -> tuple[dict[str, Any], list[Trace]]:
    """dL/dlogits [T, B, O] -> (dL/dparams with the keys of ``model.params``, every step's
    adjoints as a ``Trace`` of [B, ...] arrays, in time order)."""
    xp, p, c = model.xp, model.params, model.config
    B = dlogits.shape[1]
    zeros = lambda *shape: xp.zeros(shape, dtype=dlogits.dtype)  # noqa: E731
    # nothing reaches the last step from the future
    carry = NTMState(
        h=zeros(B, c.controller_size),
        c=model.controller.initial_cell(B, c.controller_size, xp, dlogits.dtype),
        reads=zeros(B, c.read_heads, c.memory_dim),
        w_read=zeros(B, c.read_heads, c.memory_size),
        w_write=zeros(B, c.write_heads, c.memory_size),
        memory=zeros(B, c.memory_size, c.memory_dim),
    )
    grads = {k: xp.zeros_like(v) for k, v in p.items()}
    adjoints = []
    for t in reversed(range(len(tape.steps))):
        carry, step_grads, step_adjoint = step_backward(model, dlogits[t], carry, tape.steps[t])
        for k, g in step_grads.items():  # a weight shared over time: the sum over steps
            grads[k] += g
        adjoints.append(step_adjoint)
    # the initial state, shared by the B sequences: r_0 = tanh(init.read)
    grads["init.read"] = tanh_backward(carry.reads.sum(axis=0), tape.init_reads)
    # w_0 = softmax(init.weights), write heads first
    dweights0 = xp.concatenate([carry.w_write, carry.w_read], axis=1).sum(axis=0)  # [H, N]
    grads["init.weights"] = softmax_backward(dweights0, tape.init_weights)
    if "init.memory" in p:  # M_0 = init.memory
        grads["init.memory"] = carry.memory.sum(axis=0)
    return grads, adjoints[::-1]


def loss_and_grads(model: NTM, x, y, mask=None) -> tuple[Any, dict[str, Any]]:
    """What ``model.loss_and_grads(x, y, mask)`` returns (the loss in bits per sequence and its
    gradients, same keys as ``model.params``), computed the plain way."""
    loss, grads, _ = _loss_grads_adjoints(model, x, y, mask)
    return loss, grads


def adjoint_trace(model: NTM, x, y, mask=None) -> Trace:
    """dL/d(quantity) for every quantity of ``cache.trace``, at every step: a ``Trace`` whose
    fields have the shapes of the forward's ([T, B, ...]), L the loss of
    ``model.loss_and_grads(x, y, mask)``.

    Each is the total derivative at that step: ``memory[t]`` is dL/dM_t through everything
    M_t feeds (its read, its read addressing, step t+1's write and write addressing);
    ``write_weights[t]`` counts w_t's use in step t's write and in step t+1's interpolation;
    ``write_content[t]`` is dL/dw_c at step t. A nudge of that quantity at step t alone
    (``forward``'s ``nudge``) changes the loss by <adjoint, nudge> to first order.
    """
    return _loss_grads_adjoints(model, x, y, mask)[2]


def _loss_grads_adjoints(model: NTM, x, y, mask) -> tuple[Any, dict[str, Any], Trace]:
    x = model._check_sequence(x)
    y, mask = model._check_targets(x, y, mask)
    logits, tape = forward(model, x)
    loss, loss_cache = sigmoid_cross_entropy_forward(logits, y, mask)
    grads, adjoints = backward(model, sigmoid_cross_entropy_backward(1.0, loss_cache), tape)
    stacked = Trace(*(model.xp.stack(field) for field in zip(*adjoints, strict=True)))
    return loss, {k: grads[k] for k in model.params}, stacked


__all__ = [
    "StepCache",
    "Tape",
    "address_backward",
    "adjoint_trace",
    "backward",
    "forward",
    "initial_state",
    "loss_and_grads",
    "step_backward",
    "step_forward",
]
