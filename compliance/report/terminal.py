"""The audit's closing lines in the terminal: verdict, waivers to clean up, reports."""

from compliance import waivers


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
    verdict = "PASSED" if audit.passed else "FAILED"
    tr.write_line(f"release gate (--fail-on {audit.option('fail_on')}): {verdict}",
                  green=bool(audit.passed), red=not audit.passed)
    for result in audit.results:
        if waivers.is_stale(result):
            tr.write_line(f"stale waiver: {result.control} passed for "
                          f"{result.container or 'the stack'}; remove its waiver", yellow=True)
    for waiver in audit.unused_waivers():
        scope = waiver["service"] or "every service"
        tr.write_line(f"unused waiver {waiver['control']} for {scope} "
                      f"({audit.option('waivers')}:{waiver['line']}): {waiver['why']}", yellow=True)
    tr.write_line(f"reports: {report_dir}/compliance.json, compliance.sarif")
