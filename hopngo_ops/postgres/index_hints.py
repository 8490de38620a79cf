"""The runbook's missing-index hint (pg_stats by n_distinct), made to point at something.

The runbook lists columns by `n_distinct`. Alone that ranks every unique column first,
indexed or not. Here each column also says whether an index starts with it, whether it is a
foreign key, and how its table is read (sequential scans against index scans). The hint is a
foreign key no index starts with, on a table big enough for it to matter: services look rows
up and join by their foreign keys, so each such lookup scans the table. A high n_distinct
alone names created_at and amount columns too, which no query filters by.
"""

from __future__ import annotations

import pandas as pd

from hopngo_ops.postgres.connection import Postgres

# n_distinct below 0 is a fraction of the rows (-1: unique); above, a count.
_COLUMNS = """
SELECT s.tablename AS "table", s.attname AS "column", s.n_distinct,
       round(s.correlation::numeric, 3)::float AS correlation,
       round(CASE WHEN s.n_distinct >= 0 THEN s.n_distinct
                  ELSE -s.n_distinct * greatest(c.reltuples, 0) END) AS distinct_values,
       greatest(c.reltuples, 0)::bigint AS table_rows,
       coalesce(t.seq_scan, 0) AS seq_scans, coalesce(t.idx_scan, 0) AS index_scans,
       EXISTS (SELECT 1 FROM pg_index AS i
               WHERE i.indrelid = c.oid AND i.indkey[0] = att.attnum) AS indexed,
       EXISTS (SELECT 1 FROM pg_constraint AS k
               WHERE k.conrelid = c.oid AND k.contype = 'f'
                 AND k.conkey[1] = att.attnum) AS foreign_key
FROM pg_stats AS s
JOIN pg_namespace AS n ON n.nspname = s.schemaname
JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = s.tablename
JOIN pg_attribute AS att ON att.attrelid = c.oid AND att.attname = s.attname
LEFT JOIN pg_stat_user_tables AS t ON t.relid = c.oid
WHERE s.schemaname = %s
ORDER BY distinct_values DESC, "table", "column"
"""

COLUMNS = [
    "table",
    "column",
    "n_distinct",
    "correlation",
    "distinct_values",
    "table_rows",
    "seq_scans",
    "index_scans",
    "indexed",
    "foreign_key",
    "hint",
]


def index_hints(pg: Postgres, *, schema: str = "public", min_rows: int = 1000) -> pd.DataFrame:
    """Every analysed column of `schema`, by distinct values; `hint` where an index may miss."""
    table = pg.frame(_COLUMNS, (schema,), columns=COLUMNS[:-1])
    missing = table["foreign_key"] & ~table["indexed"] & (table["table_rows"] >= min_rows)
    table["hint"] = missing.map({True: "foreign key without an index", False: ""})
    return table
