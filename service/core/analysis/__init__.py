"""What a run or a dataset means: verdicts, the log rule, theory, separability, landscapes.

Rule: reads results and data; never runs a kernel (imports nothing that moves weights).

* :mod:`~service.core.analysis.divergence` — the verdict on the weights' fate from a
  trajectory;
* :mod:`~service.core.analysis.layers` — the same for each layer of a net, and its figures;
* :mod:`~service.core.analysis.log_rule` — the paper's log rule, extrapolated;
* :mod:`~service.core.analysis.theory` — Sontag's Lemma and the implicit-bias prediction;
* :mod:`~service.core.analysis.separability` — strict and weak separability, certificates;
* :mod:`~service.core.analysis.landscape` — every critical point of a one-weight E.
"""

from service.core.analysis.divergence import DivergenceReport, judge_divergence
from service.core.analysis.landscape import Landscape, find_critical_points
from service.core.analysis.layers import LayerSummary, judge_layers, summarise_layers
from service.core.analysis.log_rule import LogRulePrediction, extrapolate
from service.core.analysis.separability import (
    Separability,
    Unrepresentable,
    analyse_separability,
    test_separability,
)
from service.core.analysis.theory import TheoryReport, network_theory, predict_theory

__all__ = [
    "DivergenceReport",
    "Landscape",
    "LayerSummary",
    "LogRulePrediction",
    "Separability",
    "TheoryReport",
    "Unrepresentable",
    "analyse_separability",
    "extrapolate",
    "find_critical_points",
    "judge_divergence",
    "judge_layers",
    "network_theory",
    "predict_theory",
    "summarise_layers",
    "test_separability",
]
