"""Studies: many /train runs as one job, run on Dask, stored in SQL, watched live.

* :mod:`~service.studies.grid` — a sweep's axes expanded into points;
* :mod:`~service.studies.worker` — the task a Dask worker runs (the core's ``train``, no HTTP);
* :mod:`~service.studies.runner` — the cluster, the batches, cancel, resume;
* :mod:`~service.studies.store` — the SQL store (SQLAlchemy; SQLite by default) and its
  :mod:`~service.studies.migrations`;
* :mod:`~service.studies.jobs` — submit, look up, list, rows, cancel, as the routers see them.

:class:`StudiesHandle` opens them once per app: at start-up when a database already exists
(to resume what a previous run left unfinished), else on the first request that needs them.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from service.settings import Settings

if TYPE_CHECKING:
    from service.studies.jobs import Studies


class StudiesHandle:
    """Opens the app's :class:`~service.studies.jobs.Studies` on first call, once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._studies: Studies | None = None
        self._lock = threading.Lock()

    def stored(self) -> bool:
        """Whether a database of studies exists already (a configured URL always counts)."""
        if self.settings.database_url:
            return True
        return os.path.exists(os.path.join(self.settings.data_dir, "learndyn.sqlite3"))

    def __call__(self) -> Studies:
        with self._lock:
            if self._studies is None:
                from service.studies.jobs import Studies

                self._studies = Studies(self.settings, self.settings.budget())
            return self._studies

    def close(self) -> None:
        with self._lock:
            if self._studies is not None:
                self._studies.close()
                self._studies = None
