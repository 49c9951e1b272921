"""The embedded store: one SQLite file, for a laptop, a demo or a small cluster.

One module per job:

- :mod:`.schema`: the tables, and the migrations that bring an older file up to date;
- :mod:`.rows`: what a document becomes (its ``events`` row, signal rows, search text);
- :mod:`.sql`: the statements of a write and the queries built from a filter;
- :mod:`.codec`: documents kept small (zstd with dictionaries trained on the store's own);
- :mod:`.store`: :class:`SQLiteStore`, the :class:`~kubetrail.store.base.Store` over them.
"""

from kubetrail.store.sqlite.rows import prepare_row
from kubetrail.store.sqlite.store import BULK_ROWS_PER_COMMIT, SQLiteStore

__all__ = ["BULK_ROWS_PER_COMMIT", "SQLiteStore", "prepare_row"]
