"""Security constraints, live (checklist: Security constraints applied).

HRD-02's live confirmation: the configuration check lives in test_hardening.py;
this one asks the kernel (or, without a view of the engine host, writes).
`--no-live` skips it.
"""

import pytest

from compliance.checks import live as checks


@pytest.mark.control("HRD-02")
def test_read_only_rootfs_live(container, live, verdict):
    """Root filesystem is read-only (live: the kernel's mount table, else a write probe).

    The root mount in /proc/<pid>/mountinfo of the main process is `ro`. Where the
    engine host cannot be looked at, a file created at / of the container, as its
    real uid:gid, through a probe container in its PID namespace, must fail with
    EROFS and leave nothing.
    """
    __tracebackhide__ = True
    verdict(checks.read_only_live(container, live.write(container)))
