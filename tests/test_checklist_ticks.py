"""The checklist's tick (report/views.py) on hand-made results: no tick without a check.

An item whose evaluations are all skipped, or that has none, proves nothing: it is
never ticked and the HTML says it was not evaluated.
"""


import pytest

from compliance.outcomes import Result
from compliance.report import html, views

PINNED = "All images use pinned versions"


def results(*outcomes, control="IMG-01") -> list[Result]:
    return [Result(control, f"svc{i}", None, f"test_image_pinned[svc{i}]", outcome, "")
            for i, outcome in enumerate(outcomes)]


def item(found) -> views.ChecklistItem:
    return next(i for i in views.checklist(found) if i.text == PINNED)


@pytest.mark.parametrize("outcomes, ticked, evaluated", [
    ((), False, False),
    (("skipped", "skipped"), False, False),
    (("passed", "skipped"), True, True),  # a service it does not apply to
    (("waived",), True, True),
    (("passed", "failed"), False, True),
    (("passed", "error"), False, True),
])
def test_tick(outcomes, ticked, evaluated):
    found = item(results(*outcomes))
    assert (found.ticked, found.evaluated) == (ticked, evaluated)


@pytest.mark.parametrize("found, shown", [
    (results("skipped", "skipped"), "not evaluated (2 skipped)"),
    (results("passed", control="USR-01"), "not evaluated"),
])
def test_an_item_not_evaluated_says_so(found, shown):
    page = html._checklist(found, html.Escape(str))
    line = next(li for li in page.split("<li ") if PINNED in li)
    assert line.startswith('class="unticked"') and f'<span class="counts">{shown}</span>' in line
