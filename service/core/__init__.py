"""Pure numerics of learndyn: numpy, scipy and a compiled kernel; no web framework, no pydantic.

Conventions shared by every module (DESIGN §1): data are n examples, rows ``u^i`` of the
n×m matrix A, targets ``y_i ∈ {+1, −1}``; ``B = diag(y)·A`` (with a column of ones appended
last when a bias is asked for); the error is ``E(x) = Σ_i (1 − θ(B_i·x))²`` with no factor
1/2, the paper's (**); gradient descent is ``x_{k+1} = x_k − η·∇E(x_k)`` and t counts steps.

Three subpackages and the composers, each with one rule (a test reads the imports and holds
every module to it):

* :mod:`service.core.model` — what E is: activations, the perceptron problem, nets. Imports
  nothing from ``engine`` or ``analysis``.
* :mod:`service.core.engine` — how the weights move: stop rules, the compiled kernel and its
  chunk driver, descent, flow. Never judges: imports nothing from ``analysis``.
* :mod:`service.core.analysis` — what a run or a dataset means: the divergence verdict,
  per-layer verdicts, the log rule, theory, separability, landscapes. Reads results; never
  runs a kernel.
* :mod:`service.core.training` composes a whole /train answer in one call
  (:func:`~service.core.training.train`); :mod:`service.core.queries` does the same for
  /minima and /separability. :mod:`service.core.budget` checks what a request may cost
  (:mod:`service.core.answer` counts a /train answer's numbers) and starts its wall-time
  deadline (:mod:`service.core.deadline`), :mod:`service.core.errors` is the core's
  exceptions.

This package's ``__init__`` imports nothing, so that importing one module (say the errors)
does not load the kernel.
"""
