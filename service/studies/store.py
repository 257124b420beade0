"""The SQL store of studies and their rows (SQLAlchemy 2; SQLite by default, PostgreSQL too).

Two tables: ``studies`` (one row per study: its spec, status, progress and timestamps, and
which service instance runs it) and ``study_rows`` (one row per finished point, keyed by the
study and the point's index, so a point is stored at most once). Only the service writes:
the workers send their rows back through the futures. The schema is created and upgraded by
Alembic (:mod:`service.studies.migrations`) when the store opens.

SQLite runs in WAL mode with a busy timeout, so readers never block the writer and short
write transactions from several threads (or ``uvicorn --workers``) queue instead of failing;
``synchronous=NORMAL`` (no fsync per commit, only at checkpoints): a killed service loses
nothing committed, a power cut may lose the last commits but never corrupts the file, and
the points lost are run again on resume (runs are deterministic).
A study is *claimed* by the instance that runs it (``runner``, refreshed in ``heartbeat``);
on start-up an instance resumes the unfinished studies whose runner has gone quiet, so with
PostgreSQL several replicas share one database without running a study twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from service.vocabulary import StudyStatus

STALE_AFTER = timedelta(seconds=10)
"""A running study whose runner has not refreshed its heartbeat for this long is resumed by
whichever instance starts next (the runner refreshes it every few seconds)."""

BUSY_TIMEOUT_MS = 30_000
"""SQLite: how long a writer waits for the lock before it fails."""


class Base(DeclarativeBase):
    pass


class StudyRecord(Base):
    __tablename__ = "studies"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    axes: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), index=True)
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    started: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    detail: Mapped[str | None] = mapped_column(Text)
    runner: Mapped[str | None] = mapped_column(String(64))
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RowRecord(Base):
    __tablename__ = "study_rows"

    study_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    verdict: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[float | None] = mapped_column(Float)
    accuracy: Mapped[float | None] = mapped_column(Float)
    stopped_by: Mapped[str | None] = mapped_column(String(20))
    steps: Mapped[int | None] = mapped_column(BigInteger)
    log_rate_norm: Mapped[float | None] = mapped_column(Float)
    apparent_convergence: Mapped[bool | None] = mapped_column(Boolean)
    weights: Mapped[str | None] = mapped_column(Text)
    """JSON text: Python's float repr round-trips every bit."""
    seconds: Mapped[float] = mapped_column(Float)
    failure: Mapped[str | None] = mapped_column(Text)
    endpoint: Mapped[str | None] = mapped_column(Text)
    """A census run's endpoint as JSON text (:mod:`service.studies.census`); null otherwise."""
    extrapolation: Mapped[str | None] = mapped_column(Text)
    """An extrapolation point's test of the log rule as JSON text
    (:mod:`service.studies.extrapolation`); null otherwise."""


@dataclass(frozen=True, slots=True)
class Row:
    """A finished point, as the workers return it and the store keeps it."""

    index: int
    params: dict[str, Any]
    verdict: str | None
    error: float | None
    accuracy: float | None
    stopped_by: str | None
    steps: int | None
    log_rate_norm: float | None
    apparent_convergence: bool | None
    weights: list[float] | None
    seconds: float
    failure: str | None = None
    endpoint: dict[str, Any] | None = None
    """A census run's identified endpoint (:mod:`service.studies.census`); None otherwise."""
    extrapolation: dict[str, Any] | None = None
    """An extrapolation point's test of the log rule (:mod:`service.studies.extrapolation`);
    None otherwise."""


def now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone; every one stored is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def database_url(data_dir: str, database_url: str | None) -> str:
    """``database_url`` when given, else a SQLite file under ``data_dir`` (created)."""
    if database_url:
        return database_url
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{os.path.abspath(os.path.join(data_dir, 'learndyn.sqlite3'))}"


class Store:
    """The studies' database: opened (and migrated) once per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        sqlite = url.startswith("sqlite")
        self.engine: Engine = create_engine(
            url,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000} if sqlite else {},
            pool_pre_ping=not sqlite,
        )
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        from service.studies.migrations import upgrade

        upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # --- studies

    def add_study(self, record: StudyRecord) -> None:
        with self.session() as s:
            s.add(record)

    def study(self, study_id: str) -> StudyRecord | None:
        with self.session() as s:
            record = s.get(StudyRecord, study_id)
            if record is not None:
                _fix_zones(record)
            return record

    def studies(self, offset: int, limit: int) -> tuple[list[StudyRecord], int]:
        with self.session() as s:
            total = s.scalar(select(func.count()).select_from(StudyRecord)) or 0
            found = s.scalars(
                select(StudyRecord)
                .order_by(StudyRecord.created.desc(), StudyRecord.id)
                .offset(offset)
                .limit(limit)
            ).all()
            for record in found:
                _fix_zones(record)
            return list(found), total

    def claim(self, study_id: str, runner: str) -> bool:
        """Take the study for ``runner`` unless another live runner has it; mark it running."""
        stale = now() - STALE_AFTER
        with self.session() as s:
            record = s.get(StudyRecord, study_id, with_for_update=True)
            if record is None or record.status not in (StudyStatus.QUEUED, StudyStatus.RUNNING):
                return False
            beat = _aware(record.heartbeat)
            if record.runner not in (None, runner) and beat is not None and beat > stale:
                return False
            record.runner, record.heartbeat = runner, now()
            record.status = StudyStatus.RUNNING
            record.started = record.started or now()
            return True

    def beat(self, study_id: str, runner: str) -> None:
        with self.session() as s:
            s.execute(
                update(StudyRecord)
                .where(StudyRecord.id == study_id, StudyRecord.runner == runner)
                .values(heartbeat=now())
            )

    def unfinished(self) -> list[str]:
        """The studies queued or running whose runner has gone quiet (or never was)."""
        stale = now() - STALE_AFTER
        with self.session() as s:
            found = s.scalars(
                select(StudyRecord).where(
                    StudyRecord.status.in_([StudyStatus.QUEUED, StudyStatus.RUNNING])
                )
            ).all()
            return [
                r.id
                for r in sorted(found, key=lambda r: _aware(r.created) or now())
                if r.heartbeat is None
                or (_aware(r.heartbeat) or now()) <= stale
                or r.status == StudyStatus.QUEUED
            ]

    def finish(self, study_id: str, status: StudyStatus, detail: str | None = None) -> None:
        """End a study (unless it was cancelled meanwhile: cancelled stays)."""
        with self.session() as s:
            record = s.get(StudyRecord, study_id, with_for_update=True)
            if record is None:
                return
            if record.status == StudyStatus.CANCELLED and status != StudyStatus.CANCELLED:
                return
            record.status, record.finished, record.detail = status, now(), detail
            record.runner = None

    def cancel(self, study_id: str) -> bool:
        """Mark a queued or running study cancelled; False when it had already ended."""
        with self.session() as s:
            record = s.get(StudyRecord, study_id, with_for_update=True)
            if record is None or record.status not in (StudyStatus.QUEUED, StudyStatus.RUNNING):
                return False
            record.status, record.finished = StudyStatus.CANCELLED, now()
            return True

    # --- rows

    def add_rows(self, study_id: str, rows: Sequence[Row]) -> None:
        """Store finished points (one transaction) and count them into the progress; a point
        already stored is skipped, so a resumed study never stores one twice."""
        if not rows:
            return
        with self.session() as s:
            have = set(
                s.scalars(
                    select(RowRecord.index).where(
                        RowRecord.study_id == study_id,
                        RowRecord.index.in_([r.index for r in rows]),
                    )
                )
            )
            fresh = [r for r in rows if r.index not in have]
            for r in fresh:
                fields = asdict(r)
                for name in _JSON_TEXT:
                    value = fields[name]
                    fields[name] = None if value is None else json.dumps(value)
                s.add(RowRecord(study_id=study_id, **fields))
            s.execute(
                update(StudyRecord)
                .where(StudyRecord.id == study_id)
                .values(
                    done=StudyRecord.done + len(fresh),
                    failed=StudyRecord.failed + sum(r.failure is not None for r in fresh),
                    heartbeat=now(),
                )
            )

    def done_indices(self, study_id: str) -> set[int]:
        with self.session() as s:
            return set(s.scalars(select(RowRecord.index).where(RowRecord.study_id == study_id)))

    def rows(self, study_id: str, offset: int, limit: int) -> tuple[list[Row], int]:
        with self.session() as s:
            total = (
                s.scalar(
                    select(func.count())
                    .select_from(RowRecord)
                    .where(RowRecord.study_id == study_id)
                )
                or 0
            )
            found = s.scalars(
                select(RowRecord)
                .where(RowRecord.study_id == study_id)
                .order_by(RowRecord.index)
                .offset(offset)
                .limit(limit)
            ).all()
            return [_row(r) for r in found], total

    def endpoints(self, study_id: str) -> list[tuple[int, dict[str, Any] | None]]:
        """(index, endpoint) of every finished census run, in index order (None: the run
        failed)."""
        with self.session() as s:
            found = s.execute(
                select(RowRecord.index, RowRecord.endpoint)
                .where(RowRecord.study_id == study_id)
                .order_by(RowRecord.index)
            ).all()
            return [(index, None if e is None else json.loads(e)) for index, e in found]

    def extrapolations(self, study_id: str) -> list[Row]:
        """Every finished extrapolation point, in index order: the rows as :meth:`rows`
        gives them, without the paging (the summary and the figure read every one)."""
        with self.session() as s:
            found = s.scalars(
                select(RowRecord).where(RowRecord.study_id == study_id).order_by(RowRecord.index)
            ).all()
            return [_row(r) for r in found]

    def verdict_counts(self, study_id: str) -> list[tuple[dict[str, Any], str | None]]:
        """(params, verdict) of every finished point, for the summary."""
        with self.session() as s:
            found = s.execute(
                select(RowRecord.params, RowRecord.verdict).where(RowRecord.study_id == study_id)
            ).all()
            return [(params, verdict) for params, verdict in found]


_JSON_TEXT = ("weights", "endpoint", "extrapolation")
"""The row's fields kept as JSON text (Python's float repr round-trips every bit)."""


def _row(r: RowRecord) -> Row:
    fields = {f.name: getattr(r, f.name) for f in dataclass_fields(Row)}
    for name in _JSON_TEXT:
        text = fields[name]
        fields[name] = None if text is None else json.loads(text)
    return Row(**fields)


def _fix_zones(record: StudyRecord) -> None:
    record.created = _aware(record.created) or now()
    record.started = _aware(record.started)
    record.finished = _aware(record.finished)
    record.heartbeat = _aware(record.heartbeat)


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
