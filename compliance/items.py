"""What a collected compliance test stands for: its control, the subject it judges, and
the finding its check reported. Shared by the plugin's hooks and the audit's fixtures."""

import pytest

FINDING = pytest.StashKey[object]()  # the Finding a test's check reported (verdict)
CURRENT_TEST = pytest.StashKey[pytest.Item]()  # the test pytest runs now (pytest_runtest_setup)
CONTROL = pytest.StashKey[str]()  # the control a compliance test evaluates, set at collection


def subject_of(item, declared: bool | None = None):
    """The Subject a compliance test judges (None for the stack); with `declared` only a
    declared (True) or running (False) one."""
    params = item.callspec.params if hasattr(item, "callspec") else {}
    # host: the team's own check of a container
    subject = params.get("container") or params.get("host") or params.get("declared_service")
    if subject is None or (declared is not None and subject.declared != declared):
        return None
    return subject


def stack_of(item):
    """The Stack a stack-level compliance test judges when it is one project of several
    (--project: the test is parametrized by it); None otherwise (the one stack)."""
    return item.callspec.params.get("stack") if hasattr(item, "callspec") else None


def subject(item) -> tuple[str | None, str | None]:
    """(service, container) a compliance test judges; (None, None) for the stack and no
    container for a declared service."""
    judged = subject_of(item)
    if judged is None:
        return None, None
    return judged.service, None if judged.declared else judged.name


def control_of(item) -> str | None:
    """The control an item evaluates (its marker's, or OWN for the team's own check of a
    container), as collection found it; None for any other test."""
    return item.stash.get(CONTROL, None)
