"""The four reports of one audit (interface.md, "Reports").

- compliance.json (json_report) and compliance.sarif (sarif): written here,
  atomically, at session finish, once the gate has decided;
- junit.xml: pytest's own junitxml (outputs points it into --report-dir);
- compliance.html: pytest-html, shaped through its hooks (html).

Every report is built from the same Results (views) and every value in it
passes through the audit's redactor first.
"""

from pathlib import Path

from compliance.report import json_report, sarif


def write_all(audit, report_dir: Path) -> None:
    json_report.write(audit, report_dir / "compliance.json")
    sarif.write(audit, report_dir / "compliance.sarif")
