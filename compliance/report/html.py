"""compliance.html, shaped through pytest-html's hooks (pytest-html 4.2).

pytest-html renders the page and its filterable results table; the plugin's
hooks call these functions to give it the audit's shape. The first screen
answers "did it pass, what failed, where": a title naming what was judged (the
stack, or the compose files of a static run), the gate as a banner, the counts
by severity beside a small chart (inline SVG: the page stays one file), and
the failures grouped by control, each naming its services once with their
file:line. Then the seed's checklist ticked per item, the controls x services
matrix whose cells link to their result rows, the vulnerability scans, the
waivers and the run's provenance, where pytest-metadata's environment table
moves (pytest-html's own Environment and empty Summary headings are hidden);
and result columns an auditor reads (control, severity, service, container,
outcome, evidence, remediation with its Markdown rendered), each
finding's compliance.json entry in its row's details (in the page: browsers refuse to
open a `data:` link). The stylesheet lifts pytest-html's grey text to WCAG
AA contrast and prints the banner and failures first, without the filters.

pytest-html inserts the summary, the table cells and the environment values
as raw HTML, and container names, labels and env names come from whoever
built the image. So every value goes through `Escape`: first the audit's
redactor, then HTML escaping. Nothing is inserted unescaped but our own tags.
"""

import json
import posixpath
import re
from html import escape

from pytest_html import extras

from compliance import controls, waivers
from compliance.report import views, vulnerabilities

BOX = {True: "\u2611", False: "\u2610"}  # ☑ ☐
# pytest-html's own Result column (Passed, XFailed, ...) stays first, hidden: its filters
# and sorting read it. Outcome is the control's (passed, waived, ...), shown once.
HEADER = [
    '<th class="sortable" data-column-type="control">Control</th>',
    '<th class="sortable" data-column-type="severity">Severity</th>',
    '<th class="sortable" data-column-type="service">Service</th>',
    '<th class="sortable" data-column-type="container">Container</th>',
    '<th class="sortable" data-column-type="outcome">Outcome</th>',
    "<th>Evidence</th>",
]
GLANCE = ("failed", "error", "waived", "passed", "skipped")  # the counts by severity, refuted first
# Bars of the chart, by severity (each at least 4.5:1 on white, as its label is).
SEVERITY_COLOURS = {"critical": "#82071e", "high": "#b3261e", "medium": "#9a4a00", "low": "#57606a"}
TEXT = "#1f2328"  # 15.8:1 on white
STYLE = """<style>
/* pytest-html's grey (#999 on white, 2.8:1), orange and red text raised to WCAG AA (4.5:1) */
body, #results-table, .logwrapper .logexpander {color: #1f2328}
a, .filters button, .collapse button {color: #0550ae}
span.passed {color: #1a7f37} span.skipped, span.xfailed, span.rerun {color: #7d4e00}
span.error, span.failed, span.xpassed {color: #b3261e}
#environment-header, #environment, .summary__data > h2 {display: none}
/* the control's outcome is the row's one outcome column */
#results-table th[data-column-type="result"], #results-table td.col-result {display: none}
.passq h2 {margin-top: 1.2em}
.passq .verdict {display: flex; align-items: baseline; gap: .8em; flex-wrap: wrap; margin: .6em 0;
  padding: .7em 1em; border-radius: 6px; font-size: 14px}
.passq .verdict.pass {background: #dafbe1; color: #0f4d24; border: 2px solid #1a7f37}
.passq .verdict.fail {background: #b3261e; color: #fff; border: 2px solid #82071e}
.passq .verdict .word {font-size: 26px; font-weight: bold; letter-spacing: .04em}
.passq .verdict .gate {font-weight: bold}
.passq .glance {display: flex; gap: 2.5em; align-items: center; flex-wrap: wrap; margin: .6em 0}
.passq table.severities td, .passq table.severities th {text-align: right; min-width: 3.5em}
.passq table.severities th:first-child, .passq table.severities td:first-child {text-align: left}
.passq table.severities .blocking td:first-child::after {content: " \\25C6"}
.passq .glance .note {font-size: .9em; margin: .3em 0 0}
.passq table.failures {width: 100%}
.passq table.failures td.where a {margin-right: .2em}
.passq table.failures code {background: #f6f8fa; padding: 0 .25em; border-radius: 3px}
.passq table.failures .svc {display: inline-block; margin-right: 1.2em}
.passq ul.checklist {list-style: none; padding-left: 0; font-size: 1.1em}
.passq .box {font-size: 1.3em; margin-right: .4em}
.passq .ticked .box {color: #1a7f37} .passq .unticked .box {color: #b3261e}
.passq .ids, .passq .counts, .passq .unproven {color: #57606a; font-size: .85em; margin-left: .6em}
.passq table {border-collapse: collapse; margin: .4em 0}
.passq td, .passq th {border: 1px solid #d0d7de; padding: 3px 6px; text-align: left; vertical-align: top}
.passq th {background: #f6f8fa}
.o-passed {color: #1a7f37} .o-failed, .o-error {color: #b3261e; font-weight: bold}
.o-waived {color: #7d4e00} .o-skipped {color: #57606a} .stale {color: #7d4e00; font-weight: bold}
.sev-critical, .sev-high {font-weight: bold}
.passq-test {color: #57606a; font-size: .9em}
.passq-remediation {margin-top: .3em} .passq-waiver {margin-top: .3em; color: #7d4e00}
.passq-remediation code, .col-evidence code {background: #f6f8fa; padding: 0 .2em}
details.passq-record summary {cursor: pointer; color: #0550ae}
details.passq-record pre {background: #f6f8fa; padding: .5em; white-space: pre-wrap; max-height: 30em;
  overflow: auto}
@media print {
  /* the banner, the counts and the failures lead; nothing to click */
  .controls, .filter, .run-count, .summary__reload, .logexpander, details.passq-record,
  #results-table .sortable::after {display: none !important}
  body {min-width: 0; font-size: 11px}
  .passq .verdict, .passq th, .passq table.failures code, .o-passed, .o-failed, .o-error {
    print-color-adjust: exact; -webkit-print-color-adjust: exact}
  .passq a, #results-table a {color: inherit; text-decoration: none}
  .logwrapper {max-height: none; overflow: visible}
  .passq table.failures, .passq .glance {break-after: avoid-page}
  tr, li {break-inside: avoid}
}
</style>"""


class Escape:
    """Redact, then HTML-escape, one value; None shows as a dash."""

    def __init__(self, redact):
        self.redact = redact

    def __call__(self, value) -> str:
        return "\u2014" if value is None else escape(self.redact(str(value)), quote=True)

    def tree(self, value):
        """The same for every string of a nested mapping (the environment table)."""
        if isinstance(value, dict):
            return {self(k): self.tree(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.tree(v) for v in value]
        return self(value)


def report_title(report, record) -> None:
    """What the run judged: the stack, or the compose files of a static run (pytest-html
    asks at session start; the plugin sets it again from the record at the end)."""
    report.title = f"PassQ compliance: {record.metadata['judged'] if record else 'audit'}"


def results_summary(prefix, record, metadata) -> None:
    """Fill the summary prefix. pytest-metadata's environment goes to the provenance
    section, escaped, and leaves pytest-html's own table (which shows it as raw HTML)."""
    e = Escape(record.redact)
    environment = e.tree(dict(metadata))
    metadata.clear()
    prefix.extend([STYLE, '<div class="passq">', _gate(record, e), _glance(record),
                   _failures(record, e), *_sections(record, e),
                   _vulnerabilities(record), _waivers(record, e),
                   _provenance(record, e, environment), "</div>"])


def results_table_header(cells) -> None:
    cells[:] = [cells[0], *HEADER]


def results_table_row(report, cells) -> None:
    """Our columns instead of pytest-html's Test, Duration and Links (its Result stays first,
    hidden, for its filters; a finding's entry as JSON is in the row's details, `entry_extras`).

    The row is built from the report's `compliance_entry` (set at makereport,
    already redacted): pytest-html gives this hook no config to find the audit.
    """
    if report.when != "call" and report.passed and not report.sections:
        del cells[:]  # pytest-html drops such a row anyway; an empty one it does not build
        return
    e = Escape(str)
    entry = getattr(report, "compliance_entry", None)
    if entry is None:  # not a compliance test (a collection error, a plain test)
        cells[:] = [cells[0], f'<td class="col-control">{e(report.nodeid)}</td>',
                    '<td class="col-severity"></td>', '<td class="col-service"></td>',
                    '<td class="col-container"></td>',
                    f'<td class="col-outcome">{e(report.outcome)}</td>', "<td></td>"]
        return
    cells[:] = [
        cells[0],
        f'<td class="col-control" id="{views.anchor(entry["test"])}">{e(entry["control"])} '
        f'{e(entry["title"])}<div class="passq-test">{e(entry["test"])}</div></td>',
        f'<td class="col-severity">{e(entry["severity"])}</td>',
        f'<td class="col-service">{_project_of(entry, e)}{e(entry["service"] or "(stack)")}</td>',
        f'<td class="col-container">{e(entry["container"])}'
        f'{" on " + e(entry["node"]) if entry.get("node") else ""}</td>',
        f'<td class="col-outcome"><span class="o-{e(entry["outcome"])}">{_label(entry, e)}</span></td>',
        f'<td class="col-evidence">{_evidence(entry, e)}</td>',
    ]


def results_table_html(report, data) -> None:
    """A skipped test's log: its reason, where pytest-html would print pytest's
    (path, line, reason) tuple."""
    if isinstance(report.longrepr, tuple) and data:
        data[0] = escape(str(report.longrepr[2])) + "\n"


def entry(result, redact) -> dict:
    """The result's entry as every report lists it, redacted: what the row and its extra
    show."""
    return views.redacted(views.entry(result), redact)


def entry_extras(entry) -> list[dict]:
    """A finding's entry as JSON (any outcome but passed), in its row's details: what an
    auditor copies into a ticket. In the page, not a link: pytest-html's link to it is a
    `data:` URL, which browsers refuse to open. A pass gets none: its row already says
    everything, and on a large stack the passes' copies made the page much heavier
    (benchmarks/README.md)."""
    if entry["outcome"] == "passed":
        return []
    text = escape(json.dumps(entry, indent=2, ensure_ascii=False))
    return [extras.html(f'<details class="passq-record"><summary>JSON record</summary>'
                        f"<pre>{text}</pre></details>")]


_INLINE = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*|\[([^\]]+)\]\((https?://[^)\s]+)\)")


def markdown(text: str, e) -> str:
    """A remediation's inline Markdown (`code`, **bold**, [links](https://...)) as HTML;
    everything else escaped by `e`, as every value is."""
    parts, at = [], 0
    for match in _INLINE.finditer(text):
        code, bold, label, url = match.groups()
        parts.append(e(text[at:match.start()]))
        if code is not None:
            parts.append(f"<code>{e(code)}</code>")
        elif bold is not None:
            parts.append(f"<strong>{e(bold)}</strong>")
        else:
            parts.append(f'<a href="{e(url)}">{e(label)}</a>')
        at = match.end()
    parts.append(e(text[at:]))
    return "".join(parts)


def _project_of(entry, e) -> str:
    """A result's project, before its service, in a run of several projects."""
    return f'<span class="project">{e(entry["project"])}:</span>' if entry.get("project") else ""


def _label(entry, e) -> str:
    if entry["waiver"] and entry["waiver"]["status"] == "stale":
        return f'{e(entry["outcome"])} <span class="stale">(stale waiver)</span>'
    return e(entry["outcome"])


def _evidence(entry, e) -> str:
    parts = []
    if entry["message"] and entry["outcome"] != "passed":
        parts.append(f'<div>{e(entry["message"])}</div>')
    if entry["evidence"]:
        parts.append(f'<div><code>{e(entry["evidence"])}</code></div>')
    if entry.get("location"):
        where = f'{entry["location"]["file"]}:{entry["location"]["line"]}'
        parts.append(f'<div class="passq-location">at <code>{e(where)}</code></div>')
    if entry["outcome"] in ("failed", "error"):
        parts.append(f'<div class="passq-remediation"><b>Remediation:</b> '
                     f'{markdown(entry["remediation"], e)}</div>')
    if entry["waiver"]:
        w = entry["waiver"]
        parts.append(f'<div class="passq-waiver"><b>Waiver ({e(w["status"])}):</b> {e(w["reason"])} '
                     f'(approved by {e(w["approved_by"])}, expires {e(w["expires"])})</div>')
    return "".join(parts)


def _gate(record, e) -> str:
    """The banner: the gate's verdict, its --fail-on level and what decided it."""
    if record.failure:
        return _banner(False, "NOT AUDITED", e(record.failure))
    if not record.results:
        return _banner(False, "FAILED", "No compliance results: this run proves nothing.")
    passed = record.gate_passed
    threshold = controls.SEVERITIES.index(record.fail_on)
    failed = errors = 0
    for severity, counts in views.by_severity(record.results):
        failed += counts["failed"] if controls.SEVERITIES.index(severity) >= threshold else 0
        errors += counts["error"]
    why = (f"{failed} failed at or above {e(record.fail_on)}, {errors} could not be evaluated"
           if failed or errors else f"nothing failed at or above {e(record.fail_on)}, no errors")
    return _banner(passed, "PASSED" if passed else "FAILED",
                   f'<span class="gate">Release gate (--fail-on {e(record.fail_on)}): '
                   f'{"PASSED" if passed else "FAILED"}</span><span>{why}</span>')


def _banner(passed: bool, word: str, text: str) -> str:
    state = "pass" if passed else "fail"
    return f'<div class="verdict {state}" role="status"><span class="word">{word}</span>{text}</div>'


def _glance(record) -> str:
    """Counts by severity (the gate's severities marked) beside a bar chart of the failures."""
    if not record.results:
        return ""
    threshold = controls.SEVERITIES.index(record.fail_on)
    rows = views.by_severity(record.results)
    head = "".join(f"<th>{o}</th>" for o in GLANCE)
    body = "".join(
        f'<tr class="{"blocking" if controls.SEVERITIES.index(s) >= threshold else ""}">'
        f'<td class="sev-{s}">{s}</td>{"".join(f"<td>{c[o]}</td>" for o in GLANCE)}</tr>'
        for s, c in rows)
    table = (f'<div><table class="severities"><tr><th>severity</th>{head}</tr>{body}</table>'
             f'<p class="note">\u25C6 failures at this severity fail the gate (--fail-on '
             f'{record.fail_on})</p></div>')
    return f'<div class="glance">{table}{_chart(rows)}</div>'


def _chart(rows) -> str:
    """Failed evaluations by severity as horizontal bars, drawn inline (no asset to fetch)."""
    label, bar, step = 64, 220, 24
    most = max((c["failed"] for _, c in rows), default=0) or 1
    described = ", ".join(f"{c['failed']} {s}" for s, c in rows)
    marks = []
    for n, (severity, counts) in enumerate(rows):
        y, width = 8 + n * step, round(bar * counts["failed"] / most)
        marks.append(
            f'<text x="{label - 8}" y="{y + 13}" text-anchor="end">{severity}</text>'
            f'<rect x="{label}" y="{y}" width="{max(width, 1)}" height="17" rx="2" '
            f'fill="{SEVERITY_COLOURS[severity]}"/>'
            f'<text x="{label + max(width, 1) + 6}" y="{y + 13}">{counts["failed"]}</text>')
    height = 16 + len(rows) * step + 14
    return (f'<svg class="chart" role="img" width="{label + bar + 40}" height="{height}" '
            f'viewBox="0 0 {label + bar + 40} {height}" font-size="12" fill="{TEXT}" '
            f'font-family="Helvetica, Arial, sans-serif"><title>Failed evaluations by severity: '
            f'{described}</title>{"".join(marks)}<text x="{label}" y="{height - 4}">failed '
            f"evaluations by severity</text></svg>")


def _failures(record, e) -> str:
    """What failed and where, by control; in a run of several projects by project first."""
    projects = views.by_project(record)
    if not projects:
        table, folder = _failure_table(record.results, e)
        inside = f' <span class="ids">files in <code>{e(folder)}/</code></span>' if folder else ""
        return f'<h2 id="failures">Failures by control{inside}</h2>{table}' if table else ""
    parts = []
    for project, results in projects:
        table, folder = _failure_table(results, e)
        if table:
            inside = f' <span class="ids">files in <code>{e(folder)}/</code></span>' if folder else ""
            parts.append(f'<h3><a href="#{_project_anchor(project["name"], e)}">Project '
                         f'{e(project["name"])}</a>{inside}</h3>{table}')
    return f'<h2 id="failures">Failures by project and control</h2>{"".join(parts)}' if parts else ""


def _failure_table(results, e) -> tuple[str, str]:
    """Each failed control once, each of its services once with the file:line its results
    point at, linked to the service's first result row; and the folder the files share."""
    failures = views.failures(results)
    if not failures:
        return "", ""
    folder = _common_folder({r.location["file"] for _, by_service in failures
                             for results in by_service.values() for r in results if r.location})
    rows = []
    for control_id, by_service in failures:
        control = controls.describe(control_id)
        services = []
        outcomes = {"failed": 0, "error": 0}
        for service, results in sorted(by_service.items(), key=lambda item: item[0] or "\uffff"):
            for result in results:
                outcomes[result.outcome] += 1
            where = sorted({f'{_within(r.location["file"], folder)}:{r.location["line"]}'
                            for r in results if r.location})
            code = "".join(f" <code>{e(w)}</code>" for w in where)
            services.append(f'<span class="svc"><a href="#{views.anchor(results[0].nodeid)}">'
                            f'{e(service) if service is not None else "(stack)"}</a>{code}</span>')
        said = ", ".join(f'<span class="o-{o}">{n} {o}</span>' for o, n in outcomes.items() if n)
        rows.append(f'<tr><td>{e(control.id)} {e(control.title)}</td>'
                    f'<td class="sev-{e(control.severity)}">{e(control.severity)}</td>'
                    f'<td>{said}</td><td class="where">{"".join(services)}</td></tr>')
    return (f'<table class="failures"><tr><th>Control</th><th>Severity</th><th>Results</th>'
            f'<th>Services and where</th></tr>{"".join(rows)}</table>', folder)


def _sections(record, e) -> list[str]:
    """The checklist and the matrix: of the run, or one section of each per project (its
    compose files, counts, checklist and matrix) in a run of several."""
    projects = views.by_project(record)
    if not projects:
        return [_checklist(record.results, e), _matrix(record.results, e)]
    sections = []
    for project, results in projects:
        files = "".join(f"<li><code>{e(f['path'])}</code></li>" for f in project["compose_files"])
        counts = ", ".join(f"{n} {o}" for o, n in views.summary(results).items() if n)
        sections.append(f'<section class="project" id="{_project_anchor(project["name"], e)}">'
                        f'<h2>Project {e(project["name"])}</h2><ul class="files">{files}</ul>'
                        f'<p class="counts">{e(counts or "no results")}</p>'
                        f'{_checklist(results, e, "h3")}{_matrix(results, e, "h3")}</section>')
    return sections


def _project_anchor(name: str, e) -> str:
    return "project-" + e(name).replace(" ", "-")


def _within(file: str, folder: str) -> str:
    return posixpath.relpath(file, folder) if folder else file


def _common_folder(files) -> str:
    """The folder every file shares ('' for none): named once above the failures, so each
    line reads `compose.yml:49`, not the whole path again."""
    try:
        return posixpath.commonpath({posixpath.dirname(f) for f in files}) if files else ""
    except ValueError:  # absolute and relative paths mixed
        return ""


def _checklist(results, e, heading: str = "h2") -> str:
    items = []
    checklist = views.checklist(results)
    for item in checklist:
        counts = ", ".join(f"{n} {o}" for o, n in item.counts.items() if n)
        if not item.evaluated:
            counts = f"not evaluated ({counts})" if counts else "not evaluated"
        unproven = (f'<span class="unproven">not proven: {e(", ".join(item.unproven))}</span>'
                    if item.unproven else "")
        state = "ticked" if item.ticked else "unticked"
        items.append(f'<li class="{state}"><span class="box">{BOX[item.ticked]}</span>{e(item.text)}'
                     f'<span class="ids">{e(", ".join(item.controls))}</span>'
                     f'<span class="counts">{e(counts)}</span>{unproven}</li>')
    ticked = sum(item.ticked for item in checklist)
    counts = ", ".join(f"{n} {o}" for o, n in views.summary(results).items())
    return (f'<{heading}>Security checklist</{heading}><ul class="checklist">{"".join(items)}</ul>'
            f'<p class="tally">{ticked} of {len(items)} items ticked; evaluations: {e(counts)}</p>')


def _matrix(results, e, heading: str = "h2") -> str:
    services, rows = views.matrix(results)
    if not rows:
        return ""
    head = "".join(f"<th>{e(s) if s is not None else '(stack)'}</th>" for s in services)
    body = []
    for control_id, cells in rows:
        control = controls.describe(control_id)
        tds = []
        for service in services:
            links = " ".join(f'<a class="o-{e(r.outcome)}" href="#{views.anchor(r.nodeid)}" '
                             f'title="{e(r.container or "stack")}">{e(r.outcome)}</a>'
                             for r in cells.get(service, ()))
            tds.append(f"<td>{links or chr(0x2014)}</td>")
        body.append(f'<tr><th>{e(control.id)} {e(control.title)} <span class="ids">'
                    f'{e(control.severity)}</span></th>{"".join(tds)}</tr>')
    return (f'<{heading}>Controls \u00d7 services</{heading}><table class="matrix"><tr>'
            f'<th>Control</th>{head}</tr>{"".join(body)}</table>')


def _vulnerabilities(record) -> str:
    """Per running image: its scan's counts and top findings (only when IMG-02 was evaluated)."""
    if record.scans is None:
        return ""
    return record.redact(vulnerabilities.html_fragment(record.scans))


def _waivers(record, e) -> str:
    if not record.metadata["waivers"]["path"]:
        return ""
    rows = [f"<li>{e(r.control)} for {e(r.container or 'the stack')}: {e(r.waiver['status'])} "
            f"({e(r.waiver['reason'])}; approved by {e(r.waiver['approved_by'])}, expires "
            f"{e(r.waiver['expires'])})</li>"
            for r in record.results if r.waiver and r.waiver["status"] in ("applied", "stale", "expired")]
    unused = [f"<li>{e(w['control'])} for {e(w['service'] or 'every service')} "
              f"(line {e(w['line'])}): {e(w['why'])}</li>" for w in record.unused_waivers]
    stale = sum(waivers.is_stale(r) for r in record.results)
    note = (f'<p class="stale">{stale} stale waiver(s): the waived control now passes. The gate '
            "does not fail on them (the control passed); remove them from the waiver file.</p>"
            if stale else "")
    return (f"<h2>Waivers</h2>{note}<ul>{''.join(rows) or '<li>none applied</li>'}</ul>"
            f"<h3>Unused waivers</h3><ul>{''.join(unused) or '<li>none</li>'}</ul>")


def _provenance(record, e, environment) -> str:
    meta = record.metadata
    images = "".join(f"<li><code>{e(ref)}</code> {e(digest)}</li>" for ref, digest in meta["images"])
    compose = "".join(f'<li><code>{e(f["path"])}</code> sha256:{e(f["sha256"])}</li>'
                      for f in meta["compose_files"])
    rows = [
        ("Judged", e(meta["judged"])),
        ("Stack", e(meta["stack"])),
        ("Compose files", f"<ul>{compose}</ul>" if compose else "\u2014"),
        ("Engine", f'{e(meta["engine"]["host"])} (Docker {e(meta["engine"]["version"])}, '
                   f'{e(meta["engine"]["api_calls"])} API calls)' if meta["engine"]["host"]
         else "none (a static audit never contacts an engine)" if meta["static"] else "\u2014"),
        ("Images", f"<ul>{images}</ul>" if images else "\u2014"),
        ("Policy", f'{e(meta["policy"]["path"])} <code>sha256:{e(meta["policy"]["sha256"])}</code>'),
        ("Waivers", f'{e(meta["waivers"]["path"])} <code>sha256:{e(meta["waivers"]["sha256"])}</code>'
         if meta["waivers"]["path"] else "none"),
        ("Started", e(meta["started_at"])),
        ("Duration", f'{e(meta["duration_s"])} s'),
        ("Suite", f'passq-compliance {e(meta["suite_version"])}, {e(controls.CIS_VERSION)}'),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return (f'<h2>Provenance</h2><table class="provenance">{body}</table>'
            f'<h3>Environment</h3>{_environment(environment)}')


def _environment(tree) -> str:
    """pytest-metadata's table (Python, Platform, Packages, Plugins), already escaped."""
    if isinstance(tree, dict):
        rows = "".join(f"<tr><th>{key}</th><td>{_environment(value)}</td></tr>"
                       for key, value in tree.items())
        return f'<table class="environment">{rows}</table>'
    if isinstance(tree, list):
        return ", ".join(map(_environment, tree))
    return tree
