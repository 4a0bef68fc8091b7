"""The heap policy of an audit (compliance/heap.py): what survived is frozen out of the
cycle collector as the run goes, the young generation is collected less often, and the
session's last clean-up gives both back."""

import gc

from compliance.heap import SETTLED, YOUNG, Heap


def test_what_survived_is_frozen_after_the_first_test_and_every_settled_tests_then_released():
    heap = Heap()
    before = gc.get_threshold()
    try:
        frozen = []
        for _ in range(SETTLED + 1):
            heap.test_done()
            frozen.append(gc.get_freeze_count())
            gc.unfreeze()
        assert [i for i, count in enumerate(frozen, 1) if count] == [1, SETTLED + 1]
        assert gc.get_threshold() == (YOUNG, *before[1:])
    finally:
        heap.release()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_a_session_without_tests_leaves_the_collector_as_it_was():
    before = gc.get_threshold()
    Heap().release()
    assert gc.get_threshold() == before
