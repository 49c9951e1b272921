"""The collector's thresholds are raised for a block and restored after it."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from kubetrail.gc_tuning import THRESHOLDS, few_collections


def test_fewer_collections_only_inside_the_block_even_when_it_fails() -> None:
    before = gc.get_threshold()
    assert before != THRESHOLDS
    with pytest.raises(RuntimeError), few_collections():
        assert gc.get_threshold() == THRESHOLDS
        raise RuntimeError("the run failed")
    assert gc.get_threshold() == before


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def test_a_clock_collects_cycles_the_raised_thresholds_would_leave() -> None:
    with few_collections(full_every=0.05):
        gc.collect()  # nothing pending from before
        dead = threading.Event()
        node = _Node()
        weakref.finalize(node, dead.set)
        del node  # garbage now, but far below any threshold
        assert dead.wait(5), "the cycle was not collected"


def test_without_a_clock_no_thread_is_left_behind() -> None:
    before = {t.name for t in threading.enumerate()}
    with few_collections():
        assert {t.name for t in threading.enumerate()} == before
