"""The suite's own tests: unit tests (no engine needed) and live tests."""
