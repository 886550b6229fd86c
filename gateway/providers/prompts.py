"""Versioned prompt templates compiled from rubric sets.

A template is one file ``prompts/<name>.v<N>.<ext>``: YAML front matter (``kind``, ``response``,
``description``) between ``---`` lines, then a Jinja body with a ``system`` and a ``user`` block.
Templates are rendered in a ``SandboxedEnvironment`` (a template is configuration that an operator
may edit; the sandbox keeps it from reaching Python internals) and the ticket is always a variable,
never template source. A released version is never edited: its sha256 is pinned by a test and
goes into cache keys, so a change is a new version.

Compiling a rubric set + axes gives the chat messages and a pydantic response model: per axis an
object with a short rationale, (for ``rationale_choice_probabilities``) a ``Literal`` choice among
the label names, and ``p_yes``: one probability in [0, 1] per label. JSON keys are safe
identifiers derived from the label names and mapped back after validation; unknown keys and
unknown choices are rejected (``extra="forbid"``, ``Literal``), so instructor re-asks instead of
passing them on.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import re
import string
import threading
import weakref
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from jinja2 import StrictUndefined, Template, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)

from gateway.config import PROJECT_ROOT
from gateway.errors import ConfigError, InvalidRequestError, LabelsInvalidError
from gateway.rubrics.model import RubricSet

DEFAULT_PROMPTS_DIR = PROJECT_ROOT / "prompts"
RATIONALE_MAX_CHARS = 300
LABEL_CODES = string.ascii_uppercase  # one code letter = one token in every common tokenizer

PromptKind = Literal["structured", "label_code"]
ResponseShape = Literal["yes_probabilities", "rationale_choice_probabilities", "label_code"]

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


# --------------------------------------------------------------------------- template views
# What a template sees: plain, immutable views (no RubricSet methods reachable from Jinja).


class LabelView(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    key: str = Field(description="safe JSON key for this label's p_yes")
    code: str = Field(description="code letter for label_code prompts")
    rubric: str
    examples: tuple[str, ...]


class AxisView(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    key: str
    description: str | None
    multi_label: bool
    labels: tuple[LabelView, ...]

    @property
    def codes(self) -> list[str]:
        return [label.code for label in self.labels]


class RubricView(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str | None


def safe_keys(names: list[str]) -> list[str]:
    """JSON-safe, unique identifiers for names (``^[A-Za-z_][A-Za-z0-9_]{0,47}$``).

    Providers restrict tool-schema property names; label names are free text.
    """
    keys: list[str] = []
    seen: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")[:40] or "label"
        if base[0].isdigit() or keyword.iskeyword(base):
            base = f"l_{base}"
        key, n = base, 2
        while key in seen:
            key, n = f"{base}_{n}", n + 1
        seen.add(key)
        keys.append(key)
    return keys


def _axis_views(rubric: RubricSet, axes: list[str]) -> list[AxisView]:
    views: list[AxisView] = []
    for axis_name, axis_key in zip(axes, safe_keys(axes), strict=True):
        axis = rubric.axes[axis_name]
        keys = safe_keys(axis.names)
        labels = tuple(
            LabelView(
                name=label.name,
                key=key,
                code=LABEL_CODES[i] if i < len(LABEL_CODES) else "",
                rubric=label.rubric,
                examples=label.examples,
            )
            for i, (label, key) in enumerate(zip(axis.labels, keys, strict=True))
        )
        views.append(
            AxisView(
                name=axis_name,
                key=axis_key,
                description=axis.description,
                multi_label=axis.multi_label,
                labels=labels,
            )
        )
    return views


# --------------------------------------------------------------------------- response models


def _short(text: str) -> str:
    # Truncate rather than reject: a long rationale is not worth a re-ask.
    text = " ".join(text.split())
    return text if len(text) <= RATIONALE_MAX_CHARS else text[: RATIONALE_MAX_CHARS - 1] + "…"


Rationale = Annotated[str, AfterValidator(_short)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]

_FORBID = ConfigDict(extra="forbid")
_SCHEMAS: weakref.WeakKeyDictionary[type[BaseModel], str] = weakref.WeakKeyDictionary()


@lru_cache(maxsize=1)
def response_base() -> type[BaseModel]:
    """Base of every generated response model (built on first use: instructor is slow to import).

    Being an instructor ``ResponseSchema`` spares instructor from wrapping the model in a new
    class on every call, and the JSON schema (which instructor's JSON mode embeds in every
    request) is generated once per model instead of per call: together ~4 ms a call.
    """
    from instructor import ResponseSchema

    class ResponseBase(ResponseSchema):
        model_config = ConfigDict(extra="forbid")

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            if args or kwargs:
                return super().model_json_schema(*args, **kwargs)
            cached = _SCHEMAS.get(cls)
            if cached is None:
                cached = json.dumps(super().model_json_schema())
                _SCHEMAS[cls] = cached
            schema: dict[str, Any] = json.loads(cached)  # a fresh copy: callers may edit it
            return schema

    return ResponseBase


class ResponseSpec:
    """The response model for (rubric axes, prompt shape) and the way back to label names."""

    def __init__(self, shape: ResponseShape, axes: list[AxisView]) -> None:
        if shape == "label_code":
            raise ConfigError("label_code prompts have no structured response model")
        self.shape = shape
        self.axes = axes
        axis_fields: dict[str, Any] = {}
        for i, axis in enumerate(axes):
            p_fields: dict[str, Any] = {
                f"f{j}": (Probability, Field(alias=label.key, description=label.rubric))
                for j, label in enumerate(axis.labels)
            }
            p_yes = create_model(
                f"PYes{i}",
                __config__=_FORBID,
                __doc__=f"Probability that each label's question is answered yes ({axis.key}).",
                **p_fields,
            )
            rationale = (Rationale, Field(description="one short sentence, no personal data"))
            fields: dict[str, Any] = {}
            if shape == "rationale_choice_probabilities":
                choice_type = Literal[tuple(label.name for label in axis.labels)]  # type: ignore[valid-type]
                fields["rationale"] = rationale
                fields["choice"] = (choice_type, Field(description="the best-fitting label"))
                fields["p_yes"] = (p_yes, ...)
            else:
                fields["p_yes"] = (p_yes, ...)
                fields["rationale"] = rationale
            axis_model = create_model(
                f"Axis{i}", __config__=_FORBID, __doc__=f"Answer for axis {axis.key}.", **fields
            )
            axis_fields[f"a{i}"] = (axis_model, Field(alias=axis.key))
        # The class name is the schema title the model sees (and a valid function name).
        self.model: type[BaseModel] = create_model(
            "classify_ticket",
            __base__=response_base(),
            __doc__="Classify the support ticket on every axis.",
            **axis_fields,
        )

    def probabilities(self, answer: BaseModel) -> dict[str, dict[str, float]]:
        """Axis name → label name → P(yes), from a validated answer."""
        if not isinstance(answer, self.model):
            raise TypeError("answer is not an instance of this spec's response model")
        out: dict[str, dict[str, float]] = {}
        for i, axis in enumerate(self.axes):
            p_yes = getattr(answer, f"a{i}").p_yes
            out[axis.name] = {
                label.name: float(getattr(p_yes, f"f{j}")) for j, label in enumerate(axis.labels)
            }
        return out

    def choices(self, answer: BaseModel) -> dict[str, str]:
        """Axis name → the chosen label (``rationale_choice_probabilities`` only)."""
        if self.shape != "rationale_choice_probabilities":
            return {}
        return {axis.name: getattr(answer, f"a{i}").choice for i, axis in enumerate(self.axes)}

    def validate_json(self, payload: str) -> BaseModel:
        return self.model.model_validate_json(payload)


class CompiledPrompt(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    ref: PromptRef
    messages: tuple[ChatMessage, ...]
    spec: ResponseSpec


# --------------------------------------------------------------------------- templates


def _no_close_tag(text: str, tag: str) -> str:
    # A ticket must not be able to close the <ticket> fence and speak as the prompt.
    return re.sub(rf"</\s*{re.escape(tag)}", f"</ {tag}", str(text), flags=re.IGNORECASE)


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # chat text, not HTML
    )
    env.filters["no_close_tag"] = _no_close_tag
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
                spec = ResponseSpec(self.meta.response, _axis_views(rubric, axes))
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

    def render_label_code(self, rubric: RubricSet, axis: str, text: str) -> tuple[ChatMessage, ...]:
        """Messages for a label_code prompt: one axis, labels coded A, B, C..."""
        if self.kind != "label_code":
            raise ConfigError(f"prompt {self.ref.id} is a {self.kind} prompt, not label_code")
        (view,) = _axis_views(rubric, [axis])
        if len(view.labels) > len(LABEL_CODES):
            raise LabelsInvalidError(
                f"the logprob scorer supports at most {len(LABEL_CODES)} labels per axis; "
                f"axis {axis!r} has {len(view.labels)}"
            )
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
