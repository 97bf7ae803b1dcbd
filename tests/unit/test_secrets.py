"""Which env names and values memlab masks (CLI/JSON show *** unless --reveal)."""

import pytest

from memlab.secrets import (display_value, looks_secret, looks_secret_entry,
                            looks_secret_name, looks_secret_value, mask_env_string)


@pytest.mark.parametrize("name", [
    "DB_PASSWORD", "MYSQL_PASSWD", "DB_PASS", "GPG_PASSPHRASE", "API_TOKEN", "CLIENT_SECRET",
    "SSH_KEY", "AWS_ACCESS_KEY_ID", "GOOGLE_APPLICATION_CREDENTIALS", "GITHUB_PAT",
    "SENTRY_DSN", "api_key",
])
def test_secret_names_are_masked(name):
    assert looks_secret_name(name)


@pytest.mark.parametrize("name", [
    "PATH", "HOME", "LANG", "TOX_TESTENV_PASSENV", "KEYBOARD", "PATTERN", "LOG_LEVEL", "TERM",
])
def test_ordinary_names_are_not(name):
    assert not looks_secret_name(name)


@pytest.mark.parametrize("value", [
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_" + "a" * 36,
    "-----BEGIN RSA PRIVATE KEY-----",
    "postgres://app:s3cret@db:5432/app",
])
def test_secret_shaped_values(value):
    assert looks_secret_value(value) and looks_secret("HARMLESS", value)


def test_plain_values_are_not_secret():
    assert not looks_secret_value("info") and not looks_secret_value("https://example.com/x")


def test_display_and_mask():
    assert display_value("DB_PASSWORD", "hunter2", reveal=False) == "***"
    assert display_value("DB_PASSWORD", "hunter2", reveal=True) == "hunter2"
    assert display_value("LOG_LEVEL", "debug", reveal=False) == "debug"
    # from a Kubernetes Secret: masked whatever its name or value, until revealed
    assert display_value("greeting", "hello", reveal=False, from_secret=True) == "***"
    assert display_value("greeting", "hello", reveal=True, from_secret=True) == "hello"
    assert display_value("greeting", "", reveal=False, from_secret=True) == ""
    assert mask_env_string("DB_PASSWORD=hunter2") == "DB_PASSWORD=***"
    assert mask_env_string("NOEQUALS") == "NOEQUALS"
    assert looks_secret_entry(b"API_TOKEN=x") and not looks_secret_entry(b"API_TOKEN")
