"""The engine host's view through a probe container, for an engine whose host testinfra
cannot reach (a tcp:// engine).

One probe container in the host's PID namespace runs the engine host's own script
(compliance/sources/inside.sh) over the host's /proc, for every container at
once: the same kernel facts, read the same way, only reached through the engine
instead of a shell on its host. It runs as root with the two capabilities reading
another user's `/proc/<pid>/root` takes (SYS_PTRACE, DAC_READ_SEARCH), every other
capability dropped, no network, a read-only root, and writes nothing. An engine that
refuses it (no probe image, a rootless or user-namespaced engine) gives no view, or a
partial one: the checks then say what they could not see, never passed.
"""

from compliance.observations import ProbeError
from compliance.sources.inside import SCRIPT, HostView
from compliance.sources.probes.runner import ProbeRunner, Spec

CAPABILITIES = ("SYS_PTRACE", "DAC_READ_SEARCH")


class ProbedHost(HostView):
    """The host of `runner`'s engine, seen from a probe container in its PID namespace."""

    def __init__(self, runner: ProbeRunner):
        self.runner = runner

    @property
    def view(self) -> str:
        return f"engine host ({self.runner.engine.host}) through a probe container in its PID namespace"

    def answer(self, args: list[str]) -> str | None:
        spec = Spec(SCRIPT, tuple(args), pid_mode="host", user="0:0",
                    cap_add=CAPABILITIES, cap_drop=("ALL",))
        try:
            output = self.runner.run([spec])[0]
        except ProbeError:  # e.g. no probe image on the engine: no view, never a crash
            return None
        return None if isinstance(output, ProbeError) else output
