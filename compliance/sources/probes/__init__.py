"""Live proofs that need traffic or a write: short-lived probe containers that observe,
never judge.

A probe container runs the probe image (a static busybox) inside a target's
namespaces, so the target image needs no tools at all:

- network probes join the source container's network namespace
  (`network_mode: container:<id>`) and try TCP connects (NET-04) or send the
  PostgreSQL SSLRequest (NET-05);
- write probes (HRD-02, only where the engine host cannot show the kernel's mount
  table) join the target's PID namespace and try to create a file on its root
  filesystem through `/proc/<pid>/root`, as the target's own uid:gid with the
  target's capabilities.

A view probe (view.py) looks where testinfra cannot reach: for a tcp:// engine, one
probe container in the host's PID namespace reads every container's /proc with the
engine host's own script (compliance/sources/inside.py), at inventory.

Probes record raw observations (compliance/observations.py); the verdicts are pure
checks in compliance/checks/live.py. The seams: scripts.py and its .sh files (what runs inside),
parse.py (what it printed), plan.py (snapshot + policy -> what to try), runner.py
(one runner for every kind), live.py (one run's observations, every kind in one pool),
view.py (the engine host's view through a probe).
"""

import importlib

PROBE_IMAGE = "passq-fixture/busybox:1.35"  # the --probe-image default
# What the package offers, by module. They run containers through the docker SDK, so they
# are imported on first use (`probes.Live`): a static run reads PROBE_IMAGE only.
EXPORTS = {"KINDS": "live", "Live": "live", "OWNER_LABEL": "runner",
           "ProbeRunner": "runner", "sigterm_interrupts": "runner", "ProbedHost": "view"}
__all__ = ["PROBE_IMAGE", *EXPORTS]


def __getattr__(name):
    if name in EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
