"""Notice a stack changing under the audit: a container removed, recreated or
reconfigured after the snapshot was taken, or one that stopped and started again.

The checks read one snapshot (compliance.sources.compose). A container removed,
recreated (its old ID is destroyed) or reconfigured in the middle of a run no
longer matches it, so a pass for it would vouch for a container that is gone:
the plugin turns its remaining controls into `error`. A container that only
stopped or restarted (a crash loop under `restart: always`) keeps its
configuration, so the snapshot still describes it: the configuration
controls judge it, and HLT-02 fails it for not staying up. The engine's event
stream, opened before the snapshot is taken (one request, held for the run),
names every such container.
"""

import contextlib
import threading
from collections.abc import Mapping

from compliance.sources.compose import PROJECT_LABEL
from compliance.sources.engine import Engine

# Container events after which the snapshot no longer describes the container.
RECONFIGURED = {"destroy": "removed", "update": "reconfigured (docker update)", "rename": "renamed"}
# Events that change whether it runs, not how it is configured (HLT-02 judges them).
# Not health_status (HLT-02 judges the snapshot's health), not exec_* (ours and
# healthchecks'), not kill (a signal that may change nothing).
RESTARTED = {"die": "stopped", "start": "started", "restart": "restarted", "pause": "paused",
             "unpause": "unpaused", "oom": "ran out of memory"}
ACTIONS = {**RECONFIGURED, **RESTARTED}


class Watch:
    """The containers of one project that changed since the watch started."""

    def __init__(self, engine: Engine, project: str):
        self._changed: dict[str, list[str]] = {}
        self._stream = None
        self.problem = ""
        try:
            self._stream = engine.api.events(
                decode=True, filters={"type": "container", "label": f"{PROJECT_LABEL}={project}"})
        except Exception as exc:  # an engine without events: the audit goes on, unwatched
            self.problem = f"cannot watch the engine's events: {exc}"
            return
        threading.Thread(target=self._read, name="passq-compliance-events", daemon=True).start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                self.seen(event)
        except Exception:  # closed at the end of the run, or the engine went away
            return

    def seen(self, event: Mapping) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        container_id = (event.get("Actor") or {}).get("ID") or event.get("id") or ""
        if action in ACTIONS and container_id:
            happened = self._changed.setdefault(container_id, [])
            if ACTIONS[action] not in happened:
                happened.append(ACTIONS[action])

    def changed(self, container_id: str) -> str | None:
        """Why the snapshot no longer describes this container (removed, recreated,
        reconfigured), or None; what it also did before is named too."""
        happened = self._changed.get(container_id) or []
        if not set(happened) & set(RECONFIGURED.values()):
            return None
        return (f"the container was {', then '.join(happened)} during the run: the snapshot "
                "taken at the start no longer describes it")

    def restarts(self, container_id: str) -> tuple[str, ...]:
        """What happened to the container's process since the snapshot (stopped, started,
        ...), in order: it does not stay up, but its configuration is still the snapshot's."""
        return tuple(e for e in self._changed.get(container_id) or () if e in RESTARTED.values())

    def close(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.close()
