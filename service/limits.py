"""The one limits table: every fixed bound of a request, read by the schemas and by the core.

This module imports nothing but the standard library, so that ``service.schemas`` (pydantic,
no numpy) and ``service.core`` (numpy, no pydantic) share one definition of each bound. The
bounds an operator may change (body size, n·m, steps·n·m, record points, the numbers of an
answer and of a recorded trajectory, wall time) are the settings (:mod:`service.settings`,
``LEARNDYN_*``); their defaults are here too.
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
MIN_FLOW_ATOL = 1e-150
"""The smallest absolute tolerance of the flow's integrator: LSODA weighs an error by
1/(rtol·|x| + atol) and squares it in its error norm, which overflows near x = 0 when atol is
below about 1e-154; there it rejects every step and stays at t = 0 until the time limit
(measured: stuck for atol ≤ 1e-160, working from 1e-155 up)."""
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
DEFAULT_MAX_ANSWER_NUMBERS = 600_000
"""Numbers in a /train answer's arrays (see :mod:`service.core.answer`): a float64 takes at
most 25 bytes of JSON ("-2.2250738585072014e-308,"), typically 20, so an answer stays under
15 MB, and about 12 MB is typical. The largest net (8 hidden layers of 256 units) has about
461,000 weights: its answer fits with ``record.weights = "norms"``."""
DEFAULT_MAX_RECORDED = 10_000_000
"""Recorded times × weights that a run keeps in memory, whatever ``record.weights`` (the
verdicts read every weight): x_t and t·Δx_t are 160 MB of float64 at the limit, and a run's
peak grows about twice that (the recorder's buffers and their copy: 322 MB measured at
9.6·10⁶, 8 hidden layers of 256 at 21 recorded times)."""

# --- studies (the defaults of LEARNDYN_MAX_STUDY_POINTS, _MAX_STUDY_WORK, _MAX_RUNNING_STUDIES)
MAX_CENSUS_STARTS = 10_000
"""Starts of one census (its summary clusters every endpoint, on each look)."""
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

# --- connections (the defaults of LEARNDYN_MAX_CONNECTIONS, _HEADER_SECONDS, _BODY_SECONDS,
# _KEEPALIVE_SECONDS, _SHUTDOWN_SECONDS; service/server/ applies them)
DEFAULT_MAX_CONNECTIONS = 4096
"""Open client connections per server process; the file-descriptor limit may lower it."""
FD_RESERVE = 256
"""File descriptors a server process keeps for all but client connections (the database,
the Dask cluster's sockets, the kernel cache, logs)."""
MAX_BACKLOG = 2048
"""The listen backlog, at most; asyncio also accepts up to this many connections in one go
before the protocol can refuse any, so the connection cap leaves this many descriptors free."""
DEFAULT_HEADER_SECONDS = 10.0
"""From a connection's first byte (or its opening) to a complete request head."""
DEFAULT_BODY_SECONDS = 60.0
"""From the application's first read of a body to its last byte (8 MiB at ≥ 140 kB/s)."""
DEFAULT_KEEPALIVE_SECONDS = 5
"""An idle connection between two requests is closed after this."""
DEFAULT_SHUTDOWN_SECONDS = 25
"""After SIGTERM, requests in flight get this long before they are cancelled: within
Kubernetes' default grace period of 30 s."""
MAX_REQUEST_TARGET_BYTES = 8 * 1024
"""The request target (path and query) of a request line; longer: 414."""
MAX_HEADERS = 100
"""Header fields in a request head; more: 431."""
MAX_HEADER_BYTES = 32 * 1024
"""Σ (name + value + 4) over a request's header fields; more: 431 (nginx's default buffers
for a head are 4 × 8 KiB)."""

# --- annealing (POST /train with method "anneal")
MAX_TEMPERATURE = 1e6
"""T₀ at most this (E ≤ 4n, so far above any barrier of E: the bound only keeps the noise
finite)."""
MAX_COOLING_TIME = 1e30
"""τ at most this (T_t = T₀ to 30 digits over any run)."""
MAX_RELAXATION_TEMPERATURES = 8
"""Temperatures of one relaxation study (each runs the K starts)."""
