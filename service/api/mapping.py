"""The one place where core results become schemas (requests become core specs in
:mod:`service.specs`, which the study workers share).

Routes validate (pydantic), make one core call, and map with the functions here. Arrays
become lists; a non-finite float never reaches a response (``None`` where the schema allows
it). Nothing here computes: every value is read from the core's result, except that with
``record.weights = "norms"`` each per-weight array but the final weights is given as the
norms of its layers' parts (:func:`service.core.model.norms.layer_norms`; the convention is
:class:`~service.vocabulary.RecordWeights`'s).
"""

from __future__ import annotations

import math

import numpy as np

from service.core.analysis.census import Census, Minimum
from service.core.analysis.divergence import DivergenceReport
from service.core.analysis.extrapolation import (
    GOOD_WEIGHT_ERROR,
    Comparison,
    GroupAssessment,
    LogRuleAssessment,
    PointCheck,
)
from service.core.analysis.landscape import InfinityEnd, Landscape
from service.core.analysis.log_rule import LogRulePrediction
from service.core.analysis.relaxation import Relaxation
from service.core.analysis.separability import Separability
from service.core.analysis.theory import TheoryReport
from service.core.engine.run import STOP_EXPLANATIONS
from service.core.model.activations import Array
from service.core.model.norms import layer_norms, vector_norm
from service.core.training import LayerReport, TrainingReport
from service.schemas.minima import (
    CriticalPointOut,
    CurveOut,
    GlobalMinimum,
    Infinity,
    InfinityEndOut,
    LocalMinimumOut,
    MinimaResponse,
    SubspaceOut,
)
from service.schemas.separability import Certificate, MaxMargin, SeparabilityResponse, Theory
from service.schemas.studies import (
    CensusMinimum,
    CensusSummary,
    ExtrapolationComparison,
    ExtrapolationFactor,
    ExtrapolationGroup,
    ExtrapolationSummary,
    MethodOutcome,
    Progress,
    RelaxationSummary,
    RowExtrapolation,
    Study,
    StudyRow,
    SweepSummary,
)
from service.schemas.train import (
    Divergence,
    Extrapolation,
    History,
    Layer,
    RunWarning,
    Stall,
    TrainResponse,
    Undetermined,
)
from service.studies.extrapolation import check_of
from service.studies.jobs import StudyView
from service.studies.store import Row
from service.vocabulary import (
    ActivationName,
    EndpointLocation,
    RecordWeights,
    StopReason,
    StudyKind,
    StudyStatus,
    Verdict,
)

# --------------------------------------------------------------------------- /train


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _shown(values: Array, report: TrainingReport) -> Array:
    """A per-weight array (its last axis) as the answer gives it: every weight, or with
    ``record.weights = "norms"`` the norm of each layer's part."""
    if report.record_weights is RecordWeights.NORMS:
        return layer_norms(values, report.starts)
    return values


def _one_norm(values: Array | None, norms: bool) -> Array | None:
    """A layer's array as the answer gives it: as is, or ``[‖values‖₂]`` with norms."""
    if values is None or not norms:
        return values
    return np.array([vector_norm(np.ravel(values))])


def train_response(report: TrainingReport) -> TrainResponse:
    """The schema of a :class:`TrainingReport`."""
    run = report.run
    h = run.trajectory
    norms = report.record_weights is RecordWeights.NORMS
    return TrainResponse(
        weights=run.weights.tolist(),
        error=run.error,
        steps=run.steps,
        stopped_by=run.stopped_by,
        stop_explanation=STOP_EXPLANATIONS[run.stopped_by],
        accuracy=run.accuracy,
        last_step=_finite_or_none(run.last_step),
        gradient_norm=run.gradient_norm,
        history=History(
            t=h.t.tolist(),
            error=h.error.tolist(),
            weights=_shown(h.weights, report).tolist(),
            t_delta=[
                row.tolist() if all(map(math.isfinite, row)) else None
                for row in _shown(h.t_delta, report)
            ],
            temperature=None if report.temperature is None else report.temperature.tolist(),
        ),
        divergence=_divergence(report.divergence, report),
        t_final=float(h.t[-1]),
        extrapolation=_extrapolation(report.prediction, report),
        theory=None if report.theory is None else theory_response(report.theory),
        warnings=[RunWarning(code=w.code, message=w.message) for w in report.warnings],
        layers=None if report.layers is None else [_layer(layer, norms) for layer in report.layers],
        initial_seed=report.initial_seed,
    )


def _divergence(report: DivergenceReport, training: TrainingReport) -> Divergence:
    return Divergence(
        verdict=report.verdict,
        log_rate=None if report.log_rate is None else _shown(report.log_rate, training).tolist(),
        power=_finite_or_none(report.power),
        apparent_convergence=report.apparent_convergence,
        window=None if report.window is None else list(report.window),
        explanation=report.explanation,
        goodness=_finite_or_none(report.goodness),
        rate_exponent=_finite_or_none(report.rate_exponent),
        late_rate_exponent=_finite_or_none(report.late_rate_exponent),
        undetermined=None
        if report.undetermined is None
        else Undetermined(
            reason=report.undetermined.reason,
            heading=report.undetermined.heading,
            steps_to_decide=_finite_or_none(report.undetermined.steps_to_decide),
        ),
        stall=None
        if report.stall is None
        else Stall(
            gradient_log10=report.stall.gradient_log10,
            lemma_applies=report.stall.lemma_applies,
        ),
    )


def _extrapolation(
    prediction: LogRulePrediction | None, training: TrainingReport
) -> Extrapolation | None:
    if prediction is None:
        return None
    return Extrapolation(
        direction=_shown(prediction.direction, training).tolist(),
        t=prediction.t.tolist(),
        weights=_shown(prediction.weights, training).tolist(),
        error=prediction.error.tolist(),
    )


def _layer(layer: LayerReport, norms: bool) -> Layer:
    summary, report = layer.summary, layer.divergence
    bias, t_delta = _one_norm(summary.bias, norms), _one_norm(summary.t_delta, norms)
    log_rate = _one_norm(report.log_rate, norms)
    W = summary.weights
    return Layer(
        index=summary.index,
        inputs=summary.inputs,
        units=summary.units,
        start=summary.start,
        stop=summary.stop,
        weights=[[vector_norm(np.ravel(W))]] if norms else W.tolist(),  # ‖W‖_F
        bias=None if bias is None else bias.tolist(),
        t_delta=None if t_delta is None else t_delta.tolist(),
        t_delta_norm=_finite_or_none(summary.t_delta_norm),
        t_delta_drift=_finite_or_none(summary.t_delta_drift),
        log_rate=None if log_rate is None else log_rate.tolist(),
        verdict=report.verdict,
    )


# --------------------------------------------------------------------------- /separability


def separability_response(facts: Separability) -> SeparabilityResponse:
    """The schema of a core :class:`Separability`."""
    cert = facts.certificate
    mm = facts.max_margin
    return SeparabilityResponse(
        n=facts.n,
        m=facts.m,
        strictly_separable=facts.strictly_separable,
        weakly_separable=facts.weakly_separable,
        rank=facts.rank,
        rows_independent=facts.rows_independent,
        separating_weights=None
        if facts.separating_weights is None
        else facts.separating_weights.tolist(),
        half_space_weights=None
        if facts.half_space_weights is None
        else facts.half_space_weights.tolist(),
        certificate=None
        if cert is None
        else Certificate(
            kind=cert.kind, multipliers=cert.multipliers.tolist(), residual=cert.residual
        ),
        max_margin=None
        if mm is None
        else MaxMargin(
            weights=mm.weights.tolist(),
            margin=mm.margin,
            support_vectors=mm.support_vectors.tolist(),
            multipliers=mm.multipliers.tolist(),
            kkt_residual=mm.kkt_residual,
        ),
        lemma_applies=facts.lemma_applies,
        lemma_explanation=facts.lemma_explanation,
    )


def theory_response(theory: TheoryReport) -> Theory:
    """The schema of a core :class:`TheoryReport`."""
    rate = theory.predicted_log_rate
    return Theory(
        separability=separability_response(theory.separability),
        lemma_applies=theory.lemma_applies,
        loss_tail=theory.loss_tail.value,
        loss_exponent=theory.loss_exponent,
        predicted_log_rate=None if rate is None else rate.tolist(),
        prediction_explanation=theory.prediction_explanation,
        angle_degrees=theory.angle_degrees,
        norm_ratio=theory.norm_ratio,
    )


# --------------------------------------------------------------------------- /minima


def _end(end: InfinityEnd) -> InfinityEndOut:
    return InfinityEndOut(
        error_limit=end.error_limit,
        local_min=end.local_min,
        approach=end.approach,
    )


def minima_response(land: Landscape) -> MinimaResponse:
    """The schema of a core :class:`Landscape`."""
    sub, curve, best = land.subspace, land.curve, land.global_minimum
    return MinimaResponse(
        critical_points=[
            CriticalPointOut(x=p.x, kind=p.kind, error=p.error) for p in land.critical_points
        ],
        infinity=Infinity(plus=_end(land.plus), minus=_end(land.minus)),
        local_minima=[
            LocalMinimumOut(location=m.location, x=m.x, error=m.error) for m in land.local_minima
        ],
        global_minimum=GlobalMinimum(
            error=land.global_error,
            distance=land.distance,
            location=best.location,
            x=best.x,
        ),
        flat=land.flat,
        subspace=SubspaceOut(type=sub.type, a=sub.a, vector=list(sub.vector)) if sub else None,
        curve=CurveOut(
            scale=curve.scale,
            s=curve.s.tolist(),
            x=curve.x.tolist(),
            error=curve.error.tolist(),
            image=curve.image.tolist() if curve.image is not None else None,
        )
        if curve
        else None,
    )


# --------------------------------------------------------------------------- /studies


_VERDICTS = frozenset(v.value for v in Verdict)


def study_response(view: StudyView) -> Study:
    """The schema of a study."""
    r = view.record
    return Study(
        id=r.id,
        kind=StudyKind(r.kind),
        name=r.name,
        status=StudyStatus(r.status),
        progress=Progress(done=r.done, total=r.total, failed=r.failed),
        created=r.created,
        started=r.started,
        finished=r.finished,
        axes=r.axes,
        summary=_summary(view),
        detail=r.detail,
    )  # fmt: skip


def _summary(
    view: StudyView,
) -> SweepSummary | CensusSummary | ExtrapolationSummary | RelaxationSummary:
    if view.census is not None:
        return census_summary(view.census)
    if view.extrapolation is not None:
        return extrapolation_summary(view.extrapolation)
    if view.relaxation is not None:
        return relaxation_summary(view.relaxation)
    return SweepSummary(
        verdicts={Verdict(v): n for v, n in view.verdicts.items() if v in _VERDICTS},
        failed=view.verdicts.get("failed", 0),
        per_axis={
            axis: {value: {Verdict(v): n for v, n in counts.items() if v in _VERDICTS}
                   for value, counts in values.items()}
            for axis, values in view.per_axis.items()
        },
    )  # fmt: skip


def relaxation_summary(relaxation: Relaxation) -> RelaxationSummary:
    """The schema of a relaxation study's comparison."""
    return RelaxationSummary(
        global_error=relaxation.global_error,
        threshold=relaxation.threshold,
        methods=[
            MethodOutcome(
                method=o.method,
                temperature=o.temperature,
                runs=o.runs,
                successes=o.successes,
                success_rate=o.success_rate,
                interval=o.interval,
                error_quantiles=o.error_quantiles,
                mean_steps_to_global=o.mean_steps_to_global,
                verdicts=o.verdicts,
                mean_seconds=o.mean_seconds,
            )
            for o in relaxation.methods
        ],
        winner=relaxation.winner,
        explanation=relaxation.explanation,
    )


def census_summary(census: Census) -> CensusSummary:
    """The schema of a census's summary."""
    return CensusSummary(
        minima=[_census_minimum(m) for m in census.minima],
        global_error=census.minima[0].error if census.minima else None,
        starts=census.starts,
        identified=census.identified,
        unresolved=census.unresolved,
        unresolved_reasons=census.unresolved_reasons,
        saddles=[_census_minimum(m) for m in census.saddles],
        distinct=census.distinct,
        singletons=census.singletons,
        doubletons=census.doubletons,
        estimated_total=census.estimated_total,
        estimated_interval=census.estimated_interval,
        coverage=census.coverage,
        symmetries_merged=census.symmetries_merged,
    )


def _census_minimum(m: Minimum) -> CensusMinimum:
    return CensusMinimum(
        location=m.location,
        error=m.error,
        hits=m.hits,
        basin_fraction=m.basin_fraction,
        weights=_floats(m.weights),
        gradient_norm=m.gradient_norm,
        hessian_eigenvalues=_floats(m.hessian_eigenvalues),
        degenerate=m.degenerate,
        direction=_floats(m.direction),
        finite_part=_floats(m.finite_part),
        diverging=m.diverging,
        outputs=_floats(m.outputs),
        symmetric_copies=m.symmetric_copies,
    )


def _floats(values: Array | None) -> list[float] | None:
    return None if values is None else [float(v) for v in values]


def extrapolation_summary(assessment: LogRuleAssessment) -> ExtrapolationSummary:
    """The schema of an extrapolation's test of the log rule."""
    return ExtrapolationSummary(
        factors=list(assessment.factors),
        good_weight_error=GOOD_WEIGHT_ERROR,
        activations={
            ActivationName(a): _extrapolation_group(g) for a, g in assessment.activations.items()
        },
        overall=_extrapolation_group(assessment.overall),
    )


def _extrapolation_group(group: GroupAssessment) -> ExtrapolationGroup:
    return ExtrapolationGroup(
        points=group.points,
        failed=group.failed,
        applicable=group.applicable,
        verdicts=group.verdicts,
        factors=[
            ExtrapolationFactor(
                factor=f.factor,
                compared=f.compared,
                weight_error_median=f.weight_error_median,
                weight_error_max=f.weight_error_max,
                error_relative_median=f.error_relative_median,
                error_relative_max=f.error_relative_max,
                error_difference_max=f.error_difference_max,
            )
            for f in group.factors
        ],
        log_rule=group.fit.value,
        explanation=group.explanation,
    )


def _row_extrapolation(check: PointCheck) -> RowExtrapolation:
    return RowExtrapolation(
        t=check.t,
        applicable=check.applicable,
        reason=check.reason,
        comparisons=[_comparison(c) for c in check.comparisons],
    )


def _comparison(c: Comparison) -> ExtrapolationComparison:
    return ExtrapolationComparison(
        factor=c.factor,
        t=c.t,
        predicted_weights=_finite_floats(c.predicted_weights),
        predicted_error=c.predicted_error,
        weights=_finite_floats(c.actual_weights),
        error=c.actual_error,
        weight_error=c.weight_error,
        error_difference=c.error_difference,
        error_relative=c.error_relative,
        verdict=c.verdict,
        stopped_by=c.stopped_by,
        failure=c.failure,
    )


def _finite_floats(values: Array | None) -> list[float] | None:
    """Weights as floats; None unless every one is finite."""
    if values is None or not np.isfinite(values).all():
        return None
    return [float(v) for v in values]


def row_response(row: Row) -> StudyRow:
    """The schema of a study row."""
    return StudyRow(
        index=row.index,
        params=row.params,
        verdict=None if row.verdict is None else Verdict(row.verdict),
        error=row.error,
        accuracy=row.accuracy,
        stopped_by=None if row.stopped_by is None else StopReason(row.stopped_by),
        steps=row.steps,
        log_rate_norm=row.log_rate_norm,
        apparent_convergence=row.apparent_convergence,
        weights=row.weights,
        seconds=row.seconds,
        failure=row.failure,
        location=None if row.endpoint is None else EndpointLocation(row.endpoint["location"]),
        extrapolation=None
        if row.extrapolation is None
        else _row_extrapolation(check_of(row.extrapolation)),
    )
