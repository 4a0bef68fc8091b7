"""compliance.html as a browser renders it (headless Chromium from Debian's packages).

pytest-html builds the results table with JavaScript, so the report is only
checked for real once a browser has run it: the first screen answers "did it
pass, what failed, where" (the gate's banner, the counts by severity, the
chart, the failures by control), every text is readable (WCAG AA contrast,
computed from the styles the browser applied), the checklist reads as ticked
or not, every matrix cell links to a result row that exists, a finding's
record opens in the page, no cell shows a Python tuple, and printing drops
what is only for clicking. A screenshot of the first screen is kept in the
test's temporary folder, to look at.
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


def dumped(path, tmp_path, *flags, dump=True) -> str:
    """The page's DOM after its scripts ran (or what chromium said, doing `flags` instead)."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed for this test (scripts/test installs it)"
    done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *flags,
                           *(["--dump-dom"] if dump else []), path.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rendered(path, tmp_path) -> Dom:
    return Dom(dumped(path, tmp_path))


SCREEN = (1280, 900)
# Appended to a copy of the report: once the page has rendered, where its parts are laid out,
# which texts fall short of WCAG AA contrast, what a finding's record and printing show.
LAYOUT = """<script>
window.addEventListener("load", () => {
  const shown = (el) => el.getClientRects().length > 0;
  const box = (selector) => {
    const el = document.querySelector(selector);
    if (!el || !shown(el)) return null;
    const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, text: el.textContent};
  };
  const headings = [...document.querySelectorAll("h1, h2, h3")].filter(shown).map((h) => h.innerText);
  const rgb = (colour) => {
    const parts = colour.match(/[\\d.]+/g).map(Number);
    return parts.length === 3 ? [...parts, 1] : parts;
  };
  const luminance = ([r, g, b]) => {
    const linear = (v) => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  const background = (el) => {
    for (let at = el; at; at = at.parentElement) {
      const colour = rgb(getComputedStyle(at).backgroundColor);
      if (colour[3] > 0) return colour;
    }
    return [255, 255, 255, 1];
  };
  const lowContrast = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || !shown(el) || style.visibility !== "visible") continue;
    const fg = luminance(rgb(el instanceof SVGElement ? style.fill : style.color));
    const bg = luminance(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      lowContrast.push(`${el.textContent.trim().slice(0, 40)}: ${style.color} on ` +
                       `${getComputedStyle(el).backgroundColor} (${ratio.toFixed(2)}:1)`);
    }
  }
  const failures = [...document.querySelectorAll(".passq table.failures tr")].slice(1).map((tr) => ({
    control: tr.cells[0].innerText.split(" ")[0],
    services: [...tr.cells[3].querySelectorAll("a")].map((a) => a.innerText),
    where: [...tr.cells[3].querySelectorAll("code")].map((c) => c.innerText)}));
  const records = [...document.querySelectorAll("details.passq-record")];
  const opened = records.find((d) => shown(d));
  if (opened) opened.querySelector("summary").click();
  const printHidden = [];
  for (const sheet of document.styleSheets) {
    for (const rule of sheet.cssRules) {
      if (!(rule instanceof CSSMediaRule) || !rule.media.mediaText.includes("print")) continue;
      for (const inner of rule.cssRules) {
        if (inner.style && inner.style.display === "none") {
          printHidden.push(...inner.selectorText.split(",").map((s) => s.trim()));
        }
      }
    }
  }
  const table = document.getElementById("results-table").textContent;
  const out = document.createElement("pre");
  out.id = "layout";
  out.textContent = JSON.stringify({
    title: box("#title"), gate: box(".passq .verdict"), glance: box(".passq .glance"),
    chart: box(".passq svg.chart"), failures: box(".passq table.failures"),
    first_failure: box(".passq table.failures tr:nth-child(2)"), failure_rows: failures,
    checklist: box(".passq ul.checklist"), tally: box(".passq .tally"),
    environment_rows: document.querySelectorAll("#environment tr").length,
    provenance_environment: box(".passq table.environment"), headings, low_contrast: lowContrast,
    records: records.map((d) => JSON.parse(d.querySelector("pre").textContent).control),
    record_opens: opened ? shown(opened.querySelector("pre")) : null,
    data_links: document.querySelectorAll('a[href^="data:"]').length,
    result_columns: [...document.querySelectorAll("#results-table th")].filter(shown)
      .map((th) => th.innerText),
    tuples: [...table.matchAll(/\\((['"]).{0,40}/g)].map((m) => m[0]),
    print_hidden: printHidden.filter((selector) => document.querySelector(selector))});
  document.body.appendChild(out);
});
</script>"""


def layout(path, tmp_path) -> dict:
    """Where the rendered report shows what, on a screen of SCREEN pixels; and a screenshot of
    that first screen, kept as tmp_path/first-screen.png."""
    page = tmp_path / "layout.html"
    head, tail = path.read_text().rsplit("</body>", 1)
    page.write_text(f"{head}{LAYOUT}</body>{tail}")
    size = "--window-size={},{}".format(*SCREEN)
    dom = dumped(page, tmp_path, size, "--virtual-time-budget=10000")
    shot = tmp_path / "first-screen.png"
    dumped(path, tmp_path, size, "--virtual-time-budget=10000", f"--screenshot={shot}", dump=False)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000, "no screenshot of the first screen"
    assert (int.from_bytes(png[16:20]), int.from_bytes(png[20:24])) == SCREEN
    return json.loads(Dom.text_of(dom, "layout"))


def assert_first_screen_is_the_auditors(shown: dict, title: str) -> None:
    """Title, gate banner, counts by severity with the chart, and the failures by control (when
    any failed) on the first screen, in that order, then the checklist; pytest-html's
    Environment and Summary headings nowhere; the environment table under Provenance."""
    assert shown["title"]["text"] == title
    parts = [shown[name] for name in ("title", "gate", "glance")]
    assert all(parts) and shown["chart"], shown
    if shown["failure_rows"]:
        parts.append(shown["failures"])
        assert shown["first_failure"]["bottom"] <= SCREEN[1], "no failure on the first screen"
    parts.append(shown["checklist"])
    assert [p["top"] for p in parts] == sorted(p["top"] for p in parts)
    assert shown["glance"]["bottom"] <= SCREEN[1], "the counts are below the first screen"
    assert shown["chart"]["bottom"] <= SCREEN[1], "the chart is below the first screen"
    headings = shown["headings"]
    failures = [h for h in headings if h.startswith("Failures by control")]
    assert headings[:2 + len(failures)] == [title, *failures, "Security checklist"]
    assert "Summary" not in headings
    assert headings.index("Environment") == headings.index("Provenance") + 1
    assert shown["environment_rows"] == 0
    assert "Python" in shown["provenance_environment"]["text"]
    assert "Plugins" in shown["provenance_environment"]["text"]


def assert_readable(shown: dict) -> None:
    """Every text at WCAG AA contrast; one outcome column; no Python tuple in the table; each
    finding's record in the page and opening there; printing hides what is for clicking."""
    assert not shown["low_contrast"], shown["low_contrast"][:10]
    assert shown["result_columns"] == ["Control", "Severity", "Service", "Container", "Outcome",
                                       "Evidence"]
    assert not shown["tuples"], shown["tuples"][:5]
    assert shown["data_links"] == 0
    assert {".controls", "details.passq-record"} <= set(shown["print_hidden"])


def assert_failures_grouped(shown: dict, results: list[dict]) -> None:
    """Each refuted control once, each of its services once, with the file:line of its results."""
    rows = shown["failure_rows"]
    refuted = [r for r in results if r["outcome"] in ("failed", "error")]
    assert len(rows) == len({r["control"] for r in refuted})
    for row in rows:
        mine = [r for r in refuted if r["control"] == row["control"]]
        assert row["services"] == sorted({r["service"] or "(stack)" for r in mine},
                                         key=lambda s: (s == "(stack)", s))
        lines = {f'{r["location"]["file"]}:{r["location"]["line"]}' for r in mine if r["location"]}
        assert {w.rsplit("/", 1)[-1] for w in row["where"]} == {w.rsplit("/", 1)[-1] for w in lines}
    assert sorted(shown["records"]) == sorted(r["control"] for r in results if r["outcome"] != "passed")
    if shown["records"]:
        assert shown["record_opens"]


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
    shown = layout(report, tmp_path)
    assert_first_screen_is_the_auditors(shown, f"PassQ compliance: stack {name}")
    assert_readable(shown)
    assert_failures_grouped(shown, run.results)
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
    run = audit("--static-only", f"--compose-file={compose}", "--policy=fixtures/stacks/weak/policy.yml",
                report_dir=tmp_path / "reports")
    shown = layout(tmp_path / "reports" / "compliance.html", tmp_path)
    assert_first_screen_is_the_auditors(shown, f"PassQ compliance: static audit of {compose}")
    assert_readable(shown)
    assert_failures_grouped(shown, run.results)
    assert shown["failure_rows"] and all(row["where"] for row in shown["failure_rows"])
    assert shown["gate"]["text"].startswith("FAILEDRelease gate (--fail-on low): FAILED")
