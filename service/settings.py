"""Configuration from environment variables, with defaults that serve.

The limits an operator may change are settings; their defaults, and every fixed bound of a
request, are in the one limits table, :mod:`service.limits`. Every variable is optional:

============================  ============  ===================================================
variable                      default       meaning
============================  ============  ===================================================
LEARNDYN_HOST                 127.0.0.1     address ``learndyn serve`` binds
LEARNDYN_PORT                 8000          port ``learndyn serve`` binds
LEARNDYN_WORKERS              1             uvicorn worker processes of ``learndyn serve``
LEARNDYN_MAX_CONNECTIONS      4096          open connections per worker process, at most (the
                                            file-descriptor limit may lower it); more: 503
LEARNDYN_HEADER_SECONDS       10            a request head must arrive within this; else the
                                            connection is closed (408 if a part came)
LEARNDYN_BODY_SECONDS         60            a request body must arrive within this of its first
                                            read; else 408
LEARNDYN_KEEPALIVE_SECONDS    5             a connection idle this long between requests is closed
LEARNDYN_SHUTDOWN_SECONDS     25            after SIGTERM, requests in flight get this long
LEARNDYN_MAX_BODY_BYTES       8388608       request bodies above this get 413, unparsed
LEARNDYN_MAX_CELLS            5000000       n·m (after the bias column) above this gets 422
LEARNDYN_MAX_WORK             2000000000    steps·n·m above this gets 422
LEARNDYN_MAX_RECORD_POINTS    10000         record.points above this gets 422
LEARNDYN_MAX_ANSWER_NUMBERS   600000        numbers in a /train answer's arrays (recorded
                                            times × weights, the per-layer arrays, …) above
                                            this get 422; about 15 MB of JSON
LEARNDYN_MAX_RECORDED         10000000      recorded times × weights a run keeps in memory
                                            (whatever record.weights) above this get 422
LEARNDYN_COMPUTE_SECONDS      120           wall time of one whole computation (a run with
                                            its analysis, a landscape, a separability
                                            test, their LPs); past it: 504
LEARNDYN_COMPUTE_SLOTS        (cores)       computations running at once, all worker
                                            processes together
LEARNDYN_QUEUE_SECONDS        2             how long a request waits for a slot; then 503
LEARNDYN_SLOTS_DIR            (unset)       the directory of the compute slots' lock files;
                                            unset: ``learndyn serve`` makes one for its
                                            workers (set it to share one budget with
                                            ``uvicorn --workers``)
LEARNDYN_RETRY_AFTER          5             seconds, the Retry-After of a 503
LEARNDYN_API_KEY              (unset)       when set, compute endpoints need this bearer token
LEARNDYN_CORS_ORIGINS         (empty)       comma-separated origins allowed by CORS
LEARNDYN_NUMBA_CACHE_DIR      (unset)       where the compiled kernel is cached; set it when
                                            the package directory is read-only (else
                                            numba's per-user or a private temporary one)
LEARNDYN_DATA_DIR             .learndyn     where the SQLite database of studies lives
LEARNDYN_DATABASE_URL         (unset)       a SQLAlchemy URL for the studies' database instead
                                            (postgresql+psycopg://… for several replicas)
LEARNDYN_DASK_SCHEDULER       (unset)       tcp://host:port of a Dask cluster for studies;
                                            unset: an in-process LocalCluster
LEARNDYN_STUDY_WORKERS        (cores)       worker processes of the LocalCluster
LEARNDYN_MAX_STUDY_POINTS     100000        points (runs) in one study
LEARNDYN_MAX_STUDY_WORK       1e12          Σ steps·n·m over a study's points
LEARNDYN_MAX_RUNNING_STUDIES  4             studies running at once; more wait, queued
============================  ============  ===================================================
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields

from service import limits
from service.core.budget import Budget


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
    max_answer_numbers: int = limits.DEFAULT_MAX_ANSWER_NUMBERS
    max_recorded: int = limits.DEFAULT_MAX_RECORDED
    compute_seconds: float = limits.DEFAULT_COMPUTE_SECONDS
    compute_slots: int = field(default_factory=_cores)
    queue_seconds: float = 2.0
    slots_dir: str = ""
    retry_after: int = 5
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    workers: int = 1
    max_connections: int = limits.DEFAULT_MAX_CONNECTIONS
    header_seconds: float = limits.DEFAULT_HEADER_SECONDS
    body_seconds: float = limits.DEFAULT_BODY_SECONDS
    keepalive_seconds: int = limits.DEFAULT_KEEPALIVE_SECONDS
    shutdown_seconds: int = limits.DEFAULT_SHUTDOWN_SECONDS
    numba_cache_dir: str = ""
    data_dir: str = ".learndyn"
    database_url: str | None = None
    dask_scheduler: str | None = None
    study_workers: int = field(default_factory=_cores)
    max_study_points: int = limits.DEFAULT_MAX_STUDY_POINTS
    max_study_work: int = limits.DEFAULT_MAX_STUDY_WORK
    max_running_studies: int = limits.DEFAULT_MAX_RUNNING_STUDIES

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

    def budget(self) -> Budget:
        """The limits of one computation, for the core."""
        return Budget(
            max_cells=self.max_cells,
            max_work=self.max_work,
            max_record_points=self.max_record_points,
            compute_seconds=self.compute_seconds,
            max_answer_numbers=self.max_answer_numbers,
            max_recorded=self.max_recorded,
        )

    def check(self) -> None:
        """Raise ValueError if a limit is not positive."""
        for name in (
            "max_body_bytes",
            "max_cells",
            "max_work",
            "max_record_points",
            "max_answer_numbers",
            "max_recorded",
            "study_workers",
            "max_study_points",
            "max_study_work",
            "max_running_studies",
            "max_connections",
            "header_seconds",
            "body_seconds",
            "keepalive_seconds",
            "shutdown_seconds",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"LEARNDYN_{name.upper()} must be positive")
        if self.compute_slots < 1 or self.compute_seconds <= 0 or self.queue_seconds < 0:
            raise ValueError("compute slots and seconds must be positive")


def _integer(raw: str) -> int:
    """An integer, also written as an integral float (``1e12``)."""
    try:
        return int(raw)
    except ValueError:
        value = float(raw)
        if not value.is_integer():
            raise
        return int(value)


def _origins(raw: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in raw.split(",") if o.strip())


_PARSERS: dict[str, Callable[[str], object]] = {
    "int": _integer,
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
