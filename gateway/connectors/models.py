"""What the connectors pass between them: a connection's configuration, a webhook's event, a
ticket fetched from its helpdesk, and the write-back planned for it (pydantic models)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

HelpdeskName = Literal["zendesk", "freshdesk", "intercom", "helpscout"]
Mode = Literal["draft", "auto", "off"]
EventKind = Literal["created", "updated"]
ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"
SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Connection(_Frozen):
    """One helpdesk account and rubric set, as the connections file names it. Credentials are
    named by environment variable, never written in the file."""

    name: str = Field(pattern=SLUG)
    helpdesk: HelpdeskName
    rubric: str = Field(min_length=1)
    base_url: str = Field(pattern=r"^https?://", description="the helpdesk's API root")
    mode: Mode = "draft"
    webhook_secret_env: str = Field(pattern=ENV_NAME, description="signs (or authorises) hooks")
    api_token_env: str = Field(pattern=ENV_NAME)
    api_user_env: str | None = Field(None, pattern=ENV_NAME, description="Zendesk: agent email")
    # Freshdesk signs nothing: its webhook carries a secret header, or basic auth (password)
    freshdesk_auth: Literal["header", "basic"] = "header"
    secret_header: str = "X-Rubric-Secret"  # noqa: S105  # a header name, not a secret
    admin_id: str | None = Field(None, description="Intercom: the admin notes and tags are by")
    category_field: str | None = Field(
        None, description="custom field id of the category (Intercom: the attribute's name)"
    )
    priority_field: str | None = Field(
        None,
        description="Help Scout: custom field id of the priority (it has none of its own); "
        "Intercom: the conversation attribute (default 'priority')",
    )
    tag_prefix: str = Field("rg_", pattern=r"^[a-z0-9_]{1,16}$")
    groups: dict[str, str] = Field(default_factory=dict, description="label route → group id")
    priority_axis: str = "priority"
    priorities: dict[str, str] = Field(
        default_factory=dict, description="priority label → the helpdesk's priority value"
    )
    slack_webhook_env: str | None = Field(None, pattern=ENV_NAME)
    escalate_when: dict[str, list[str]] = Field(
        default_factory=dict, description="axis → labels that escalate (besides rules)"
    )
    ticket_url: str | None = Field(None, description="link template, {id} = the ticket id")

    # Help Scout's custom fields are numeric ids, and it has no priority of its own
    @field_validator("category_field", "priority_field")
    @classmethod
    def _helpscout_field_ids(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("helpdesk") == "helpscout" and value is not None and not value.isdigit():
            raise ValueError("a Help Scout custom field id is a number")
        return value

    @field_validator("priorities")
    @classmethod
    def _helpscout_priority_field(
        cls, value: dict[str, str], info: ValidationInfo
    ) -> dict[str, str]:
        if (
            value
            and info.data.get("helpdesk") == "helpscout"
            and not info.data.get("priority_field")
        ):
            raise ValueError(
                "Help Scout has no priority of its own: name the custom field that holds it "
                "with priority_field"
            )
        return value

    def link(self, ticket_id: str) -> str:
        if self.ticket_url:
            return self.ticket_url.replace("{id}", ticket_id)
        return f"{self.base_url.rstrip('/')}/tickets/{ticket_id}"


class Credentials(_Frozen):
    """A connection's secrets, read from the environment at start-up."""

    webhook_secret: SecretStr
    api_token: SecretStr
    api_user: str | None = None
    slack_url: SecretStr | None = None


class WebhookEvent(_Frozen):
    """What a webhook says happened, reduced to what a job needs: no ticket text."""

    ticket_id: str = Field(min_length=1, max_length=64)
    kind: EventKind
    event_key: str = Field(description="the event id or update time: replays share it")


class Ticket(BaseModel):
    """A ticket as fetched from its helpdesk. ``text`` is raw: it goes to the classifier (which
    redacts it) and nowhere else; it is never stored, logged or written back."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    tags: list[str] = Field(default_factory=list)
    fields: dict[str, str] = Field(default_factory=dict, description="custom field id → value")
    field_values: dict[str, str] = Field(
        default_factory=dict,
        description="custom field id → the value as the API takes it back (Help Scout: an "
        "option's id), where the whole list must be sent to change one",
    )
    version: str | None = Field(None, description="update stamp (Zendesk safe_update)")


class WritePlan(_Frozen):
    """What to write back to one ticket; every value is a label, a score or a configured id."""

    note: str | None = None
    tags: list[str] = Field(default_factory=list)
    category: str | None = Field(None, description="the category field's value (auto)")
    group: str | None = None
    priority: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.note or self.tags or self.category or self.group or self.priority)
