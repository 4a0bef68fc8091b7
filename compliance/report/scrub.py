"""Redact pytest's own report of a compliance test before anything prints it.

Evidence and messages are redacted where they are made (the `verdict`
fixture); this is the net for the rest of pytest's report: an unexpected
exception's traceback or captured output could quote an environment value.
Scrubbed in pytest_runtest_makereport, before junitxml, pytest-html and the
terminal read the report.
"""


def scrub(report, redact) -> None:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        report.longrepr = (*longrepr[:2], redact(longrepr[2]))
    elif longrepr is not None:
        text = str(longrepr)
        clean = redact(text)
        if clean != text:  # keep pytest's rich traceback unless it held a secret
            report.longrepr = clean
    report.sections = [(title, redact(content)) for title, content in report.sections]
