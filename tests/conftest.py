"""Shared fixtures: each family lives in its own module under tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.pki",
    "tests.fixtures.smtp",
    "tests.fixtures.db",
    "tests.fixtures.app",
    "tests.fixtures.browser",
]
