"""What an audit keeps, kept out of the cycle collector's way.

An audit keeps every result until its reports are written (pytest's reports,
pytest-html's rows, junitxml's cases, the audit's own record), so what survives
one test survives the run. The collector's full passes walk all of it anyway:
at 200 containers 7 passes took 0.6 s and freed 4,400 of 400,000 objects, and
after the run pytest collects twice more (for unraisable exceptions) and the
interpreter once at exit (about 1 s). So what has survived is frozen out of the
collector (`gc.freeze`) after the first test (the snapshot and the collected tests),
then every SETTLED tests, and once the audit is over; the last
clean-up of the session unfreezes it, so that an in-process run (pytester)
leaks nothing, and the interpreter's exit freezes it again.
"""

import atexit
import gc

SETTLED = 500  # tests between two freezes


class Heap:
    """The heap policy of one audit session."""

    def __init__(self) -> None:
        self.tests = 0

    def test_done(self) -> None:
        self.tests += 1
        if self.tests % SETTLED == 1:
            gc.freeze()

    @staticmethod
    def run_over() -> None:
        gc.freeze()
        atexit.unregister(gc.freeze)  # registered once, however many sessions ran
        atexit.register(gc.freeze)

    @staticmethod
    def release() -> None:
        gc.unfreeze()
