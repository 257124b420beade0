"""Configuration from environment variables, with defaults that serve.

The one limits table of the service lives here. Every variable is optional:

=============================  =============  ===============================================
variable                       default        meaning
=============================  =============  ===============================================
LEARNDYN_HOST                  127.0.0.1      address ``learndyn serve`` binds
LEARNDYN_PORT                  8000           port ``learndyn serve`` binds
LEARNDYN_MAX_BODY_BYTES        8388608        request bodies above this get 413
LEARNDYN_MAX_CELLS             5000000        n·m (after the bias column) above this gets 422
LEARNDYN_MAX_WORK              2000000000     steps·n·m above this gets 422
LEARNDYN_NUMBA_CACHE_DIR       (unset)        where the compiled kernel is cached; set it when
                                              the package directory is read-only (else
                                              numba's per-user or a temporary directory)
=============================  =============  ===============================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class Settings:
    """The service's configuration; :meth:`from_env` reads ``LEARNDYN_<FIELD>``."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 8 * 1024 * 1024
    max_cells: int = 5_000_000
    max_work: int = 2_000_000_000
    numba_cache_dir: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default ``os.environ``); raises ValueError naming a bad
        variable."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            key = f"LEARNDYN_{f.name.upper()}"
            if key not in env:
                continue
            raw = env[key]
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ValueError(f"{key} must be an integer; got {raw!r}") from None
            else:
                values[f.name] = raw
        return cls(**values)  # type: ignore[arg-type]
