"""The in-memory groups of whole day files: answered only while every file is at the
version read, bounded by rows, least recently used first out."""

from __future__ import annotations

from kubetrail.store.sqlite.groupcache import GroupCache
from kubetrail.store.sqlite.merge import GroupRow


def rows(n: int) -> list[GroupRow]:
    return [(0, (f"g{i}",), 1, i, i, None) for i in range(n)]


AB = (("a", (5, 10)), ("b", (7, 3)))


def test_an_entry_answers_only_while_its_files_are_at_their_versions() -> None:
    cache = GroupCache(max_rows=100)
    cache.put(AB, "q", rows(3))
    assert cache.get(AB, "q") == rows(3)
    assert cache.get((("a", (5, 10)), ("b", (8, 4))), "q") is None  # b was written to
    assert cache.get(AB[:1], "q") is None  # other files
    assert cache.get(AB, "other") is None
    assert (cache.hits, cache.misses) == (1, 3)
    cache.put((("a", (5, 10)), ("b", (8, 4))), "q", rows(4))  # replaces the stale one
    assert cache.rows == 4


def test_the_least_recently_used_go_first_and_rows_stay_bounded() -> None:
    cache = GroupCache(max_rows=100)
    for name in "abcd":
        cache.put(((name, (1, 1)),), "q", rows(25))
    assert cache.get((("a", (1, 1)),), "q") is not None  # a is now the most recent
    cache.put((("e", (1, 1)),), "q", rows(25))
    assert cache.rows <= 100
    assert cache.get((("b", (1, 1)),), "q") is None
    assert all(cache.get(((n, (1, 1)),), "q") is not None for n in "acde")


def test_an_answer_too_big_is_not_kept_and_a_removed_file_is_forgotten() -> None:
    cache = GroupCache(max_rows=100)
    cache.put(AB, "q", rows(51))
    assert cache.get(AB, "q") is None
    cache.put(AB, "q", rows(5))
    cache.put(AB[:1], "r", rows(5))
    cache.put(AB[1:], "q", rows(5))
    cache.drop("a")
    assert cache.rows == 5 and cache.get(AB[:1], "r") is None
    assert cache.get(AB[1:], "q") == rows(5)
