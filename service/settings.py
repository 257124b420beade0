"""Configuration from environment variables, with defaults that serve.

The limits an operator may change are settings; their defaults, and every fixed bound of a
request, are in the one limits table, :mod:`service.limits`. Every variable is optional:

============================  ============  ===================================================
variable                      default       meaning
============================  ============  ===================================================
LEARNDYN_HOST                 127.0.0.1     address ``learndyn serve`` binds
LEARNDYN_PORT                 8000          port ``learndyn serve`` binds
LEARNDYN_WORKERS              1             uvicorn worker processes of ``learndyn serve``
LEARNDYN_MAX_BODY_BYTES       8388608       request bodies above this get 413, unparsed
LEARNDYN_MAX_CELLS            5000000       n·m (after the bias column) above this gets 422
LEARNDYN_MAX_WORK             2000000000    steps·n·m above this gets 422
LEARNDYN_MAX_RECORD_POINTS    10000         record.points above this gets 422
LEARNDYN_COMPUTE_SECONDS      120           wall time of one computation; past it: 504
LEARNDYN_COMPUTE_SLOTS        (cores)       computations running at once
LEARNDYN_QUEUE_SECONDS        2             how long a request waits for a slot; then 503
LEARNDYN_RETRY_AFTER          5             seconds, the Retry-After of a 503
LEARNDYN_API_KEY              (unset)       when set, compute endpoints need this bearer token
LEARNDYN_CORS_ORIGINS         (empty)       comma-separated origins allowed by CORS
LEARNDYN_NUMBA_CACHE_DIR      (unset)       where the compiled kernel is cached; set it when
                                            the package directory is read-only (else
                                            numba's per-user or a private temporary one)
============================  ============  ===================================================
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields

from service import limits


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class Settings:
    """The service's configuration; :meth:`from_env` reads ``LEARNDYN_<FIELD>``."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = limits.DEFAULT_MAX_BODY_BYTES
    max_cells: int = limits.DEFAULT_MAX_CELLS
    max_work: int = limits.DEFAULT_MAX_WORK
    max_record_points: int = limits.DEFAULT_MAX_RECORD_POINTS
    compute_seconds: float = limits.DEFAULT_COMPUTE_SECONDS
    compute_slots: int = field(default_factory=_cores)
    queue_seconds: float = 2.0
    retry_after: int = 5
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    workers: int = 1
    numba_cache_dir: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default ``os.environ``); raises ValueError naming a bad
        variable."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            key = f"LEARNDYN_{f.name.upper()}"
            raw = env.get(key)
            if raw is None or raw == "":
                continue
            parse = _PARSERS.get(str(f.type), str)
            try:
                values[f.name] = parse(raw)
            except ValueError:
                raise ValueError(f"{key} must be {_KINDS[str(f.type)]}; got {raw!r}") from None
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ValueError if a limit is not positive."""
        for name in ("max_body_bytes", "max_cells", "max_work", "max_record_points"):
            if getattr(self, name) <= 0:
                raise ValueError(f"LEARNDYN_{name.upper()} must be positive")
        if self.compute_slots < 1 or self.compute_seconds <= 0 or self.queue_seconds < 0:
            raise ValueError("compute slots and seconds must be positive")


def _origins(raw: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in raw.split(",") if o.strip())


_PARSERS: dict[str, Callable[[str], object]] = {
    "int": int,
    "float": float,
    "str": str,
    "str | None": str,
    "tuple[str, ...]": _origins,
}
_KINDS = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "str | None": "a string",
    "tuple[str, ...]": "a comma-separated list",
}
