"""One audit run: its inputs (policy, engine, snapshot), its results, its gate.

The plugin keeps one Audit in `config.stash`. Inputs are loaded lazily, on
the first compliance test collected, so the suite's own tests never touch
an engine; a failure to load is kept and raised once, as one clear message.
"""

import re
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from compliance import __version__, controls, report, scans, sources, waivers, yamlfile
from compliance.checks.facts import mounts
from compliance.model import Subject
from compliance.policy import PolicyError, load
from compliance.record import AuditRecord
from compliance.redact import SECRETS_DIR, Redactor, candidates, file_secrets, stack_names
from compliance.report import views
from compliance.scans import Scans
from compliance.sources import compose_files, probes, projects, secret_files, trivy
from compliance.sources import declared as declared_source

AUDIT = pytest.StashKey["Audit"]()  # the run's one Audit, in config.stash
MAX_SECRETS_DIR_FILES = 256  # files of the policy's secrets directory the redactor reads


class Audit:
    def __init__(self, config):
        self.config = config
        self.failure: str | None = None
        self.results: list = []
        self.started = time.time()
        self.finished: float | None = None
        self._policy = None
        self._engine = None
        self._stack = None
        self._watch = None  # the engine's events since the snapshot (sources.changes.Watch)
        self._models = None  # the compose model of each declared project, once loaded
        self._declared_stacks = None  # their services as Subjects, a Stack per project
        self._policy_warnings = []  # the default policy's services these compose files lack
        self.nodes: dict = {}  # a swarm stack's node engines, by hostname (the probes run there)
        self._vulnerability_reports = None
        self._waivers: waivers.WaiverFile | None = None
        self.redact = Redactor()
        self.candidates = 0  # compliance tests collected, before any deselection (the plugin's)
        self.collected = 0  # compliance tests in this session (set by the plugin)
        self.other_failures = 0  # failed reports outside the compliance results (the plugin's)
        self.passed: bool | None = None  # the gate's verdict, set at session finish
        self.concluded: AuditRecord | None = None  # the frozen record, once the run ended

    def option(self, name):
        return self.config.getoption(name)

    @property
    def policy_path(self) -> Path:
        given = self.option("policy")
        return Path(given) if given else self.config.rootpath / self.config.getini(
            "compliance_policy")

    @property
    def policy(self):
        if self._policy is None and self.failure is None:
            try:
                self._policy = load(self.policy_path)
            except PolicyError as exc:
                self.failure = str(exc)
        return self._policy

    @property
    def stack_name(self) -> str | None:
        return self.option("stack") or (self._policy.stack if self._policy else None)

    def stack(self):
        """The snapshot of the audited stack, taken on first use; None after a failure
        and with --static-only (which never connects to the engine)."""
        if self._stack is not None or self.failure is not None or self.option("static_only"):
            return self._stack
        policy = self.policy
        if policy is None:
            return None
        if not self.stack_name:
            self.failure = (f"no stack to audit: pass --stack NAME or set `stack:` in "
                            f"{self.policy_path}")
            return None
        try:  # the engine's sources load here, at the first connect (compliance/sources)
            self._engine = sources.engine.connect(self.option("docker_host"))
            # Opened before the snapshot, so no change after it goes unnoticed.
            self._watch = sources.changes.Watch(self._engine, self.stack_name)
            self._stack = self._take(policy)
        except (sources.engine.EngineError, sources.compose.InventoryError) as exc:
            self.failure = f"stack {self.stack_name!r}: {exc}"
            self.close()
            return None
        self.redact = self.redact.learn(candidates(self._stack.containers, policy.credential_env_patterns)
                                        ).protect(stack_names(self._stack))
        self._learn_secrets()
        return self._stack

    def _take(self, policy):
        """The snapshot: the compose project, or the swarm stack (--swarm, or when no compose
        project has the name and the engine is a swarm manager)."""
        resolve = policy.all_writable_paths()
        if not self.option("swarm"):
            try:
                return sources.compose.take(self._engine, self.stack_name, resolve=resolve,
                                            view_of=self._host_view)
            except sources.compose.InventoryError:
                if not sources.swarm.is_manager(self._engine):
                    raise
        stack, self.nodes = sources.swarm.take(self._engine, self.stack_name, self.node_engines(policy),
                                               resolve=resolve, view_of=self._host_view)
        return stack

    def _host_view(self, engine):
        """How the containers of `engine` are looked at from their host: testinfra's
        local:// or ssh:// host, else (a tcp:// engine) a probe container in the host's PID
        namespace, unless probes are off (--no-live): then there is no view."""
        found = sources.inside.engine_host(engine)
        if found is None and not self.option("no_live"):
            found = probes.ProbedHost(probes.ProbeRunner(engine, self.option("probe_image")))
        return found

    def node_engines(self, policy) -> dict[str, str]:
        """Swarm node -> engine URL: the policy's swarm.nodes, then --node-engine NODE=URL."""
        given = dict(policy.swarm_nodes)
        for entry in self.option("node_engine"):
            node, sep, url = entry.partition("=")
            if not sep or not node or not url:
                raise pytest.UsageError(f"--node-engine {entry!r}: expected NODE=URL")
            given[node] = url
        return given

    def changed(self, container) -> str | None:
        """Why the snapshot no longer describes `container` (removed, recreated or
        reconfigured since it was taken), or None."""
        return self._watch.changed(container.id) if self._watch else None

    def restarts(self, container) -> tuple[str, ...]:
        """What the container's process did since the snapshot (stopped, started, ...)."""
        return self._watch.restarts(container.id) if self._watch else ()

    def close(self) -> None:
        """Stop watching the engine (the end of the run)."""
        if self._watch is not None:
            self._watch.close()

    @property
    def engine(self):
        """The connected engine (for the live probes); None before stack() or after a failure."""
        self.stack()
        return self._engine

    # -- the declared projects (--compose-file, --project) and secret files (SEC-03) -----

    def declared_models(self) -> list:
        """The compose model of each declared project, rendered once: the one project of
        --compose-file, or every --project of a monorepo; [] when none is given or after a
        failure (kept as the one clear message)."""
        files, specs = self.option("compose_file"), self.option("project")
        if self._models is not None or not (files or specs) or self.failure is not None:
            return self._models or []
        given = files
        try:
            if specs:
                named = projects.parse_all(specs)
                given = [path for project in named for path in project.files]
                models = projects.load_all(named)
            else:
                models = [compose_files.load(files)]
        except compose_files.ComposeError as exc:
            self.failure = _malformed(given, str(exc)) or str(exc)
            return []
        if self.policy is None:
            return []
        undeclared = self.policy.undeclared_services({name for m in models for name in m.services},
                                                     ", ".join(m.describe() for m in models))
        if undeclared and self.option("policy"):
            self.failure = undeclared[0]
            return []
        # The default policy is PassQ's: on another project's files its services' own rules
        # go unused (every service is judged by its defaults), which the reports say.
        self._policy_warnings = [f"{problem} (the default policy is PassQ's: --policy names yours)"
                                 for problem in undeclared]
        self._models = models
        self._learn_secrets()
        return self._models

    def declared_stacks(self) -> list:
        """Each declared project's services as Subjects, in one Stack per project
        (compliance/sources/declared.py), built once; [] without compose files or after a
        failure."""
        models = self.declared_models()
        if models and self._declared_stacks is None and self.failure is None:
            try:
                self._declared_stacks = [declared_source.stack(model) for model in models]
            except declared_source.DeclaredError as exc:
                self.failure = str(exc)
                return []
            self.redact = self.redact.protect(name for stack in self._declared_stacks
                                              for name in stack_names(stack))
        return self._declared_stacks or []

    def declared_stack(self):
        """The declared stack a running one is compared with (CMP-01): --compose-file's one
        project; None without it."""
        stacks = self.declared_stacks()
        return stacks[0] if len(stacks) == 1 else None

    def subject_stacks(self) -> list:
        """What the controls judge: under --static-only each declared project, else the
        running stack ([] after a failure)."""
        if self.option("static_only"):
            return self.declared_stacks()
        stack = self.stack()
        return [stack] if stack is not None else []

    def subjects(self):
        """The one stack the stack-level controls judge when there is one: the running
        stack, or --compose-file's declared one (several projects are each their own)."""
        stacks = self.subject_stacks()
        return stacks[0] if len(stacks) == 1 else None

    def location(self, judged, control: str) -> dict | None:
        """Where a result points in the compose files (`{"file", "line"}`), or None without
        them: the key of the service's declaration that decides the control, else the
        service's own line; for a stack control (`judged` a Stack) its section. A live result
        points there too (the service as its compose files declare it): that is where a fix
        goes, and where a code-scanning upload or a CI annotation can hang it."""
        declared = next((s for s in self.declared_stacks()
                         if judged is None or s.project == judged.project), None)
        if declared is None:
            return None
        if judged is not None and not judged.declared and isinstance(judged, Subject):
            judged = next((s for s in declared.containers if s.service == judged.service), None)
        elif judged is not None and not judged.declared:  # the running stack: its declaration
            judged = declared
        where = declared_source.location(judged or declared, control)
        return {"file": where.file, "line": where.line} if where else None

    def _learn_secrets(self) -> None:
        """Before any evidence is rendered, the redactor learns every secret value the suite
        can see besides the containers' own: the literal values the compose files declare,
        and the contents of the secret files (the compose `secrets:` sources, the files bound
        under /run/secrets/ when the engine's files are this machine's, the policy's
        secrets directory). A healthcheck that prints one is then quoted redacted."""
        policy = self.policy
        if policy is None:
            return
        learned, paths = [], []
        for model in self._models or ():
            learned += model.secret_candidates(policy.credential_env_patterns)
            paths += model.secret_files().values()
        if self._stack is not None and self._engine.is_local:
            paths += [mount.get("Source", "") for c in self._stack.containers for mount in mounts(c.attrs)
                      if mount.get("Type") == "bind"
                      and str(mount.get("Destination", "")).startswith(SECRETS_DIR)]
        if policy.secrets_dir:
            directory = Path(self.config.invocation_params.dir, policy.secrets_dir)
            paths += sorted(directory.iterdir())[:MAX_SECRETS_DIR_FILES] if directory.is_dir() else []
        files = [*(self.option("compose_file") or ()), *(f for m in self._models or () for f in m.files),
                 self.policy_path, *paths, *(compose_files.display_path(Path(path)) for path in paths)]
        self.redact = self.redact.learn([*learned, *file_secrets(paths)]).protect(
            [*controls.CATALOG, *map(str, files)])  # names, never hidden

    def secret_files(self, stack) -> list | None:
        """SEC-03's facts for `stack`'s project: the secret files its compose files and the
        policy name; None if none."""
        model = next((m for m in self.declared_models()
                      if stack is None or m.project == stack.project), None)
        return secret_files.collect(model, self.policy, Path(self.config.invocation_params.dir))

    def scope_failure(self) -> str | None:
        """--static-only judges compose files: without one it has nothing to judge; and
        --project names a monorepo's projects for it alone (projects.misuse)."""
        if self.option("static_only") and not (self.option("compose_file") or self.option("project")):
            return ("--static-only audits the declared config only: pass --compose-file PATH "
                    "(the compose files to judge), or --project for each project of a monorepo; "
                    "there is nothing to audit")
        return projects.misuse(self.option("project"), self.option("compose_file"),
                               self.option("static_only"))

    def vulnerability_reports(self) -> scans.Reports:
        """The Trivy reports (IMG-02), read once; produced first with --scan where trivy exists.

        The directory: --trivy-reports, else the policy's vulnerabilities.reports,
        relative to the current directory.
        """
        if self._vulnerability_reports is None:
            policy = self.policy
            directory = self.option("trivy_reports") or (policy.vulnerability_reports if policy else None)
            stack = self.stack()
            images = {c.image.get("Id") or c.attrs["Image"]: c.image_ref or c.attrs["Image"]
                      for c in reversed(stack.containers)} if stack else {}
            self._vulnerability_reports = trivy.collect(
                directory, images, do_scan=self.option("scan"),
                docker_host=self._engine.host if self._engine else None)
        return self._vulnerability_reports

    # -- waivers (interface.md, "Waiver file") ---------------------------------

    @property
    def today(self) -> date:
        """The date waivers are judged on: the run's start, in UTC."""
        return datetime.fromtimestamp(self.started, UTC).date()

    def load_waivers(self) -> None:
        """Read and validate the waiver file (--waivers), once; at collection, so a broken
        one stops the run before any check, as a usage error: a typo must not turn an
        approved exception into a failure or the reverse."""
        path = self.option("waivers")
        if path and self._waivers is None:
            try:
                self._waivers = waivers.load(path)
            except waivers.WaiverError as exc:
                self.failure = str(exc)
                raise pytest.UsageError(self.failure) from None

    def unused_waivers(self) -> list[dict]:
        return waivers.unused(self._waivers, self.results, self.today)

    # -- results and the gate ---------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether this session is an audit (and so writes reports): it collected
        compliance tests, or failed while loading the audit's inputs. Listing the
        tests (--collect-only) audits nothing."""
        if self.option("collectonly"):
            return False
        return bool(self.collected or self.results or self.failure)

    def keep(self, result, service: str | None):
        """Keep one evaluation's result, its waiver settled (it waives a failure of the
        control for `service`, the subject's own name); returns what was kept."""
        self.load_waivers()
        waiver = (self._waivers.match(result.control, service, self.today, result.project)
                  if self._waivers else None)
        result = waivers.settle(result, waiver, self.today)
        self.results.append(result)
        return result

    def blocking_results(self) -> list:
        """Errors, and unwaived failures at or above --fail-on."""
        threshold = controls.SEVERITIES.index(self.option("fail_on"))
        return [r for r in self.results if r.outcome == "error" or (
            r.outcome == "failed"
            and controls.SEVERITIES.index(controls.describe(r.control).severity) >= threshold)]

    def gate(self, session) -> bool:
        """Whether the run may go green (interface.md, "Exit status").

        It may only when compliance results exist, the audit's inputs loaded,
        pytest finished normally (not interrupted, not stopped by -x/--maxfail),
        nothing outside the compliance results failed (`other_failures`, counted by the
        plugin), and no result blocks.
        A stale waiver does not block: its control passed, which is what the
        gate asks; every report shows the waiver as stale so it gets removed.
        """
        finished = session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
        stopped = session.shouldfail or session.shouldstop
        return bool(self.results and self.failure is None and finished and not stopped
                    and not self.other_failures and not self.blocking_results())

    def conclude(self, session) -> AuditRecord:
        """The run's frozen record, built once at session finish: every report renders it."""
        if self.concluded is None:
            self.finished = time.time()
            self.passed = self.gate(session)
            self.concluded = AuditRecord(
                results=tuple(self.results), metadata=views.redacted(self._metadata(), self.redact),
                fail_on=self.option("fail_on"), passed=self.passed, failure=self.failure,
                unused_waivers=tuple(views.redacted(self.unused_waivers(), self.redact)),
                finished=self.finished, scans=self._scans(), warnings=tuple(self._warnings()),
                redact=self.redact)
        return self.concluded

    def _metadata(self) -> dict:
        stack, static, models = self._stack, self.option("static_only"), self._models or []
        files = [{"path": f.path, "sha256": f.sha256} for model in models for f in model.sources]
        judged = (f"static audit of {', '.join(f['path'] for f in files) or 'no compose file'}"
                  if static else f"stack {self.stack_name}" if self.stack_name else "no stack")
        named = {}
        if self.option("project"):  # a monorepo's projects, each apart in every report
            named = {"projects": projects.provenance(models)}
            judged = (f"static audit of {len(models)} projects: "
                      f"{', '.join(model.project for model in models)}") if models else judged
        return {
            **named,
            "judged": judged,
            "static": bool(static),
            "stack": None if static else self.stack_name,
            "compose_files": files,
            "started_at": datetime.fromtimestamp(self.started, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": round((self.finished or time.time()) - self.started, 3),
            "engine": {"host": self._engine.host if self._engine else None,
                       "version": self._engine.version if self._engine else None,
                       "api_calls": sum(e.calls.count for e in self._engines())},
            "policy": {"path": str(self.policy_path),
                       "sha256": self._policy.sha256 if self._policy else None},
            "images": sorted({(c.image_ref, ", ".join(c.image_digests) or c.attrs["Image"])
                              for c in stack.containers}) if stack else [],
            "waivers": {"path": self.option("waivers"),
                        "sha256": self._waivers.sha256 if self._waivers else None},
            "suite_version": __version__,
        }

    def _engines(self) -> list:
        """Every engine the run asked: the audited one and a swarm's other nodes'."""
        if self._engine is None:
            return []
        return [self._engine, *(e for e in self.nodes.values() if e is not self._engine)]

    def _scans(self) -> Scans | None:
        """IMG-02's evidence for the reports, when it was evaluated on a running stack."""
        if self._stack is None or not any(r.control == "IMG-02" for r in self.results):
            return None
        return scans.take(self.vulnerability_reports(), self._stack.containers,
                          max_age_days=self.policy.vulnerability_max_age_days)

    def _warnings(self):
        yield from self._policy_warnings
        stack = self._stack
        if stack is not None and not any(c.state.get("Running") for c in stack.containers):
            yield (f"NOTHING RUNNING: all {len(stack.containers)} containers of stack "
                   f"{stack.name!r} are stopped; HLT-02 fails for each and no live probe can run")
        for result in self.results:
            if waivers.is_stale(result):
                yield (f"stale waiver: {result.control} passed for "
                       f"{result.container or result.service or 'the stack'}; remove its waiver")
        for waiver in self.unused_waivers():
            where = f" in project {waiver['project']}" if waiver.get("project") else ""
            yield (f"unused waiver {waiver['control']} for {waiver['service'] or 'every service'}{where} "
                   f"({self.option('waivers')}:{waiver['line']}): {waiver['why']}")

    def write_reports(self, report_dir: Path) -> None:
        """compliance.json and compliance.sarif; junit.xml and compliance.html are
        written by pytest's junitxml and pytest-html (see compliance.report)."""
        report.write_all(self.concluded, report_dir)


def _malformed(files, message: str) -> str | None:
    """Compose counts a YAML error's line its own way: the file's own `file:line:column`
    instead, of the first given file, or a file compose's message names (an `include:`d
    one), that does not parse; None when each does."""
    named = [compose_files.display_path(Path(p)) for p in re.findall(r"[^\s'\"]+\.ya?ml\b", message)]
    return next(filter(None, map(yamlfile.syntax_error, dict.fromkeys([*files, *named]))), None)
