"""The audit in the terminal: each finding as one line, and the closing table.

A compliance failure is a finding, not a crash of the suite: pytest shows the
control, the subject and the message with its evidence instead of stack
frames (the line starts with `lead`), unless the user asks for frames (--tb=long or
native, to debug the suite itself). The run ends with one table, each
control's outcomes by count, and the gate line (`summary`). Everything is
written through pytest's own terminal writer.
"""

from compliance import controls, waivers
from compliance.outcomes import OUTCOMES
from compliance.report import views

FRAMES = ("long", "native")  # --tb styles that keep the traceback of a finding


def lead(control: str, service: str | None) -> str:
    """What a finding's line starts with: `HRD-04 sock`, or `NET-04 (stack)`."""
    return f"{control} {service or '(stack)'}"


def summary(terminalreporter, audit, report_dir) -> None:
    tr = terminalreporter
    tr.write_sep("-", "passq-compliance")
    if audit.failure:
        tr.write_line(f"NOT AUDITED: {audit.failure}", red=True)
    stack = None if audit.failure or audit.option("static_only") else audit.stack()
    if stack is not None and not any(c.state.get("Running") for c in stack.containers):
        tr.write_line(f"NOTHING RUNNING: all {len(stack.containers)} containers of stack "
                      f"{stack.name!r} are stopped; HLT-02 fails for each and no live probe "
                      "can run", red=True)
    for result in audit.results:
        if waivers.is_stale(result):
            tr.write_line(f"stale waiver: {result.control} passed for "
                          f"{result.container or 'the stack'}; remove its waiver", yellow=True)
    for waiver in audit.unused_waivers():
        scope = waiver["service"] or "every service"
        tr.write_line(f"unused waiver {waiver['control']} for {scope} "
                      f"({audit.option('waivers')}:{waiver['line']}): {waiver['why']}", yellow=True)
    tr.write_line(f"reports: {report_dir}/compliance.html, compliance.json, compliance.sarif, junit.xml")
    _table(tr, audit.results)
    verdict = "PASSED" if audit.passed else "FAILED"
    tr.write_line(f"release gate (--fail-on {audit.option('fail_on')}): {verdict}",
                  green=bool(audit.passed), red=not audit.passed, bold=True)


def _table(tr, results) -> None:
    """One row per evaluated control: its outcomes by count (zero as '-'), then its title,
    cut to the terminal's width."""
    if not results:
        return
    width = tr._tw.fullwidth  # pytest's own writer knows the terminal (80 columns when piped)

    def row(first, counts, last="", **markup):
        cells = " ".join(str(counts[o] or "-").rjust(len(o)) for o in OUTCOMES)
        tr.write_line(f"{first:<7} {cells}  {last}"[:width - 1].rstrip(), **markup)

    row("control", dict(zip(OUTCOMES, OUTCOMES, strict=True)), "title", bold=True)
    for control_id, counts in views.per_control(results):
        refuted = bool(counts["failed"] or counts["error"])
        row(control_id, counts, controls.CATALOG[control_id].title,
            red=refuted, green=not refuted and bool(counts["passed"]))
    row("total", views.summary(results), bold=True)
