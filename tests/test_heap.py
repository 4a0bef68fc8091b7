"""The heap policy of an audit (compliance/heap.py): what survived is frozen out of the
cycle collector as the run goes, and released by the session's last clean-up."""

import gc

from compliance.heap import SETTLED, Heap


def test_what_survived_is_frozen_after_the_first_test_and_every_settled_tests_then_released():
    heap = Heap()
    try:
        frozen = []
        for _ in range(SETTLED + 1):
            heap.test_done()
            frozen.append(gc.get_freeze_count())
            Heap.release()
        assert [i for i, count in enumerate(frozen, 1) if count] == [1, SETTLED + 1]
    finally:
        Heap.release()
    assert gc.get_freeze_count() == 0
