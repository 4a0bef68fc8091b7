"""Where junit.xml and compliance.html go, and when they are not written at all.

pytest's junitxml and pytest-html read their paths in pytest_configure; the
plugin's tryfirst pytest_configure calls `configure` before them, so both
land in --report-dir unless the user named a path (--junitxml, --html).

Whether a session is an audit is only known after collection: the suite's
own tests load the plugin too (through the root conftest). A session that
collected no compliance test calls `release`, which unregisters the writers
that `configure` turned on, so it leaves no junit.xml or compliance.html that
could pass for an audit's.

In junit.xml a compliance test's name leads with its control (`HRD-06
test_capabilities_dropped[api]`): CI test views (GitLab's, the JUnit report
actions of GitHub) list a test case by its name and classname and show no
properties.
"""

from pathlib import Path

import pytest
from pytest_html.basereport import BaseReport

DEFAULTED = pytest.StashKey[tuple]()
JUNIT_WRITER = pytest.StashKey[object]()


def configure(config) -> None:
    if config.option.collectonly:  # a listing, not an audit: no report at all
        config.stash[DEFAULTED] = ()
        return
    report_dir = Path(config.getoption("report_dir"))
    defaulted = []
    if not config.option.xmlpath:
        config.option.xmlpath = str(report_dir / "junit.xml")
        defaulted.append("junit")
    if config.pluginmanager.hasplugin("html") and not config.option.htmlpath:
        config.option.htmlpath = str(report_dir / "compliance.html")
        config.option.self_contained_html = True  # one file, no external assets
        defaulted.append("html")
    config.stash[DEFAULTED] = tuple(defaulted)


def junit_writer(config):
    """The object that writes junit.xml, found as a plugin: the one the `junitxml` plugin
    registered (its class comes from that plugin's module); None when none writes."""
    if JUNIT_WRITER not in config.stash:
        module = getattr(config.pluginmanager.get_plugin("junitxml"), "__name__", None)
        config.stash[JUNIT_WRITER] = next(
            (plugin for plugin in config.pluginmanager.get_plugins()
             if module is not None and type(plugin).__module__ == module), None)
    return config.stash[JUNIT_WRITER]


def release(config) -> None:
    """Not an audit: the writers `configure` turned on write nothing. The junitxml plugin is
    blocked (as `-p no:junitxml` blocks it) so that its own unconfigure does not look for
    the writer taken away here."""
    defaulted = config.stash.get(DEFAULTED, ())
    writer = junit_writer(config) if "junit" in defaulted else None
    if writer is not None:
        config.pluginmanager.unregister(writer)
        config.pluginmanager.set_blocked("junitxml")
        config.stash[JUNIT_WRITER] = None
    if "html" in defaulted:
        for plugin in config.pluginmanager.get_plugins():
            if isinstance(plugin, BaseReport):
                config.pluginmanager.unregister(plugin)


def name_testcase(item, control: str) -> None:
    """Name the test's junit.xml test case `CONTROL test_name[service]`: the attribute
    pytest's `record_xml_attribute` fixture would set, set the way that fixture sets it, on
    the junit writer's reporter of the test. The fixture cost every test a fixture lookup
    and two warnings to silence, neither for this use (the attribute set is `name`, which
    every junit family keeps)."""
    xml = junit_writer(item.config)
    if xml is not None:
        xml.node_reporter(item.nodeid).add_attribute("name", f"{control} {item.name}")
