"""Versioned prompt templates: loading, and compiling a rubric set into chat messages.

A template is one file ``prompts/<name>.v<N>.<ext>``: YAML front matter (``kind``, ``response``,
``description``) between ``---`` lines, then a Jinja body with a ``system`` and a ``user`` block.
Templates are rendered in a ``SandboxedEnvironment`` (a template is configuration that an operator
may edit; the sandbox keeps it from reaching Python internals) and the ticket is always a variable,
never template source. A released version is never edited: its sha256 is pinned by a test and
goes into cache keys, so a change is a new version.

How the ticket is fenced off from the instructions is the template's choice, so that a version
always renders the same messages: ``{{ text | json_string }}`` (classify.v3, label_code.v2 on) makes
the ticket a JSON string literal, which ends at the first unescaped quote and so cannot be ended
by the ticket, whatever lookalike tags, entities or invisible characters it holds. The released
``<ticket>`` fence (``no_close_tag``) only defuses a literal ``</ticket>``; it is kept unchanged for
the old versions so that their hash still names what they send.

Compiling a rubric set + axes gives the chat messages and the response model for them
(``response_spec``); templates see the rubric through ``views``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from jinja2 import StrictUndefined, Template, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.config import PROJECT_ROOT
from gateway.errors import ConfigError, InvalidRequestError, LabelsInvalidError
from gateway.providers.response_spec import ResponseShape, ResponseSpec
from gateway.providers.views import LABEL_CODES, RubricView, axis_views
from gateway.rubrics import RubricSet

DEFAULT_PROMPTS_DIR = PROJECT_ROOT / "prompts"

PromptKind = Literal["structured", "label_code"]

_REF = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)$")


class PromptRef(BaseModel):
    """Which template produced an answer: reported in responses and part of cache keys."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: int
    sha: str = Field(description="sha256 of the template file's bytes")

    @property
    def id(self) -> str:
        return f"{self.name}.v{self.version}"

    @property
    def tag(self) -> str:
        """Id and content hash (``classify.v2@1a2b3c4d``), as responses and cache keys carry it."""
        return f"{self.id}@{self.sha[:8]}"

    def __str__(self) -> str:
        return self.id


class PromptMeta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: PromptKind
    response: ResponseShape
    description: str = ""


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class CompiledPrompt(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    ref: PromptRef
    messages: tuple[ChatMessage, ...]
    spec: ResponseSpec


# --------------------------------------------------------------------------- templates


def _no_close_tag(text: str, tag: str) -> str:
    # The <ticket> fence of classify.v1/v2 and label_code.v1, kept byte-for-byte for them. It
    # misses "< /ticket>", fullwidth brackets, zero-width splits, entities, nested tags: new
    # versions use json_string.
    return re.sub(rf"</\s*{re.escape(tag)}", f"</ {tag}", str(text), flags=re.IGNORECASE)


def _json_string(text: str) -> str:
    """The ticket as one JSON string literal: quotes, backslashes and control characters escaped,
    everything else as written (``ensure_ascii=False``: no token cost for non-ASCII text)."""
    return json.dumps(str(text), ensure_ascii=False)


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # chat text, not HTML
    )
    env.filters["no_close_tag"] = _no_close_tag
    env.filters["json_string"] = _json_string
    return env


_ENV = _environment()
_BLOCKS = ("system", "user")


def _split_front_matter(source: str, path: Path) -> tuple[PromptMeta, str]:
    if not source.startswith("---\n"):
        raise ConfigError(f"{path}: a prompt template starts with '---' front matter")
    end = source.find("\n---\n", 4)
    if end < 0:
        raise ConfigError(f"{path}: front matter is not closed with '---'")
    try:
        meta = PromptMeta.model_validate(yaml.safe_load(source[4:end]))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: invalid front matter: {exc}") from None
    return meta, source[end + 5 :]


def _block_reads(body: str, block: str, names: frozenset[str]) -> bool:
    """Whether the template's ``block`` refers to any of ``names`` (or to ``self``: other blocks).

    Blocks are rendered on their own (``Prompt.render``), so top-level ``set``s and macros never
    reach them: a block sees only the variables it names.
    """
    tree = _ENV.parse(body)
    for node in tree.find_all(nodes.Block):
        if node.name == block:
            return any(n.name in names or n.name == "self" for n in node.find_all(nodes.Name))
    return True


class Prompt:
    """One loaded template version. Thread-safe; response specs are cached per rubric axes, and so
    is the system message when the template's system block does not read the ticket."""

    def __init__(
        self,
        ref: PromptRef,
        meta: PromptMeta,
        template: Template,
        path: Path,
        *,
        system_reads_ticket: bool = True,
    ) -> None:
        self.ref = ref
        self.meta = meta
        self.path = path
        self._template = template
        self._specs: dict[tuple[str, tuple[str, ...]], ResponseSpec] = {}
        # (spec key, rubric name, rubric description) -> system message: all the system block sees
        self._systems: dict[tuple[str, tuple[str, ...], str, str | None], ChatMessage] = {}
        self._system_reads_ticket = system_reads_ticket
        self._lock = threading.Lock()

    @property
    def kind(self) -> PromptKind:
        return self.meta.kind

    def response_spec(self, rubric: RubricSet, axes: list[str]) -> ResponseSpec:
        key = (rubric.axis_fingerprint(axes), tuple(axes))
        with self._lock:
            spec = self._specs.get(key)
            if spec is None:
                spec = ResponseSpec(self.meta.response, axis_views(rubric, axes))
                if len(self._specs) > 1024:  # inline rubrics are unbounded; keep memory flat
                    self._specs.clear()
                self._specs[key] = spec
        return spec

    def _render_block(self, block: str, context: dict[str, object]) -> ChatMessage:
        try:
            ctx = self._template.new_context(context)
            content = "".join(self._template.blocks[block](ctx)).strip()
        except TemplateError as exc:
            # names the template and the Jinja problem, never the ticket
            raise ConfigError(f"prompt {self.ref.id} failed to render: {exc.message}") from None
        return ChatMessage(role="system" if block == "system" else "user", content=content)

    def render(self, **context: object) -> tuple[ChatMessage, ...]:
        return (self._render_block("system", context), self._render_block("user", context))

    def compile(self, rubric: RubricSet, axes: list[str], text: str) -> CompiledPrompt:
        """Messages + response model for a structured prompt: all axes in one call."""
        if self.kind != "structured":
            raise ConfigError(f"prompt {self.ref.id} is a {self.kind} prompt, not structured")
        spec = self.response_spec(rubric, axes)
        context: dict[str, object] = {
            "rubric": RubricView(name=rubric.name, description=rubric.description),
            "axes": spec.axes,
            "text": text,
        }
        if self._system_reads_ticket:
            return CompiledPrompt(ref=self.ref, messages=self.render(**context), spec=spec)
        # The system message (rubric + axes, ~90% of the rendering) is the same for every ticket.
        key = (rubric.axis_fingerprint(axes), tuple(axes), rubric.name, rubric.description)
        system = self._systems.get(key)
        if system is None:
            system = self._render_block("system", context)
            with self._lock:
                if len(self._systems) > 1024:
                    self._systems.clear()
                self._systems[key] = system
        user = self._render_block("user", context)
        return CompiledPrompt(ref=self.ref, messages=(system, user), spec=spec)

    def render_label_code(
        self, rubric: RubricSet, axis: str, text: str, order: Sequence[int] | None = None
    ) -> tuple[ChatMessage, ...]:
        """Messages for a label_code prompt: one axis, labels coded A, B, C... in rubric order,
        or listed in ``order`` (indexes into the axis' labels) and coded A, B, C... in that one."""
        if self.kind != "label_code":
            raise ConfigError(f"prompt {self.ref.id} is a {self.kind} prompt, not label_code")
        (view,) = axis_views(rubric, [axis])
        if len(view.labels) > len(LABEL_CODES):
            raise LabelsInvalidError(
                f"the logprob scorer supports at most {len(LABEL_CODES)} labels per axis; "
                f"axis {axis!r} has {len(view.labels)}"
            )
        if order is not None:
            labels = tuple(
                view.labels[i].model_copy(update={"code": LABEL_CODES[n]})
                for n, i in enumerate(order)
            )
            view = view.model_copy(update={"labels": labels})
        return self.render(
            rubric=RubricView(name=rubric.name, description=rubric.description),
            axis=view,
            text=text,
        )


def parse_ref(ref: str) -> tuple[str, int]:
    match = _REF.match(ref)
    if match is None:
        raise InvalidRequestError(
            f"prompt {ref!r} is not of the form <name>.v<N>, e.g. classify.v2"
        )
    return match["name"], int(match["version"])


def available_prompts(directory: Path | None = None) -> list[str]:
    directory = directory or DEFAULT_PROMPTS_DIR
    found = {
        path.name.split(".")[0] + "." + path.name.split(".")[1]
        for path in directory.glob("*.v*.*")
        if _REF.match(".".join(path.name.split(".")[:2]))
    }
    return sorted(found)


def load_prompt(ref: str, directory: Path | None = None) -> Prompt:
    """The template ``<directory>/<ref>.*``; unknown refs are a client error (422)."""
    return _load(ref, (directory or DEFAULT_PROMPTS_DIR).resolve())


@lru_cache(maxsize=64)
def _load(ref: str, directory: Path) -> Prompt:
    name, version = parse_ref(ref)
    matches = sorted(directory.glob(f"{name}.v{version}.*"))
    if not matches:
        raise InvalidRequestError(
            f"unknown prompt {ref!r}; available: {available_prompts(directory) or 'none'}"
        )
    if len(matches) > 1:
        raise ConfigError(f"prompt {ref!r} is ambiguous: {[p.name for p in matches]}")
    path = matches[0]
    data = path.read_bytes()
    meta, body = _split_front_matter(data.decode("utf-8"), path)
    try:
        template = _ENV.from_string(body)
    except TemplateError as exc:
        raise ConfigError(f"{path}: invalid template: {exc}") from None
    missing = [block for block in _BLOCKS if block not in template.blocks]
    if missing:
        raise ConfigError(f"{path}: template lacks block(s) {missing}")
    sha = hashlib.sha256(data).hexdigest()
    return Prompt(
        PromptRef(name=name, version=version, sha=sha),
        meta,
        template,
        path,
        system_reads_ticket=_block_reads(body, "system", frozenset({"text"})),
    )
