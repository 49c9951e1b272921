"""The id filter of a day file: never says "not here" for an id it holds, and its
batched lookup agrees with looking each id up on its own."""

from __future__ import annotations

import random
import zlib

import pytest

from kubetrail.store.sqlite.idfilter import BUCKETS, IdFilter, Probe


def one_by_one(id_filter: IdFilter, ids: list[str]) -> list[str]:
    out = []
    for ident in ids:
        h = zlib.crc32(ident.encode()) % BUCKETS
        if id_filter.bits[h >> 3] >> (h & 7) & 1:
            out.append(ident)
    return out


@pytest.mark.parametrize("batch", [1, 2, 7, 1000])
def test_a_probe_finds_every_id_added_and_agrees_with_single_lookups(batch: int) -> None:
    rng = random.Random(batch)
    stored = [f"{rng.getrandbits(64):016x}:{n}" for n in range(20_000)]
    id_filter = IdFilter()
    id_filter.add(stored)
    for start in range(0, 4000, batch):
        ids = [*stored[start : start + batch // 2], *(f"new-{start}-{i}" for i in range(batch))]
        ids = ids[:batch]
        got = id_filter.maybe(Probe(ids))
        assert got == one_by_one(id_filter, ids)
        assert set(ids) & set(stored) <= set(got)


def test_an_empty_filter_holds_nothing() -> None:
    assert IdFilter().maybe(Probe(["a:1", "b:2"])) == []
    assert IdFilter().maybe(Probe([])) == []
