"""The four reports of one audit (interface.md, "Reports").

- compliance.json (json_report) and compliance.sarif (sarif): written here,
  atomically, at session finish, once the gate has decided;
- junit.xml: pytest's own junitxml (outputs points it into --report-dir);
- compliance.html: pytest-html, shaped through its hooks (html).

Every report renders the same frozen AuditRecord (compliance/record.py), whose
every value has passed the audit's redactor.
"""

from pathlib import Path

from compliance.report import json_report, sarif


def write_all(record, report_dir: Path) -> None:
    json_report.write(record, report_dir / "compliance.json")
    sarif.write(record, report_dir / "compliance.sarif")
