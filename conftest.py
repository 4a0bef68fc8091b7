"""Loads the passq-compliance plugin for everything under this directory."""

pytest_plugins = ["compliance.plugin"]
