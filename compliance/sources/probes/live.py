"""One run's live observations, each kind probed once, all kinds in one pool.

A kind (flows for NET-04, tls for NET-05, writes for HRD-02's write probe: the
catalog's `Control.probe`) is a row of KIND: how to plan its probes, and what it
observed when they could not run at all. Every kind the run will read (`together`)
is probed at once, so their probe containers run concurrently: in the background
from `start()` on (a denied flow's connect timeout then passes while other controls
are judged), else on the first read. The observations are the same either way.
"""

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from compliance.model import Stack, Subject
from compliance.observations import FlowObservation, ProbeError, TlsObservation, WriteObservation
from compliance.policy import Policy
from compliance.sources.probes.plan import flows_batch, running, tls_batch, writes_batch
from compliance.sources.probes.runner import Batch, ProbeRunner

KINDS = ("flows", "tls", "writes")  # in the order their probes are queued: the slowest first


@dataclass(frozen=True)
class Kind:
    """How one kind of observation is planned, and what it is when its probes cannot run."""

    plan: Callable[["Live"], Batch]
    failed: Callable[["Live", ProbeError], object]


def _writes(live: "Live") -> Batch:
    """The write probes, their observations keyed by container id."""
    targets = live.write_targets()
    batch = writes_batch(live.runner, targets)
    return Batch(batch.specs, lambda outs: dict(zip([c.id for c in targets], batch.finish(outs),
                                                    strict=True)), batch.runs)


def _writes_failed(live: "Live", exc: ProbeError) -> dict[str, WriteObservation]:
    path = f"/.passq-compliance-probe-{live.runner.run_id}"
    return {c.id: WriteObservation(c.name, path, str(c.process or ""), "error", detail=str(exc))
            for c in live.write_targets()}


def _flows_failed(live: "Live", exc: ProbeError) -> list[FlowObservation]:
    """Every flow unprobed, with the reason."""
    return [FlowObservation(flow, kind, problem=str(exc)) for kind, flows in
            (("deny", live.policy.deny_flows), ("allow", live.policy.allow_flows)) for flow in flows]


KIND = {
    "flows": Kind(lambda live: flows_batch(live.runner, live.stack, live.policy), _flows_failed),
    "tls": Kind(lambda live: tls_batch(live.runner, live.stack, live.policy), lambda live, exc: exc),
    "writes": Kind(_writes, _writes_failed),
}


class Live:
    """The live observations of one audit run; each kind is probed once, on first use."""

    def __init__(self, runner: ProbeRunner, stack: Stack, policy: Policy, together: Iterable[str] = ()):
        self.runner = runner
        self.stack = stack
        self.policy = policy
        self.together = frozenset(together)
        self._observed: dict[str, object] = {}
        self._swept = False
        self._background: Future | None = None
        # the running containers whose root mount the engine host cannot show
        self._write_targets = [c for c in running(stack.containers) if not (c.inside and c.inside.mounts)]
        self._write_target_ids = {c.id for c in self._write_targets}

    def flows(self) -> list[FlowObservation]:
        """NET-04: every deny and allow flow of the policy, probed."""
        return self._get("flows")

    def tls(self) -> list[TlsObservation] | ProbeError:
        """NET-05: the database's answers to the SSLRequest ([] when there is no database)."""
        return self._get("tls")

    def write(self, container: Subject) -> WriteObservation | None:
        """HRD-02: the write attempt on `container`'s root filesystem; None when it does not
        run or the kernel's mount table already answers (no probe is needed then, nor a wait
        for the other kinds). All such containers of the stack are probed at once."""
        if container.id not in self._write_target_ids:
            return None
        return self._get("writes").get(container.id)

    def write_targets(self) -> list[Subject]:
        """The running containers whose root mount the engine host cannot show."""
        return self._write_targets

    def start(self) -> None:
        """Probe every kind of `together` now, in the background; a read waits for it."""
        if self.together and self._background is None:
            pool = ThreadPoolExecutor(1, thread_name_prefix="live")
            self._background = pool.submit(self._probe, set(self.together))
            pool.shutdown(wait=False)

    def close(self) -> None:
        """Stop what still probes (an interrupted run), wait for it, remove every probe."""
        if self._background is not None and not self._background.done():
            self.runner.cancel()
            self.runner.cleanup()  # a running probe's output ends with its container
            wait([self._background], timeout=self.runner.deadline)
        self.runner.cleanup()

    def _get(self, kind: str):
        if self._background is not None:
            self._background.result()  # the background's own failure surfaces here
        if kind not in self._observed:
            self._probe({kind} | self.together)
        return self._observed[kind]

    def _probe(self, kinds: set[str]) -> None:
        """Observe every kind of `kinds` not yet observed, all their probes in one pool."""
        if not self._swept:
            self._swept = True
            self.runner.sweep_leftovers()
        planned: dict[str, Batch] = {}
        for name in KINDS:
            if name in kinds and name not in self._observed:
                try:
                    planned[name] = KIND[name].plan(self)
                except ProbeError as exc:
                    self._observed[name] = KIND[name].failed(self, exc)
        runs = [name for name, batch in planned.items() if batch.runs]
        try:
            outputs = dict(zip(runs, self.runner.run_batches([planned[n] for n in runs]), strict=True))
        except ProbeError as exc:  # e.g. no probe image: every kind that needed a probe failed
            outputs = {name: KIND[name].failed(self, exc) for name in runs}
        for name, batch in planned.items():
            self._observed[name] = outputs[name] if batch.runs else batch.finish([])
