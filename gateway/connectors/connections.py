"""The connections file: YAML beside the rubrics, one entry per helpdesk account and rubric set.

Problems read ``file:line: field: message`` like a rubric file's. Credentials are environment
variable names; their values are read here, at start-up, and a missing one is a problem at the
line that names it.

    connections:
      - name: acme
        helpdesk: zendesk
        rubric: support
        base_url: https://acme.zendesk.com
        webhook_secret_env: ACME_ZENDESK_WEBHOOK_SECRET
        api_user_env: ACME_ZENDESK_EMAIL
        api_token_env: ACME_ZENDESK_TOKEN
        mode: draft                      # draft (default) | auto | off
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from gateway.connectors.models import Connection, Credentials
from gateway.errors import ConfigError
from gateway.rubrics import field_path, read_yaml

MAX_BYTES = 1 << 20


class ConnectionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connections: list[Connection] = Field(default_factory=list)


class Linked(BaseModel):
    """A connection with its credentials."""

    model_config = ConfigDict(frozen=True)

    config: Connection
    credentials: Credentials


def parse_connections(
    source: str, filename: str, environ: Mapping[str, str] | None = None
) -> dict[tuple[str, str], Linked]:
    """Connections by (helpdesk, name). ``ConfigError`` lists every problem with its line."""
    env = os.environ if environ is None else environ
    # the rubric loader's reader: the same budgets against hostile YAML, the same line map
    data, lines = read_yaml(source, filename, ConfigError)
    try:
        parsed = ConnectionsFile.model_validate(data or {})
    except ValidationError as exc:
        problems = [
            f"{filename}:{lines.line_of(tuple(e['loc']))}: {field_path(tuple(e['loc']))}: "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise ConfigError("; ".join(problems)) from None
    problems = []
    out: dict[tuple[str, str], Linked] = {}
    for index, conn in enumerate(parsed.connections):
        where = ("connections", index)
        if (conn.helpdesk, conn.name) in out:
            line = lines.line_of((*where, "name"))
            problems.append(
                f"{filename}:{line}: {field_path((*where, 'name'))}: duplicate connection"
            )
        values: dict[str, str | None] = {}
        for field in ("webhook_secret_env", "api_token_env", "api_user_env", "slack_webhook_env"):
            name = getattr(conn, field)
            if name is None:
                values[field] = None
            elif not env.get(name):
                loc = (*where, field)
                problems.append(
                    f"{filename}:{lines.line_of(loc)}: {field_path(loc)}: environment variable "
                    f"{name} is not set"
                )
            else:
                values[field] = env[name]
        if problems:
            continue
        out[(conn.helpdesk, conn.name)] = Linked(
            config=conn,
            credentials=Credentials(
                webhook_secret=SecretStr(values["webhook_secret_env"] or ""),
                api_token=SecretStr(values["api_token_env"] or ""),
                api_user=values["api_user_env"],
                slack_url=SecretStr(url) if (url := values["slack_webhook_env"]) else None,
            ),
        )
    if problems:
        raise ConfigError("; ".join(problems))
    return out


def load_connections(
    path: Path, environ: Mapping[str, str] | None = None
) -> dict[tuple[str, str], Linked]:
    """The connections in ``path``; none when the file does not exist."""
    if not path.is_file():
        return {}
    try:
        raw = path.read_bytes()[: MAX_BYTES + 1]
        if len(raw) > MAX_BYTES:
            raise ConfigError(f"{path}:1: (file): over the limit of {MAX_BYTES} bytes")
        source = raw.decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}:1: (file): cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}:1: (file): not UTF-8 text") from None
    return parse_connections(source, str(path), environ)
