"""Multilayer nets: layout of the weights, initial weights, and the numpy reference backprop.

The net
-------
Inputs u ∈ R^{m_0} (the dataset's rows, *without* a bias column), hidden layers of widths
m_1, …, m_L (``hidden``), and one output unit. Layer ℓ = 1, …, L + 1 has a matrix W_ℓ of
shape m_ℓ × m_{ℓ−1} (m_{L+1} = 1) and, when ``bias`` is set, a bias vector c_ℓ of length
m_ℓ (every unit of every layer, the output included, has its own bias):

    h_0 = u,   a_ℓ = W_ℓ·h_{ℓ−1} + c_ℓ,   h_ℓ = θ(a_ℓ) (ℓ ≤ L),   out = θ(a_{L+1}).

The same activation θ is used in every layer. The error is the paper's (**) with the output
unit in place of the perceptron,

    E(x) = Σ_i (θ(a_{L+1}(u^i)) − y_i)² = Σ_i (1 − θ(z_i))²,   z_i = y_i·a_{L+1}(u^i),

(θ odd, y_i = ±1), so the output's stable complement 1 − θ(z_i) is used exactly as for the
perceptron. With no hidden layer this *is* the perceptron: x = (W_1, c_1) = (w, bias).

Layout of the flat weight vector x
----------------------------------
Layer by layer from the input side; within a layer the matrix W_ℓ row-major (x holds
W_ℓ[0, 0], W_ℓ[0, 1], …, W_ℓ[0, m_{ℓ−1} − 1], W_ℓ[1, 0], …: the incoming weights of unit 0,
then of unit 1, …), followed by c_ℓ when ``bias``. So a 2-2-1 net with biases has
x = (W_1[0,0], W_1[0,1], W_1[1,0], W_1[1,1], c_1[0], c_1[1], W_2[0,0], W_2[0,1], c_2[0]),
nine weights; the output layer's are the last m_L (+1) entries.

Initial weights
---------------
Given, or drawn i.i.d. uniform on [−0.5, 0.5]
(:data:`~service.core.model.problem.INITIAL_WEIGHT_RANGE`, the perceptron's rule) from
``np.random.default_rng([seed, 0])``.
With hidden layers x = 0 is a critical point (a saddle: every hidden unit computes 0 and
receives no gradient), so when neither weights nor a seed are given the weights are drawn
from :data:`DEFAULT_SEED`, which the result reports.

Backpropagation (the reference here; the compiled kernel,
:mod:`service.core.engine.network_kernel`, reproduces it): with
δ_{L+1} = ∂E_i/∂a_{L+1} = −2·y_i·(1 − θ(z_i))·θ'(z_i) and
δ_ℓ = θ'(a_ℓ) ⊙ W_{ℓ+1}ᵀ·δ_{ℓ+1}, ∂E_i/∂W_ℓ = δ_ℓ·h_{ℓ−1}ᵀ and ∂E_i/∂c_ℓ = δ_ℓ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.core.errors import InvalidProblem
from service.core.model.activations import Activation, Array
from service.core.model.problem import INITIAL_WEIGHT_RANGE, build_problem
from service.limits import MAX_HIDDEN_LAYERS

DEFAULT_SEED = 0
"""The seed of the initial weights of a hidden-layer net when neither weights nor a seed
are given (zero weights would be a saddle point)."""


@dataclass(frozen=True, slots=True)
class Layout:
    """The architecture and where each layer's weights sit in the flat vector.

    ``widths`` is (m_0, m_1, …, m_L, 1); layer ℓ (1-based in the docs, index ℓ − 1 here)
    has its matrix at ``x[starts[ℓ−1] : starts[ℓ−1] + m_ℓ·m_{ℓ−1}]`` and, with ``bias``,
    its biases right after.
    """

    widths: tuple[int, ...]
    bias: bool

    @property
    def layers(self) -> int:
        """Number of weight layers (hidden layers + 1)."""
        return len(self.widths) - 1

    def layer_size(self, index: int) -> int:
        """Number of weights of layer ``index`` (0-based), biases included."""
        rows, cols = self.widths[index + 1], self.widths[index]
        return rows * cols + (rows if self.bias else 0)

    @property
    def starts(self) -> tuple[int, ...]:
        """Offset of each layer's first weight, then the total (len = layers + 1)."""
        out = [0]
        for index in range(self.layers):
            out.append(out[-1] + self.layer_size(index))
        return tuple(out)

    @property
    def size(self) -> int:
        """Total number of weights."""
        return self.starts[-1]

    def unflatten(self, x: Array) -> list[tuple[Array, Array | None]]:
        """Per layer (W_ℓ, c_ℓ or None), views into x in the documented layout."""
        out: list[tuple[Array, Array | None]] = []
        for index, start in enumerate(self.starts[:-1]):
            rows, cols = self.widths[index + 1], self.widths[index]
            W = x[start : start + rows * cols].reshape(rows, cols)
            c = x[start + rows * cols : start + rows * cols + rows] if self.bias else None
            out.append((W, c))
        return out


@dataclass(frozen=True, slots=True)
class NetworkProblem:
    """A dataset for a multilayer net: inputs A (n×m_0, no bias column), targets y = ±1."""

    A: Array
    y: Array
    activation: Activation
    layout: Layout

    @property
    def n(self) -> int:
        """Number of examples."""
        return int(self.A.shape[0])

    @property
    def m(self) -> int:
        """Number of weights."""
        return self.layout.size


def build_network_problem(
    inputs: Sequence[Sequence[float]],
    targets: Sequence[float],
    activation: Activation,
    *,
    hidden: Sequence[int],
    bias: bool = False,
) -> NetworkProblem:
    """Validate a dataset (as :func:`service.core.model.problem.build_problem`) and the widths."""
    build_problem(inputs, targets, activation, bias=False)  # the dataset's own checks
    if len(hidden) > MAX_HIDDEN_LAYERS:
        raise InvalidProblem(
            "network.hidden", f"at most {MAX_HIDDEN_LAYERS} hidden layers; got {len(hidden)}"
        )
    for index, width in enumerate(hidden):
        if width < 1:
            raise InvalidProblem(
                f"network.hidden.{index}", f"a layer width must be at least 1; got {width}"
            )
    A = np.ascontiguousarray(np.asarray(inputs, dtype=np.float64))
    y = np.asarray(targets, dtype=np.float64)
    A.setflags(write=False)
    y.setflags(write=False)
    layout = Layout(widths=(A.shape[1], *map(int, hidden), 1), bias=bias)
    return NetworkProblem(A=A, y=y, activation=activation, layout=layout)


def initial_network_weights(
    problem: NetworkProblem, given: Sequence[float] | None, seed: int | None
) -> Array:
    """``given`` (checked), else uniform on ±INITIAL_WEIGHT_RANGE from ``seed`` (default
    :data:`DEFAULT_SEED`)."""
    m = problem.m
    if given is not None:
        x = np.asarray(given, dtype=np.float64)
        if x.shape != (m,):
            raise InvalidProblem(
                "initial_weights",
                f"needs {m} weights for widths {list(problem.layout.widths)}"
                f"{' with biases' if problem.layout.bias else ''} (layer by layer, each "
                f"matrix row-major then its biases); got {len(given)}",
            )
        if not np.all(np.isfinite(x)):
            raise InvalidProblem("initial_weights", "every weight must be a finite number")
        if not math.isfinite(network_error_and_gradient(problem, x)[0]):
            raise InvalidProblem("initial_weights", "the net's output overflows at these weights")
        return x
    rng = np.random.default_rng([DEFAULT_SEED if seed is None else seed, 0])
    return rng.uniform(-INITIAL_WEIGHT_RANGE, INITIAL_WEIGHT_RANGE, size=m)


def forward(problem: NetworkProblem, x: Array) -> tuple[list[Array], list[Array]]:
    """Pre-activations a_ℓ and outputs h_ℓ (h_0 = A) for all examples, rows = examples."""
    theta = problem.activation.theta
    hs: list[Array] = [problem.A]
    pre: list[Array] = []
    layers = problem.layout.unflatten(x)
    for index, (W, c) in enumerate(layers):
        a = hs[-1] @ W.T
        if c is not None:
            a = a + c
        pre.append(a)
        if index < len(layers) - 1:
            hs.append(theta(a))
    return pre, hs


def margins(problem: NetworkProblem, x: Array) -> Array:
    """z_i = y_i·a_{L+1}(u^i): example i is classified correctly when z_i > 0."""
    with np.errstate(over="ignore", invalid="ignore"):
        pre, _ = forward(problem, x)
        return np.asarray(problem.y * pre[-1][:, 0], dtype=np.float64)


def network_error_and_gradient(problem: NetworkProblem, x: Array) -> tuple[float, Array]:
    """E(x) and ∇E(x) by backpropagation in numpy (the reference; see the module docstring).

    E is NaN when a margin is not finite (an overflow), as for the perceptron.
    """
    act = problem.activation
    with np.errstate(over="ignore", invalid="ignore"):
        pre, hs = forward(problem, x)
        z = problem.y * pre[-1][:, 0]
        c = act.complement(z)
        delta = (-2.0 * problem.y * c * act.derivative(z))[:, None]  # ∂E_i/∂a_{L+1}
        grads: list[Array] = []
        layers = problem.layout.unflatten(x)
        for index in range(len(layers) - 1, -1, -1):
            W, bias = layers[index]
            part = [(delta.T @ hs[index]).ravel()]
            if bias is not None:
                part.append(delta.sum(axis=0))
            grads.append(np.concatenate(part))
            if index > 0:
                delta = (delta @ W) * act.derivative(pre[index - 1])
        g = np.concatenate(grads[::-1])
        if not np.isfinite(z).all():
            return math.nan, g
        return float(np.dot(c, c)), g
