"""passq-compliance: PassQ's Docker security checklist, proven against a live stack."""

__version__ = "0.1.0"
