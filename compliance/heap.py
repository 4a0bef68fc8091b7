"""What an audit keeps, kept out of the cycle collector's way.

An audit keeps every result until its reports are written (pytest's reports,
pytest-html's rows, junitxml's cases, the audit's own record), so what survives
one test survives the run. The collector's full passes walk all of it anyway, only
to find nearly all of it alive, and after the run pytest collects twice more (for
unraisable exceptions) and the interpreter once at exit. So what has survived is
frozen out of the collector (`gc.freeze`) after the first test (the snapshot and the
collected tests), then every SETTLED tests, and once the audit is over.

What a test leaves for the collector is pytest's own cycles (requests, reports,
tracebacks), all of them garbage by the next test. The collector's young generation
is looked at every 700 allocations by default, which on a large stack runs it, and
its middle generation, far more often than there is garbage to free; from the first
test it runs every YOUNG allocations instead. benchmarks/README.md has the figures.

The last clean-up of the session unfreezes what was frozen and restores the
thresholds, so that an in-process run (pytester) leaks nothing, and the
interpreter's exit freezes it again.
"""

import atexit
import gc

SETTLED = 500  # tests between two freezes
YOUNG = 10_000  # allocations between two collections of the young generation, during the run


class Heap:
    """The heap policy of one audit session."""

    def __init__(self) -> None:
        self.tests = 0
        self.thresholds = None  # the collector's own, while the run has replaced them

    def test_done(self) -> None:
        self.tests += 1
        if self.tests == 1:
            self.thresholds = gc.get_threshold()
            gc.set_threshold(YOUNG, *self.thresholds[1:])
        if self.tests % SETTLED == 1:
            gc.freeze()

    @staticmethod
    def run_over() -> None:
        gc.freeze()
        atexit.unregister(gc.freeze)  # registered once, however many sessions ran
        atexit.register(gc.freeze)

    def release(self) -> None:
        gc.unfreeze()
        if self.thresholds is not None:
            gc.set_threshold(*self.thresholds)
            self.thresholds = None
