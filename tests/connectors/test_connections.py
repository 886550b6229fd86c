"""The connections file: file:line problems, credentials only by environment variable name."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.connectors import load_connections, parse_connections
from gateway.errors import ConfigError

GOOD = """\
connections:
  - name: acme
    helpdesk: zendesk
    rubric: support
    base_url: https://acme.zendesk.com
    webhook_secret_env: ACME_SECRET
    api_token_env: ACME_TOKEN
"""
ENV = {"ACME_SECRET": "s3cret", "ACME_TOKEN": "t0ken"}


def test_a_good_file_links_credentials_from_the_environment() -> None:
    linked = parse_connections(GOOD, "connections.yaml", ENV)
    conn = linked[("zendesk", "acme")]
    assert conn.config.mode == "draft"
    assert conn.credentials.webhook_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(conn)  # secrets never print


def test_problems_name_file_line_and_field() -> None:
    bad = GOOD.replace("helpdesk: zendesk", "helpdesk: zendeks").replace(
        "    api_token_env: ACME_TOKEN\n", "    api_token_env: ACME_TOKEN\n    token: abc\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_connections(bad, "connections.yaml", ENV)
    message = info.value.message
    assert "connections.yaml:3: connections[0].helpdesk:" in message
    assert "connections.yaml:8: connections[0].token: Extra inputs are not permitted" in message


def test_a_missing_environment_variable_is_a_problem_at_its_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_connections(GOOD, "connections.yaml", {"ACME_SECRET": "s"})
    assert info.value.message == (
        "connections.yaml:7: connections[0].api_token_env: environment variable ACME_TOKEN is not set"
    )


def test_credentials_cannot_be_written_in_the_file() -> None:
    literal = GOOD.replace("api_token_env: ACME_TOKEN", "api_token_env: abc-literal-token")
    with pytest.raises(ConfigError, match=r"connections.yaml:7: connections\[0\].api_token_env"):
        parse_connections(literal, "connections.yaml", ENV)


def test_yaml_errors_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"c.yaml:3: \(yaml\)"):
        parse_connections("connections:\n  - name: [unclosed\n", "c.yaml", ENV)
    assert load_connections(tmp_path / "absent.yaml") == {}


def test_help_scout_fields_are_numeric_ids_and_its_priority_needs_a_field() -> None:
    helpscout = GOOD.replace("helpdesk: zendesk", "helpdesk: helpscout")
    bad_id = helpscout + "    category_field: Category\n"
    with pytest.raises(ConfigError) as info:
        parse_connections(bad_id, "connections.yaml", ENV)
    assert info.value.message == (
        "connections.yaml:8: connections[0].category_field: a Help Scout custom field id is a number"
    )
    no_field = helpscout + "    priorities: {high: '402'}\n"
    with pytest.raises(ConfigError, match=r"connections.yaml:8: connections\[0\].priorities: "):
        parse_connections(no_field, "connections.yaml", ENV)
    linked = parse_connections(no_field + "    priority_field: '78'\n", "connections.yaml", ENV)
    assert linked[("helpscout", "acme")].config.priority_field == "78"
    # elsewhere a field is named as the helpdesk names it
    assert parse_connections(GOOD + "    category_field: issue_type\n", "c.yaml", ENV)
