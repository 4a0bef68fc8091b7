"""What one evaluation of a control yields, and how a test reports it.

A check returns a Finding; `verdict` turns it into pytest's language (pass,
fail, skip, error) so a failure points at the control, not at this module.
Every evaluation then becomes one Result, the record all reports share.
"""

from dataclasses import dataclass

import pytest

from compliance.model import Location

OUTCOMES = ("passed", "failed", "waived", "skipped", "error")


@dataclass(frozen=True)
class Finding:
    """A check's answer: the outcome, the inspected fact that decided it, and
    for a failure what should hold instead (phrased "should ..."). A control that
    fails for more than one reason gives the remedy for the reason found
    (`remediation`); empty, the catalog's remediation applies."""

    outcome: str
    evidence: str
    message: str = ""
    # the line that decided a declared finding, where the check knows it better than the
    # compose key of its control (the Dockerfile FROM that fails IMG-01)
    location: Location | None = None
    remediation: str = ""

    def redacted(self, redact) -> "Finding":
        return Finding(self.outcome, redact(self.evidence), redact(self.message), self.location,
                       redact(self.remediation))


def passed(evidence: str) -> Finding:
    return Finding("passed", evidence)


def failed(message: str, evidence: str, remediation: str = "") -> Finding:
    return Finding("failed", evidence, message, remediation=remediation)


def not_applicable(reason: str) -> Finding:
    return Finding("skipped", "", reason)


def undecided(reason: str, evidence: str = "") -> Finding:
    """The check could not decide: an error, never a pass."""
    return Finding("error", evidence, reason)


def worst(findings: list[Finding]) -> Finding:
    """Combine per-item findings: any error or failure decides; evidence of all is kept,
    each reason once. The remedies of the deciding findings are kept when each has its
    own (else the catalog's applies)."""
    for outcome in ("error", "failed", "skipped"):
        picked = [f for f in findings if f.outcome == outcome]
        if picked:
            return Finding(outcome, "; ".join(f.evidence for f in findings if f.evidence),
                           "; ".join(dict.fromkeys(f.message for f in picked)),
                           remediation=remedies(picked))
    return passed("; ".join(f.evidence for f in findings if f.evidence))


def remedies(findings: list[Finding]) -> str:
    """The remedies of `findings`, each once, in order; empty unless every one has its own."""
    if not findings or not all(f.remediation for f in findings):
        return ""
    return " ".join(dict.fromkeys(f.remediation for f in findings))


class ControlFailed(AssertionError):
    """The control was evaluated and does not hold."""


class ControlError(Exception):
    """The control could not be evaluated (never a pass)."""


def verdict(finding: Finding, title: str = "") -> None:
    """Report a finding the pytest way; `title` (e.g. "HRD-02 frontend") leads the message."""
    __tracebackhide__ = True
    lead = f"{title}: " if title else ""
    if finding.outcome == "failed":
        remedy = f" (remediation: {finding.remediation})" if finding.remediation else ""
        raise ControlFailed(f"{lead}{finding.message} (evidence: {finding.evidence}){remedy}")
    if finding.outcome == "error":
        detail = f" (evidence: {finding.evidence})" if finding.evidence else ""
        raise ControlError(f"{lead}could not evaluate: {finding.message}{detail}")
    if finding.outcome == "skipped":
        pytest.skip(f"not applicable: {finding.message}")


@dataclass(frozen=True)
class Result:
    """One evaluation of one control, as every report shows it."""

    control: str
    service: str | None
    container: str | None
    nodeid: str
    outcome: str
    evidence: str
    message: str = ""
    waiver: dict | None = None
    duration_s: float = 0.0
    location: dict | None = None  # a declared result's {"file", "line"}
    node: str | None = None  # a swarm task's node
    remediation: str = ""  # the finding's own, for its reason; empty: the catalog's
    project: str | None = None  # its project's name in a run of several (--project); else None
