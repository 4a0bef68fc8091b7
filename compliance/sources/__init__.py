"""Where facts come from: each source builds model objects and none judges them.

The sources that reach a running stack (`engine`, `compose`, `swarm`, `inside`,
`changes`) load the docker SDK, requests and testinfra, most of a run's start-up.
Reached as attributes of this package (`sources.engine.connect(...)`), they are
imported on first use: a static run (--static-only) never connects, so never
pays for them.
"""

import importlib

LIVE = frozenset({"changes", "compose", "engine", "inside", "swarm"})


def __getattr__(name):
    if name in LIVE:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
