"""The embedded store: SQLite files, for a laptop, a demo or a cluster's two weeks.

A store is one file per day (:mod:`.daily`); one written before day files existed is a
single file and opens as it is (:mod:`.opening`). One module per job:

- :mod:`.schema`: the tables, and the migrations that bring an older file up to date;
- :mod:`.rows`: what a document becomes (its ``events`` row, signal rows, search text);
- :mod:`.sql`: the statements of a write and the queries built from a filter;
- :mod:`.codec`: documents kept small (zstd with dictionaries trained on the store's own);
- :mod:`.store`: :class:`SQLiteStore`, the :class:`~kubetrail.store.base.Store` over one file;
- :mod:`.layout`: where a store of day files keeps its catalog and days;
- :mod:`.idfilter`: which ids a day may hold, in memory (every id once across days);
- :mod:`.merge`: the answers of several days made one;
- :mod:`.daily`: :class:`DailyStore`, the store over day files;
- :mod:`.opening`: which of the two a path holds.
"""

from kubetrail.store.sqlite.daily import DailyStore
from kubetrail.store.sqlite.opening import open_embedded
from kubetrail.store.sqlite.rows import prepare_row
from kubetrail.store.sqlite.store import BULK_ROWS_PER_COMMIT, SQLiteStore

__all__ = ["BULK_ROWS_PER_COMMIT", "DailyStore", "SQLiteStore", "open_embedded", "prepare_row"]
