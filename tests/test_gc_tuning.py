"""The collector's thresholds are raised for a block and restored after it."""

from __future__ import annotations

import gc

import pytest

from kubetrail.gc_tuning import THRESHOLDS, few_collections


def test_fewer_collections_only_inside_the_block_even_when_it_fails() -> None:
    before = gc.get_threshold()
    assert before != THRESHOLDS
    with pytest.raises(RuntimeError), few_collections():
        assert gc.get_threshold() == THRESHOLDS
        raise RuntimeError("the run failed")
    assert gc.get_threshold() == before
