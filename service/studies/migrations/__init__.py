"""The studies' schema migrations (Alembic), applied when a store opens.

``upgrade(engine)`` brings the database to the newest revision in ``versions/``; SQLite runs
in batch mode (``render_as_batch``), since it cannot ALTER most of a table in place. A new
revision: ``alembic -c service/studies/migrations/alembic.ini revision -m "..."`` with
``LEARNDYN_DATABASE_URL`` (or the default SQLite file) as the database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

HERE = Path(__file__).resolve().parent


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return cfg


def upgrade(engine: Engine) -> None:
    """Apply every migration not yet applied to ``engine``'s database."""
    cfg = config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
