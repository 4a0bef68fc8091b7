"""compliance.html as a browser renders it (headless Chromium from Debian's packages).

pytest-html builds the results table with JavaScript, so the report is only
checked for real once a browser has run it: the first screen is the
auditor's (what was judged, the gate, the checklist, the counts), the
checklist reads as ticked or not, and every matrix cell links to a result
row that exists.
"""

import json
import shutil
import subprocess
from html import unescape
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

    @staticmethod
    def text_of(page: str, element_id: str) -> str:
        """The text of the element with that id (no markup inside it)."""
        start = page.index(f'id="{element_id}">') + len(f'id="{element_id}">')
        return unescape(page[start:page.index("<", start)])


def dumped(path, tmp_path, *flags) -> str:
    """The page's DOM after its scripts ran."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed for this test (scripts/test installs it)"
    done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *flags,
                           "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rendered(path, tmp_path) -> Dom:
    return Dom(dumped(path, tmp_path))


SCREEN = (1280, 900)
# Appended to a copy of the report: once the page has rendered, where its parts are laid out.
LAYOUT = """<script>
window.addEventListener("load", () => {
  const shown = (el) => el.getClientRects().length > 0;
  const box = (selector) => {
    const el = document.querySelector(selector);
    if (!el || !shown(el)) return null;
    const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, text: el.innerText};
  };
  const headings = [...document.querySelectorAll("h1, h2, h3")].filter(shown).map((h) => h.innerText);
  const out = document.createElement("pre");
  out.id = "layout";
  out.textContent = JSON.stringify({
    title: box("#title"), gate: box(".passq .verdict"), checklist: box(".passq ul.checklist"),
    tally: box(".passq .tally"), environment_rows: document.querySelectorAll("#environment tr").length,
    provenance_environment: box(".passq table.environment"), headings});
  document.body.appendChild(out);
});
</script>"""


def layout(path, tmp_path) -> dict:
    """Where the rendered report shows what, on a screen of SCREEN pixels."""
    page = tmp_path / "layout.html"
    head, tail = path.read_text().rsplit("</body>", 1)
    page.write_text(f"{head}{LAYOUT}</body>{tail}")
    dom = dumped(page, tmp_path, "--window-size={},{}".format(*SCREEN), "--virtual-time-budget=10000")
    return json.loads(Dom.text_of(dom, "layout"))


def assert_first_screen_is_the_auditors(shown: dict, title: str) -> None:
    """Title, gate, checklist and counts on the first screen, in that order; pytest-html's
    Environment and Summary headings nowhere; the environment table under Provenance."""
    assert shown["title"]["text"] == title
    parts = [shown[name] for name in ("title", "gate", "checklist", "tally")]
    assert all(parts), shown
    assert [p["top"] for p in parts] == sorted(p["top"] for p in parts)
    assert shown["tally"]["bottom"] <= SCREEN[1], "the counts are below the first screen"
    headings = shown["headings"]
    assert headings[:2] == [title, "Security checklist"] and "Summary" not in headings
    assert headings.index("Environment") == headings.index("Provenance") + 1
    assert shown["environment_rows"] == 0
    assert "Python" in shown["provenance_environment"]["text"]
    assert "Plugins" in shown["provenance_environment"]["text"]


# hardened has no database: NET-05 is only skipped there, which proves nothing, so
# "Network isolation configured" stays unticked; weak fails under every item.
@pytest.mark.parametrize("name, unticked", [
    ("hardened", {"Network isolation configured"}),
    ("weak", {text for text, _ in controls.CHECKLIST}),
])
def test_checklist_matrix_and_rows_render_in_a_browser(docker_engine, name, unticked, tmp_path):
    stack_up(name)
    run = audit("--stack", name, f"--policy=fixtures/stacks/{name}/policy.yml",
                f"--compose-file=fixtures/stacks/{name}/compose.yml", report_dir=tmp_path / "reports")
    report = tmp_path / "reports" / "compliance.html"
    assert_first_screen_is_the_auditors(layout(report, tmp_path), f"PassQ compliance: stack {name}")
    dom = rendered(report, tmp_path)
    assert len(dom.checklist) == len(controls.CHECKLIST)
    for item, (text, ids) in zip(dom.checklist, controls.CHECKLIST, strict=True):
        box = "\u2610" if text in unticked else "\u2611"
        assert item.startswith(f"{box}{text}{', '.join(ids)}"), item
    assert len(dom.links) >= len(run.results), "one matrix link per evaluation"
    missing = [link for link in dom.links if link not in dom.ids]
    assert not missing, f"matrix links without a rendered result row: {missing[:5]}"


def test_a_static_run_names_its_compose_files_first(tmp_path):
    compose = "fixtures/stacks/weak/compose.yml"
    audit("--static-only", f"--compose-file={compose}", "--policy=fixtures/stacks/weak/policy.yml",
          report_dir=tmp_path / "reports")
    assert_first_screen_is_the_auditors(layout(tmp_path / "reports" / "compliance.html", tmp_path),
                                        f"PassQ compliance: static audit of {compose}")
