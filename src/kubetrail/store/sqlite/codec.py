"""How the embedded store keeps documents small: zstd with a dictionary trained
on the store's own documents.

Event documents are small (2-6 KB) and alike (the same keys, images, label
sets, node names over and over): plain compression gains little on one of
them, a dictionary trained on a few thousand of them gains 5-9x at ~4 µs per
document to compress and ~2 µs to read back. The dictionaries live in the
database (``zdicts``), so any process opening the file reads every document.

A document is stored as orjson bytes (always starting with ``{``) until the
store has seen :data:`TRAIN_AT` of them; then a dictionary is trained on those
and every later document is a zstd frame naming its dictionary's id. After
:data:`RETRAIN_EVERY` more documents a new dictionary is trained on a sample of
the recent ones (the cluster's content drifts: new kinds, images, CRDs). Old
dictionaries are kept: they are 32 KB each and old rows still name them.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from typing import Any

import orjson
import zstandard

TRAIN_AT = 2000
RETRAIN_EVERY = 250_000
DICT_BYTES = 32 * 1024
LEVEL = 3
_SAMPLES = 2000
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

SCHEMA = """
CREATE TABLE IF NOT EXISTS zdicts (
    id INTEGER PRIMARY KEY,
    dict BLOB NOT NULL,
    trained_on INTEGER NOT NULL
)
"""


class DocCodec:
    """Encodes under the store's write lock; decodes from any thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._dicts: dict[int, zstandard.ZstdCompressionDict] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._compressor: zstandard.ZstdCompressor | None = None
        self._samples: list[bytes] = []
        self._seen = 0  # documents encoded since the current dictionary
        self._rng = random.Random(0)
        self._load(conn)
        if self._dicts:
            newest = max(self._dicts)
            self._compressor = zstandard.ZstdCompressor(level=LEVEL, dict_data=self._dicts[newest])

    def _load(self, conn: sqlite3.Connection) -> None:
        for ident, blob in conn.execute("SELECT id, dict FROM zdicts"):
            if ident not in self._dicts:
                self._dicts[ident] = zstandard.ZstdCompressionDict(blob)

    # -- writing (called with the store's write lock held) -------------------------

    def encode_batch(self, conn: sqlite3.Connection, docs: list[bytes]) -> list[bytes]:
        """The stored form of ``docs``; may train a dictionary first (inside the
        caller's transaction, so a dictionary exists iff rows using it do)."""
        self._sample(docs)
        due = TRAIN_AT if self._compressor is None else RETRAIN_EVERY
        if self._seen >= due and len(self._samples) >= min(TRAIN_AT, _SAMPLES) // 2:
            self._train(conn)
        if self._compressor is None:
            return docs
        compress = self._compressor.compress
        return [compress(d) for d in docs]

    def _sample(self, docs: list[bytes]) -> None:
        # reservoir sampling: a uniform sample of the documents since the last dictionary
        for doc in docs:
            self._seen += 1
            if len(self._samples) < _SAMPLES:
                self._samples.append(doc)
            else:
                slot = self._rng.randrange(self._seen)
                if slot < _SAMPLES:
                    self._samples[slot] = doc

    def _train(self, conn: sqlite3.Connection) -> None:
        ident = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM zdicts").fetchone()[0]
        try:
            trained = zstandard.train_dictionary(
                DICT_BYTES, list[bytes | bytearray | memoryview](self._samples), dict_id=ident
            )
        except zstandard.ZstdError:
            # too few or too uniform samples: go on as before, try again later
            self._seen = 0
            return
        conn.execute(
            "INSERT INTO zdicts (id, dict, trained_on) VALUES (?, ?, ?)",
            (ident, trained.as_bytes(), len(self._samples)),
        )
        with self._lock:
            self._dicts[ident] = trained
        self._compressor = zstandard.ZstdCompressor(level=LEVEL, dict_data=trained)
        self._samples = []
        self._seen = 0

    def rollback(self, conn: sqlite3.Connection) -> None:
        """The transaction that may have added a dictionary was rolled back."""
        with self._lock:
            stored = {row[0] for row in conn.execute("SELECT id FROM zdicts")}
            for ident in [i for i in self._dicts if i not in stored]:
                del self._dicts[ident]
            newest = max(self._dicts) if self._dicts else None
        self._compressor = (
            zstandard.ZstdCompressor(level=LEVEL, dict_data=self._dicts[newest])
            if newest is not None
            else None
        )

    # -- reading (any thread) ---------------------------------------------------------

    def decode(self, blob: bytes, conn: sqlite3.Connection) -> Any:
        return orjson.loads(self.decode_json(blob, conn))

    def decode_json(self, blob: bytes, conn: sqlite3.Connection) -> bytes:
        """The document's JSON bytes."""
        if not blob.startswith(_ZSTD_MAGIC):
            return blob
        ident = zstandard.get_frame_parameters(blob).dict_id
        decompressors: dict[int, zstandard.ZstdDecompressor] | None = getattr(
            self._local, "decompressors", None
        )
        if decompressors is None:
            decompressors = self._local.decompressors = {}
        dec = decompressors.get(ident)
        if dec is None:
            with self._lock:
                if ident not in self._dicts:  # trained by another process since we opened
                    self._load(conn)
                dictionary = self._dicts.get(ident)
            if dictionary is None:
                raise ValueError(f"document compressed with unknown dictionary {ident}")
            dec = decompressors[ident] = zstandard.ZstdDecompressor(dict_data=dictionary)
        return dec.decompress(blob)
