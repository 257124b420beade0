"""The one compiled run kernel: gd and online steps for the perceptron and for nets, in chunks.

The loops are numba ``@njit(nogil=True, cache=True)`` functions; nothing per step crosses back
into Python. One kernel serves both models: the model is a run-time argument, and only the
evaluation of E, ∇E and the margins differs (the perceptron's in
:mod:`service.core.engine.perceptron_kernel`, a net's in
:mod:`service.core.engine.network_kernel`). Everything else — the step, the non-finite rule,
the recorder, the stop rules and their precedence, the state carried between chunks — is
written once, here. The loops reproduce the numpy oracle of the tests
(``tests/core/oracle.py``) step for step, so every convention below is the oracle's:

* ``gd``: x_{t+1} = x_t − η·∇E(x_t). ``online``: one step is one pass over the examples in the
  given order (or a permutation supplied by the caller), updating after each example with the
  gradient of that example's own term.
* A step from x_t is taken only if x_{t+1} is finite, E(x_{t+1}) is finite and ∇E(x_{t+1}) is
  finite; otherwise the run stops with ``non_finite`` at the last finite state.
* Stop rules after each step, in the order of precedence of
  :data:`service.core.engine.run.PRECEDENCE`: error_tolerance (E ≤ tol), classified (every
  margin z_i > 0), weight_bound (max_j |x_j| ≥ bound), step_tolerance (‖x_t − x_{t−1}‖₂ < tol),
  then the step budget. The state rules are also checked at t = 0. An unset tolerance or bound
  is passed as NaN, which no comparison satisfies.
* At each scheduled t < final t the recorder stores (t, E(x_t), x_t, t·(x_{t+1} − x_t)); the
  final t is recorded by :func:`_finish_run` with a tentative extra step (NaN row when that
  step is not finite, or when the run ended ``non_finite``).

Arguments come grouped, as tuples (see :mod:`service.core.engine.descent`, which builds them):

* ``model`` = (kind, net, B, A, y, widths, starts, offs, bias, blocked, check_gradient): the
  activation's code, whether the model is a net, the perceptron's B (n×m) or the net's inputs
  A, targets y and layout (an unused model's arrays are empty), whether the perceptron
  evaluates in blocks, and whether an online perceptron run keeps ∇E current (only needed
  when a gradient entry could overflow).
* ``scratch`` = (v, h, d, delta, gi, work, bits): per-example buffers.
* ``state`` = (x, z, g, x_new, z_new, g_new, istate, fstate), with ``istate`` = (t, k) and
  ``fstate`` = (E(x_t), ‖x_t − x_{t−1}‖₂): written back at the end of each chunk.
* ``records`` = (schedule, t, error, weights, t_delta): the recorder's buffers.
* ``rules`` = (steps, error_tolerance, classify, weight_bound, step_tolerance).

Compilation and caching
-----------------------
:func:`kernels` compiles the entry points on first use (or at service start-up, through
:func:`service.core.engine.warmup.warm_up`) with ``cache=True``. The cache directory is, in
order: the one given to :func:`configure_cache` (the service passes
``LEARNDYN_NUMBA_CACHE_DIR``), numba's own ``NUMBA_CACHE_DIR``, the engine's ``__pycache__``
if writable, the per-user cache (``$XDG_CACHE_HOME`` or ``~/.cache``, under ``learndyn``),
and finally a private directory under the system temporary directory; if none is writable
the kernels are compiled without a cache. Within it, compiled code goes to a subdirectory
named by a hash of the kernel's source files (this module and the two models' numerics):
numba itself watches only the file of the function it caches, so an edit to a model's
numerics would otherwise load stale code. numba also keys the cache by the CPU model: a cache
written on another CPU is ignored (and the warm-up compiles again, ~20 s).
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit
from numba.core import config as numba_config

from service.core.engine import network_kernel, perceptron_kernel
from service.core.engine.network_kernel import evaluate_net
from service.core.engine.perceptron_kernel import evaluate, online_pass, residual
from service.core.model import activations

# Stop codes returned by the kernel; 0 means "not stopped yet".
RUNNING, STEPS, WEIGHT_BOUND, STEP_TOLERANCE, ERROR_TOLERANCE, CLASSIFIED, NON_FINITE = range(7)

# Layout of the integer and float state vectors carried between chunks.
T, K = 0, 1  # int state: t (steps taken), k (index of the next scheduled time)
ERR, LAST_STEP = 0, 1  # float state: E(x_t), ‖x_t − x_{t−1}‖₂


@njit(inline="always")
def cooling(t0: float, tau: float, t: float) -> float:
    """The annealing temperature at step t: T_t = T₀/ln(e + t/τ) (Geman and Hwang's
    logarithmic schedule; T_0 = T₀)."""
    return t0 / math.log(math.e + t / tau)


@njit
def _evaluate_model(model: Any, scratch: Any, x: Any, z: Any, g: Any, need_g: bool) -> Any:
    """z ← the margins, g ← ∇E(x) (if ``need_g``); returns (E, finite) for either model."""
    kind, net, B, A, y, widths, starts, offs, bias, blocked, _ = model
    v, h, d, delta, _, work, bits = scratch
    if net:
        return evaluate_net(kind, A, y, x, widths, starts, offs, bias, h, d, delta, z, g, need_g)
    return evaluate(kind, B, x, z, v, g, blocked, need_g, (work, bits))


@njit
def _online_pass_model(
    model: Any, scratch: Any, eta: float, x: Any, x_new: Any, orders: Any, row: int
) -> None:
    """x_new ← x after one online pass in the order ``orders[row]``, for either model."""
    kind, net, B, A, y, widths, starts, offs, bias, _, _ = model
    _, h, d, delta, gi, _, _ = scratch
    if net:
        network_kernel.online_pass(
            kind, A, y, eta, x, x_new, widths, starts, offs, bias, h, d, delta, gi, orders, row
        )
    else:
        online_pass(kind, B, eta, x, x_new, orders, row)


@njit
def _all_finite(a: Any) -> bool:
    for j in range(a.shape[0]):
        if not math.isfinite(a[j]):
            return False
    return True


@njit
def _scaled_norm(a: Any, b: Any, m: int) -> float:
    """‖a − b‖₂ without overflow in the squares (called only when they overflow)."""
    scale = 0.0
    for j in range(m):
        scale = max(scale, abs(a[j] - b[j]))
    if scale == 0.0 or scale == math.inf:
        return scale
    acc = 0.0
    for j in range(m):
        r = (a[j] - b[j]) / scale
        acc += r * r
    return scale * math.sqrt(acc)


def _state_stop(x: Any, z: Any, err: float, rules: Any) -> int:
    """The stop rules that depend on the state alone, in order of precedence (RUNNING if none
    fires): the definition :func:`_run_chunk` inlines and the flow integrator calls."""
    _, error_tolerance, classify, weight_bound, _ = rules
    if err <= error_tolerance:
        return ERROR_TOLERANCE
    if classify:
        every = True
        for i in range(z.shape[0]):
            if not z[i] > 0.0:
                every = False
                break
        if every:
            return CLASSIFIED
    if weight_bound == weight_bound:  # set (not NaN)
        for j in range(x.shape[0]):
            if abs(x[j]) >= weight_bound:
                return WEIGHT_BOUND
    return RUNNING


_state_stop_compiled = njit(_state_stop)


def _start_run(model: Any, scratch: Any, state: Any, rules: Any) -> int:
    """Evaluate E, ∇E and the margins at x_0 and apply the state stop rules at t = 0."""
    x, z, g, _, _, _, _, fstate = state
    err, _ = _evaluate_model(model, scratch, x, z, g, True)
    fstate[ERR] = err
    fstate[LAST_STEP] = math.nan
    code: int = _state_stop_compiled(x, z, err, rules)
    return code


def _run_chunk(
    model: Any,
    scratch: Any,
    online: bool,
    eta: float,
    state: Any,
    records: Any,
    rules: Any,
    t_end: int,
    orders: Any,
    shuffled: bool,
    t_orders: int,
    anneal: Any,
) -> int:
    """Take steps from t until a stop rule fires or t reaches ``t_end``; return the stop code.

    ``anneal`` = (T₀, τ, noise, t_noise): with T₀ > 0 (gd only) the step from x_t adds
    √(2η·T_t)·ξ_t, T_t = T₀/ln(e + t/τ), with ξ_t = ``noise[t − t_noise]`` (standard normals
    the driver draws for the chunk), and the recorder stores the drift t·(−η·∇E(x_t)) as
    the step's t_delta (the noise left out, so that the verdict reads the deterministic
    motion); with T₀ = 0 the step and the record are gd's, to the bit.

    The state (x, its margins z, its gradient g, E, t, the schedule index k, the last step
    length) is read from and written back to the arrays, so the caller can resume with the
    next chunk; RUNNING means t reached ``t_end`` with no rule firing. An online pass from
    x_t visits the examples in the order ``orders[t − t_orders]`` when ``shuffled``, else
    ``orders[0]`` (which is then 0, 1, …, n − 1). In online perceptron runs g is only kept
    current when ``check_gradient`` (a gradient entry could overflow and must be checked as
    the oracle does); :func:`_finish_run` recomputes it at the end. Online passes never use
    the blocked evaluation.
    """
    # The perceptron's evaluation at x_new and the stop rules are written out here rather than
    # calling evaluate and _state_stop (which start and finish use): numba reference-counts the
    # arrays passed to a helper, even an inlined one, and on a tiny problem that bookkeeping
    # costs more than the step (measured at n = 4, m = 3: 75 ns per step written out, 105-140
    # ns through inlined helpers). A net's evaluation and an online pass cost far more than
    # the bookkeeping (measured the same within noise on 2-2-1 and 3-8-8-1 nets), so they go
    # through their helpers.
    kind, net, B, A, y, widths, starts, offs, bias, blocked, check_gradient = model
    v, h, d, delta, gi, work, bits = scratch
    x, z, g, x_new, z_new, g_new, istate, fstate = state
    schedule, rec_t, rec_error, rec_weights, rec_t_delta = records
    steps, error_tolerance, classify, weight_bound, step_tolerance = rules
    t0, tau, noise, t_noise = anneal
    annealing = t0 > 0.0
    n = z.shape[0]
    m = x.shape[0]
    t = istate[T]
    k = istate[K]
    err = fstate[ERR]
    last_step = fstate[LAST_STEP]
    n_sched = schedule.shape[0]
    reason = RUNNING
    need_g = net or check_gradient or not online
    check_step = step_tolerance == step_tolerance  # set (not NaN)
    squares = math.nan  # ‖x_t − x_{t−1}‖₂² of the last step taken in this chunk
    step_length = math.nan
    while True:
        if t >= steps:
            reason = STEPS
            break
        if t >= t_end:
            break
        # x_new ← the next iterate
        if online and net:
            network_kernel.online_pass(
                kind, A, y, eta, x, x_new, widths, starts, offs, bias, h, d, delta, gi, orders,
                t - t_orders if shuffled else 0,
            )  # fmt: skip
        elif online:
            online_pass(kind, B, eta, x, x_new, orders, t - t_orders if shuffled else 0)
        elif annealing:
            spread = math.sqrt(2.0 * eta * cooling(t0, tau, t))
            row = t - t_noise
            for j in range(m):
                x_new[j] = (x[j] - eta * g[j]) + spread * noise[row, j]
        else:
            for j in range(m):
                x_new[j] = x[j] - eta * g[j]
        finite = True
        for j in range(m):
            if not math.isfinite(x_new[j]):
                finite = False
        err_new = math.nan
        if finite and blocked:
            err_new, finite = evaluate(
                kind, B, x_new, z_new, v, g_new, blocked, need_g, (work, bits)
            )
        elif finite and not net:
            # the perceptron: E, margins and gradient at x_new in one pass over the rows
            err_new = 0.0
            for j in range(m):
                g_new[j] = 0.0
            for i in range(n):
                zi = 0.0
                for j in range(m):
                    zi += B[i, j] * x_new[j]
                z_new[i] = zi
                if not math.isfinite(zi):
                    finite = False
                    break
                c, cd = residual(kind, zi)
                err_new += c * c
                if need_g:
                    for j in range(m):
                        g_new[j] += B[i, j] * cd
            if need_g:
                for j in range(m):
                    g_new[j] = -2.0 * g_new[j]
        elif finite:
            err_new, finite = evaluate_net(
                kind, A, y, x_new, widths, starts, offs, bias, h, d, delta, z_new, g_new, True
            )
        if finite and need_g and not blocked and not net:
            for j in range(m):
                if not math.isfinite(g_new[j]):
                    finite = False
        if not finite:
            reason = NON_FINITE
            break
        if k < n_sched and schedule[k] == t:
            rec_t[k] = t
            rec_error[k] = err
            for j in range(m):
                rec_weights[k, j] = x[j]
                rec_t_delta[k, j] = t * (-eta * g[j]) if annealing else t * (x_new[j] - x[j])
            k += 1
        squares = 0.0
        for j in range(m):
            dj = x_new[j] - x[j]
            squares += dj * dj
        step_length = math.sqrt(squares)
        if step_length == math.inf:  # the sum of squares overflowed, not the step: rescale
            step_length = _scaled_norm(x_new, x, m)
        for j in range(m):
            x[j] = x_new[j]
        for i in range(n):
            z[i] = z_new[i]
        if need_g:
            for j in range(m):
                g[j] = g_new[j]
        err = err_new
        t += 1
        # the state stop rules (as _state_stop), then the step tolerance
        if err <= error_tolerance:
            reason = ERROR_TOLERANCE
        if reason == RUNNING and classify:
            every = True
            for i in range(n):
                if not z[i] > 0.0:
                    every = False
                    break
            if every:
                reason = CLASSIFIED
        if reason == RUNNING and weight_bound == weight_bound:
            for j in range(m):
                if abs(x[j]) >= weight_bound:
                    reason = WEIGHT_BOUND
                    break
        if reason == RUNNING and check_step and step_length < step_tolerance:
            reason = STEP_TOLERANCE
        if reason != RUNNING:
            break
    if squares == squares:
        last_step = step_length
    istate[T] = t
    istate[K] = k
    fstate[ERR] = err
    fstate[LAST_STEP] = last_step
    return reason


def _finish_run(
    model: Any,
    scratch: Any,
    online: bool,
    eta: float,
    state: Any,
    records: Any,
    orders: Any,
    row: int,
    reason: int,
) -> int:
    """Refresh g at x (online), record the final point with its tentative next step, and
    return the number of recorded rows."""
    x, z, g, x_new, _, _, istate, fstate = state
    _, rec_t, rec_error, rec_weights, rec_t_delta = records
    m = x.shape[0]
    t = istate[T]
    k = istate[K]
    finite = False
    if reason != NON_FINITE:
        if online:
            _evaluate_model(model, scratch, x, z, g, True)
            _online_pass_model(model, scratch, eta, x, x_new, orders, row)
        else:
            for j in range(m):
                x_new[j] = x[j] - eta * g[j]
        finite = _all_finite(x_new)
    rec_t[k] = t
    rec_error[k] = fstate[ERR]
    for j in range(m):
        rec_weights[k, j] = x[j]
        rec_t_delta[k, j] = t * (x_new[j] - x[j]) if finite else math.nan
    istate[K] = k + 1
    return int(k + 1)


def _gradient(model: Any, scratch: Any, x: Any, z: Any, g: Any) -> float:
    """E(x) (NaN if not finite), with g ← ∇E(x) and z ← the margins (for flow and tests)."""
    err, finite = _evaluate_model(model, scratch, x, z, g, True)
    return float(err) if finite else math.nan


@dataclass(frozen=True, slots=True)
class Kernels:
    """The compiled entry points (numba dispatchers)."""

    start_run: Any
    run_chunk: Any
    finish_run: Any
    gradient: Any
    state_stop: Any
    cache_dir: str | None
    """Where compiled code is cached (the base directory; the code is in its subdirectory
    named by the source hash); None when no writable place was found."""


_lock = threading.Lock()
_kernels: Kernels | None = None
_requested_cache_dir: str | None = None

_SOURCES = (
    Path(__file__),
    Path(perceptron_kernel.__file__),
    Path(network_kernel.__file__),
    Path(activations.__file__),  # the activation codes
)


def source_key() -> str:
    """A hash of the kernel's source files: the name of its cache subdirectory."""
    digest = hashlib.sha256()
    for path in _SOURCES:
        digest.update(path.read_bytes())
    return "kernel-" + digest.hexdigest()[:16]


def configure_cache(cache_dir: str | None) -> None:
    """Ask for compiled code to be cached in ``cache_dir`` (before the first compilation).

    Has no effect once the kernels are built; ``None`` or ``""`` keeps the defaults.
    """
    global _requested_cache_dir
    with _lock:
        _requested_cache_dir = cache_dir or None


def _compile(cache: bool, cache_dir: str | None) -> Kernels:
    jit = njit(nogil=True, cache=cache)
    return Kernels(
        start_run=jit(_start_run),
        run_chunk=jit(_run_chunk),
        finish_run=jit(_finish_run),
        gradient=jit(_gradient),
        state_stop=jit(_state_stop),
        cache_dir=cache_dir,
    )


def _writable_dir(path: str) -> bool:
    """Whether ``path`` is (or can be made) a directory this process can write."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            return True
    except OSError:
        return False


def _fallback_cache_dir() -> str | None:
    """A private directory under the temporary directory, or None if it is not ours.

    Cache files are pickles that numba loads and runs, so a directory in a shared /tmp is
    used only if it is this user's own and nobody else can write to it.
    """
    path = os.path.join(tempfile.gettempdir(), f"learndyn-numba-{os.getuid()}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    private = stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022
    return path if private else None


def _candidate_dirs() -> list[str]:
    """The cache directories to try, in order (see the module docstring)."""
    configured = _requested_cache_dir or numba_config.CACHE_DIR  # type: ignore[attr-defined]
    user = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return [
        *([configured] if configured else []),
        str(Path(__file__).parent / "__pycache__"),
        os.path.join(user, "learndyn"),
    ]


def _compile_cached(directory: str) -> Kernels | None:
    """Compile with the cache in ``directory``'s source-hash subdirectory, or None if it
    cannot be written."""
    target = os.path.join(directory, source_key())
    if not _writable_dir(target):
        return None
    saved: str = numba_config.CACHE_DIR  # type: ignore[attr-defined]
    numba_config.CACHE_DIR = target  # type: ignore[attr-defined]
    try:
        return _compile(True, directory)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return None
    finally:
        numba_config.CACHE_DIR = saved  # type: ignore[attr-defined]


def kernels() -> Kernels:
    """The compiled kernels, decorated on first use with a writable cache (see module doc)."""
    global _kernels
    with _lock:
        if _kernels is not None:
            return _kernels
        for directory in _candidate_dirs():
            built = _compile_cached(directory)
            if built is not None:
                break
        else:
            fallback = _fallback_cache_dir()
            built = _compile_cached(fallback) if fallback else None
        _kernels = built if built is not None else _compile(False, None)
        return _kernels


def given_order(n: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The ``orders`` argument of a run in the given order: one row 0, 1, …, n − 1."""
    return np.arange(n, dtype=np.int64).reshape(1, n)
