"""How the weights move: gradient descent, online backprop and the gradient flow.

Rule: never judges (imports nothing from :mod:`service.core.analysis`); results are
:class:`~service.core.engine.run.RunResult` with a recorded
:class:`~service.core.engine.recorder.Trajectory`.

* :mod:`~service.core.engine.run` — the stop rules and their precedence, the result, the chunk
  driver;
* :mod:`~service.core.engine.recorder` — the log-spaced schedule and the buffers it fills;
* :mod:`~service.core.engine.kernel` — the one compiled kernel (perceptron and nets) and its
  compile-and-cache helper; the models' compiled numerics are
  :mod:`~service.core.engine.perceptron_kernel` and :mod:`~service.core.engine.network_kernel`;
* :mod:`~service.core.engine.descent` — ``gd`` and ``online`` for either model;
* :mod:`~service.core.engine.flow` — the gradient flow (LSODA);
* :mod:`~service.core.engine.warmup` — compile before the first request;
* :mod:`~service.core.engine.workspace` — per-run arrays that share no cache line.
"""

from service.core.engine.descent import CompiledModel, run_descent
from service.core.engine.flow import run_flow
from service.core.engine.recorder import Trajectory, record_schedule
from service.core.engine.run import PRECEDENCE, STOP_EXPLANATIONS, RunResult, StopRules
from service.core.engine.warmup import warm_up

__all__ = [
    "PRECEDENCE",
    "STOP_EXPLANATIONS",
    "CompiledModel",
    "RunResult",
    "StopRules",
    "Trajectory",
    "record_schedule",
    "run_descent",
    "run_flow",
    "warm_up",
]
