"""Security constraints, live (checklist: Security constraints applied).

HRD-02's live confirmation: the configuration check lives in test_hardening.py;
this one writes. `--no-live` skips it.
"""

import pytest

from compliance.checks import live as checks


@pytest.mark.control("HRD-02")
def test_read_only_rootfs_live(container, live, verdict):
    """Root filesystem is read-only (live write probe).

    A file created at / of the container, as its real uid:gid, through a probe
    container in its PID namespace, must fail with EROFS and leave nothing.
    """
    __tracebackhide__ = True
    verdict(checks.read_only_write(live.write(container)))
