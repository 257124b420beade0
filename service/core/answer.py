"""How many numbers a /train answer carries, known before the run (the budget bounds them).

A /train answer (:class:`~service.schemas.train.TrainResponse`) has arrays of three sizes:

* **per weight** (m numbers, the flat weight vector's layout): the final ``weights``,
  ``divergence.log_rate``, ``extrapolation.direction`` and each of its predicted weights,
  and, for a net, the arrays of ``layers`` (each layer's matrix and biases, its final t·Δw
  and its log_rate: 3m together); each recorded time adds two more (``history.weights`` and
  ``history.t_delta``) besides its t and E;
* **per input weight** (m_in, the weights of the inputs as a perceptron): the theory's
  separating, half-space and hard-margin weights and its predicted log_rate;
* **per example** (n): the theory's multipliers (a certificate, or the hard margin's α).
  These grow with the request's own size (n examples cost the body at least n numbers), so
  they are not counted here.

With ``record.weights = "norms"`` (:class:`~service.vocabulary.RecordWeights`) every
per-weight array but the final ``weights`` is given as the Euclidean norm of each layer's
part, so it has L numbers (the layers; the perceptron is one), and each of the four arrays of
a layer in ``layers`` has one. :meth:`AnswerShape.numbers` counts the arrays so, as an upper
bound (``log_rate`` and ``extrapolation`` are counted whether or not the verdict gives them);
the answer's scalars (a few hundred) are not counted.

The run itself keeps every weight at every recorded time whatever ``record.weights`` (the
verdict reads them all): :attr:`AnswerShape.recorded` is that trajectory's size.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.vocabulary import RecordWeights

THEORY_ARRAYS = 4
"""The theory's arrays of m_in numbers: separating, half-space and hard-margin weights, and
the predicted log_rate (the perceptron's; a net's theory has the first three)."""
LAYER_ARRAYS_ALL = 3
"""The numbers of ``layers`` per weight with every weight: the matrix and biases (one per
weight), the final t·Δw, the log_rate."""
LAYER_ARRAYS_NORMS = 4
"""The numbers of one layer of ``layers`` with norms: its matrix, biases, t·Δw, log_rate."""


@dataclass(frozen=True, slots=True)
class AnswerShape:
    """The sizes that fix how many numbers a /train answer carries.

    ``weights`` is m; ``layers`` is L, the weight layers (1 for the perceptron); ``net`` says
    whether the answer has ``layers`` (hidden layers); ``rows`` is the most times the history
    can hold (t = 0 included); ``times`` the log rule's predictions (len(extrapolate_to), 2
    by default); ``inputs`` is m_in.
    """

    weights: int
    layers: int
    net: bool
    rows: int
    times: int
    inputs: int
    annealing: bool = False
    """An anneal run's history also has the temperature at each time."""

    def width(self, detail: RecordWeights) -> int:
        """The length of a per-weight array in the answer: m, or L with norms."""
        return self.weights if detail is RecordWeights.ALL else self.layers

    def fixed(self, detail: RecordWeights) -> int:
        """The numbers that do not grow with the recorded times: the final weights (always
        every one), log_rate, the extrapolation, ``layers`` and the theory's weights."""
        width = self.width(detail)
        extrapolation = (self.times + 1) * width + 2 * self.times  # direction, weights; t, E
        layers = 0
        if self.net:
            layers = (
                LAYER_ARRAYS_ALL * self.weights
                if detail is RecordWeights.ALL
                else LAYER_ARRAYS_NORMS * self.layers
            )
        return self.weights + width + extrapolation + layers + THEORY_ARRAYS * self.inputs

    def per_row(self, detail: RecordWeights) -> int:
        """The numbers each recorded time adds: t, E, the weights and t·Δw (and T_t)."""
        return (3 if self.annealing else 2) + 2 * self.width(detail)

    def numbers(self, detail: RecordWeights) -> int:
        """The numbers of the answer's arrays (per weight and per input weight; see the
        module docstring), an upper bound."""
        return self.fixed(detail) + self.rows * self.per_row(detail)

    @property
    def recorded(self) -> int:
        """The trajectory the run keeps in memory: recorded times × weights (each of x_t and
        t·Δx_t has that many float64)."""
        return self.rows * self.weights
