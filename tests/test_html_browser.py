"""compliance.html as a browser renders it (headless Chromium from Debian's packages).

pytest-html builds the results table with JavaScript, so the report is only
checked for real once a browser has run it: the checklist reads as ticked or
not, and every matrix cell links to a result row that exists.
"""

import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from compliance import controls
from tests.live import audit, stack_up

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Dom(HTMLParser):
    """Ids, matrix links and checklist items of a rendered page."""

    def __init__(self, text: str):
        super().__init__()
        self.ids, self.links, self.checklist = set(), [], []
        self._in_checklist = self._in_item = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and (attrs.get("href") or "").startswith("#"):
            self.links.append(attrs["href"][1:])
        if tag == "ul" and "checklist" in (attrs.get("class") or ""):
            self._in_checklist = True
        if self._in_checklist and tag == "li":
            self.checklist.append("")
            self._in_item = True

    def handle_endtag(self, tag):
        if tag == "ul":
            self._in_checklist = False

    def handle_data(self, data):
        if self._in_checklist and self.checklist:
            self.checklist[-1] += data


def rendered(path, tmp_path) -> Dom:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed for this test (scripts/test installs it)"
    done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return Dom(done.stdout)


# hardened has no database: NET-05 is only skipped there, which proves nothing, so
# "Network isolation configured" stays unticked; weak fails under every item.
@pytest.mark.parametrize("name, unticked", [
    ("hardened", {"Network isolation configured"}),
    ("weak", {text for text, _ in controls.CHECKLIST}),
])
def test_checklist_matrix_and_rows_render_in_a_browser(name, unticked, tmp_path):
    stack_up(name)
    run = audit("--stack", name, f"--policy=fixtures/stacks/{name}/policy.yml",
                f"--compose-file=fixtures/stacks/{name}/compose.yml", report_dir=tmp_path / "reports")
    dom = rendered(tmp_path / "reports" / "compliance.html", tmp_path)
    assert len(dom.checklist) == len(controls.CHECKLIST)
    for item, (text, ids) in zip(dom.checklist, controls.CHECKLIST, strict=True):
        box = "\u2610" if text in unticked else "\u2611"
        assert item.startswith(f"{box}{text}{', '.join(ids)}"), item
    assert len(dom.links) >= len(run.results), "one matrix link per evaluation"
    missing = [link for link in dom.links if link not in dom.ids]
    assert not missing, f"matrix links without a rendered result row: {missing[:5]}"
