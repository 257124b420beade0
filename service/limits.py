"""The one limits table: every fixed bound of a request, read by the schemas and by the core.

This module imports nothing but the standard library, so that ``service.schemas`` (pydantic,
no numpy) and ``service.core`` (numpy, no pydantic) share one definition of each bound. The
bounds an operator may change (body size, n·m, steps·n·m, record points, wall time) are the
settings (:mod:`service.settings`, ``LEARNDYN_*``); their defaults are here too.
"""

from __future__ import annotations

# --- networks
MAX_HIDDEN_LAYERS = 8
"""At most this many hidden layers."""
MAX_HIDDEN_WIDTH = 256
"""At most this many units in a hidden layer."""

# --- runs
MAX_STEPS = 10**10
"""The largest step budget a request may name (the work limit also applies)."""
MAX_SEED = 2**63 - 1
"""Seeds are in [0, MAX_SEED]."""
MAX_RECORD_POINTS = 10_000
"""The schema's cap on ``record.points``; ``LEARNDYN_MAX_RECORD_POINTS`` may lower it."""
MAX_EXTRAPOLATION_TIMES = 20
"""At most this many times in ``extrapolate_to``."""

# --- the gradient flow
MIN_T_MAX = 1e-100
"""The smallest horizon ``t_max`` accepted."""
MAX_T_MAX = 1e15
MIN_FLOW_RTOL = 100 * 2.220446049250313e-16
"""The smallest relative tolerance of the flow's integrator, 100·ε: LSODA (scipy) raises a
smaller one to this with a warning, so a smaller one is refused rather than changed."""
"""The largest horizon ``t_max`` accepted."""
MIN_TIME_UNITS = 1e-9
"""The shortest horizon in natural time units, t_max/τ: below it the weights cannot move."""
MAX_TIME_UNITS = 1e30
"""The longest horizon in natural time units, t_max/τ (30 decades of t/τ)."""
FLOW_EVALUATIONS = 5_000
"""The flow's cost model: an upper estimate of the integrator's right-hand side evaluations
per request, each costing about n·m·(m + 1) (a gradient and a Jacobian row per weight)."""

# --- landscapes
MIN_CURVE_POINTS = 3
MAX_CURVE_POINTS = 10_001
"""Samples of E(x) a /minima request may ask for."""

# --- defaults of the settings (LEARNDYN_*)
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_CELLS = 5_000_000
DEFAULT_MAX_WORK = 2_000_000_000
DEFAULT_MAX_RECORD_POINTS = MAX_RECORD_POINTS
DEFAULT_COMPUTE_SECONDS = 120.0

# --- studies (the defaults of LEARNDYN_MAX_STUDY_POINTS, _MAX_STUDY_WORK, _MAX_RUNNING_STUDIES)
DEFAULT_MAX_STUDY_POINTS = 100_000
"""Points (runs) in one study."""
DEFAULT_MAX_STUDY_WORK = 10**12
"""Σ steps·n·m over a study's points (the flow counts its cost model)."""
DEFAULT_MAX_RUNNING_STUDIES = 4
"""Studies running at once; more wait, queued."""
MAX_ROWS_PER_PAGE = 1_000
"""Rows (or studies) in one page of a listing."""
MAX_OFFSET = 2**62
"""The largest offset of a page (SQL integers are 64-bit)."""
MAX_GRID_AXIS_VALUES = 10_000
"""Values one axis of a grid may generate."""
