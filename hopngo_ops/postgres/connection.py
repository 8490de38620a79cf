"""One PostgreSQL session for a notebook: opened on first use, answering rows and DataFrames.

The session runs in autocommit: every statement is its own transaction, so each read of
pg_stat_activity sees the server as it is now (inside a transaction the statistics views
keep the snapshot of their first read). Its backend is "the caller's own" that
terminations never touch.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from hopngo_ops.errors import BackendUnavailable
from hopngo_ops.postgres.errors import QueryFailed

APPLICATION_NAME = "hopngo-ops"
CONNECT_TIMEOUT = 5
BACKEND = "postgresql"

Query = str | sql.Composable


class Postgres:
    def __init__(
        self, conninfo: Callable[[], str], *, target: str, connect_timeout: int = CONNECT_TIMEOUT
    ):
        # A callable, so a password reference is resolved at connect time and never stored.
        self._conninfo = conninfo
        self.target = target
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection | None = None

    @classmethod
    def from_targets(cls, targets) -> Postgres:
        """The profile's PostgreSQL; its DSN (which holds no secret) names it in errors."""
        return cls(targets.postgres_conninfo, target=targets.require("postgres_dsn"))

    def __repr__(self) -> str:
        return f"Postgres({self.target!r})"

    @property
    def database(self) -> str:
        """The database the profile names (read from its DSN, without connecting)."""
        return conninfo_to_dict(self.target).get("dbname", "")

    @property
    def connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(
                    self._conninfo(),
                    autocommit=True,
                    connect_timeout=self.connect_timeout,
                    application_name=APPLICATION_NAME,
                    row_factory=dict_row,
                )
            except psycopg.OperationalError as err:
                raise BackendUnavailable(BACKEND, self.target, _reason(err)) from err
        return self._conn

    @property
    def server_version(self) -> int:
        """The server's version as a number: 150004 for 15.4."""
        return self.connection.info.server_version

    def rows(self, query: Query, params: tuple | dict | None = None) -> list[dict]:
        """The rows of `query` as dicts; a lost server is BackendUnavailable."""
        try:
            cursor = self.connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []
        except psycopg.OperationalError as err:
            raise BackendUnavailable(BACKEND, self.target, _reason(err)) from err
        except psycopg.Error as err:
            raise QueryFailed(_first_line(query), _reason(err)) from err

    def frame(
        self, query: Query, params: tuple | dict | None = None, *, columns: list[str] | None = None
    ) -> pd.DataFrame:
        """The rows of `query` as a DataFrame; `columns` keeps its shape when there are none."""
        rows = self.rows(query, params)
        return pd.DataFrame(rows, columns=columns or (list(rows[0]) if rows else None))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _reason(err: psycopg.Error) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _first_line(query: Query) -> str:
    text = query if isinstance(query, str) else query.as_string()
    return " ".join(text.split())[:120]
