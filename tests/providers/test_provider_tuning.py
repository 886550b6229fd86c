"""gateway/providers/tuning.py and the prompt's system-message cache.

The gateway configures litellm and instructor through their public API only (so the versions in
pyproject.toml can be a range): nothing in ``gateway/`` imports a private module of either, and
nothing is put in place by importing the gateway (a fresh process checks that) but only at
start-up (``configure_libraries``, which building a ``ProviderClient`` calls).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel
from support.rubrics import rubric_of
from support.wire_server import WireServer, json_reply, wire_client

from gateway.config import PROJECT_ROOT
from gateway.providers import ChatMessage, RubricView, configure_libraries, load_prompt, tuning

# The modules of litellm and instructor the gateway may import: their documented namespaces.
PUBLIC_MODULES = {"litellm", "litellm.exceptions", "instructor", "instructor.core"}


@pytest.fixture(autouse=True)
def configured() -> None:
    """The libraries as start-up leaves them (idempotent: other tests may have built clients)."""
    configure_libraries()


class Answer(BaseModel):
    label: str
    p: float


def _library_imports(root: Path) -> list[tuple[str, str, str]]:
    """(file, module, name) for every import of litellm or instructor under ``root``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found += [(str(path), node.module, alias.name) for alias in node.names]
            elif isinstance(node, ast.Import):
                found += [(str(path), alias.name, "") for alias in node.names]
    return [f for f in found if f[1].split(".")[0] in ("litellm", "instructor")]


def test_the_gateway_uses_only_the_libraries_public_modules() -> None:
    """The one exception, instructor's model audit, is looked up by name in
    ``tuning._AUDIT_HOMES`` (and tested below), not imported."""
    imports = _library_imports(PROJECT_ROOT / "gateway")
    assert imports  # the scan sees them
    private = [
        f"{file}: {module}.{name}"
        for file, module, name in imports
        if module not in PUBLIC_MODULES or name.startswith("_")
    ]
    assert private == []


def test_no_private_attribute_of_the_libraries_is_touched() -> None:
    """``litellm._x`` / ``instructor._x`` in any expression: none."""
    touched = []
    for path in sorted((PROJECT_ROOT / "gateway").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in ("litellm", "instructor")
                and node.attr.startswith("_")
            ):
                touched.append(f"{path}:{node.lineno}: {node.value.id}.{node.attr}")
    assert touched == []


def test_configuring_again_changes_nothing() -> None:
    import litellm
    from instructor.v2.validation import async_validators

    check = async_validators.reject_async_validators
    configure_libraries()
    assert litellm.suppress_debug_info is True
    assert litellm.num_retries is None
    assert async_validators.reject_async_validators is check


def test_instructor_model_audit_is_memoized_but_still_refuses() -> None:
    import instructor.v2.core.patch as patch_module
    from instructor.v2.validation import async_validators

    assert tuning.memoize_instructor_model_audit() is True  # on the installed instructor
    check = async_validators.reject_async_validators
    assert getattr(check, "_gateway_memoized", False)
    assert getattr(patch_module, "reject_async_validators") is check  # noqa: B009

    class Checked(BaseModel):
        x: int

        @async_validators.async_field_validator("x")
        async def slow_check(self, value: int) -> None:
            return None

    for _ in range(2):  # refused every time, not only until cached
        with pytest.raises(ValueError, match="async validators"):
            check(Checked)
    check(Answer)
    check(Answer)


def test_configuring_works_where_instructor_moved_its_audit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another instructor version: the shortcut does nothing, start-up goes on."""
    for homes in (
        (("instructor.no_such_module", "reject_async_validators"),),
        (("instructor.v2.validation.async_validators", "no_such_function"),),
    ):
        monkeypatch.setattr(tuning, "_AUDIT_HOMES", homes)
        assert tuning.memoize_instructor_model_audit() is False
        configure_libraries()


# In a fresh process: the libraries' state, on import of the whole of gateway.providers, and
# once a client is built. Printed as JSON, one object per line.
_PROBE = """
import json, logging, os
import litellm
import instructor
from instructor.v2.validation import async_validators

litellm.num_retries = 2  # a value start-up must reset, and importing must not


def state():
    print(json.dumps({
        "suppress_debug_info": litellm.suppress_debug_info,
        "num_retries": litellm.num_retries,
        "callbacks": [len(litellm.callbacks), len(litellm.success_callback)],
        "instructor_log_level": logging.getLogger("instructor").level,
        "memoized": getattr(async_validators.reject_async_validators, "_gateway_memoized", False),
    }))


state()
import gateway.providers
for name in gateway.providers.__all__:  # every module of the package, imported
    getattr(gateway.providers, name)
state()
from gateway.config import ProviderSettings
gateway.providers.ProviderClient(ProviderSettings(model="openai/test-model"))
state()
"""


def test_importing_the_providers_changes_nothing_in_the_libraries() -> None:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    run = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    before, imported, built = (json.loads(line) for line in lines)
    assert imported == before
    # building a client is start-up: that is where the libraries are configured
    assert built == {
        **before,
        "suppress_debug_info": True,
        "num_retries": None,
        "instructor_log_level": 50,  # logging.CRITICAL
        "memoized": True,
    }


async def test_cost_is_reported_from_the_bundled_table(wire: WireServer) -> None:
    wire.script(json_reply({"label": "billing", "p": 0.9}, model="gpt-4o-mini"))
    client = wire_client(wire, model="openai/gpt-4o-mini")
    result = await client.structured(
        (ChatMessage(role="user", content="hi"),), Answer, max_reasks=0
    )
    assert result.usage.cost_usd > 0


RUBRIC = rubric_of({"category": {"billing": "About a charge?", "other": "About anything else?"}})


@pytest.mark.parametrize("ref", ["classify.v1", "classify.v2"])
def test_cached_system_message_is_the_rendered_one(ref: str) -> None:
    prompt = load_prompt(ref)
    first = prompt.compile(RUBRIC, ["category"], "ticket one")
    second = prompt.compile(RUBRIC, ["category"], "ticket two")
    rendered = prompt.render(
        rubric=RubricView(name=RUBRIC.name, description=RUBRIC.description),
        axes=second.spec.axes,
        text="ticket two",
    )
    assert second.messages == rendered
    assert first.messages[0] is second.messages[0]  # rendered once
    renamed = RUBRIC.model_copy(update={"name": "billing-inbox"})
    assert "billing-inbox" in prompt.compile(renamed, ["category"], "t").messages[0].content


def test_a_system_block_that_reads_the_ticket_is_rendered_every_time(tmp_path: Path) -> None:
    source = (Path(load_prompt("classify.v2").path)).read_text()
    (tmp_path / "echo.v1.j2").write_text(
        source.replace("{% block system %}", "{% block system %}Ticket: {{ text }}\n", 1)
    )
    prompt = load_prompt("echo.v1", tmp_path)
    one = prompt.compile(RUBRIC, ["category"], "first ticket")
    two = prompt.compile(RUBRIC, ["category"], "second ticket")
    assert "first ticket" in one.messages[0].content
    assert "second ticket" in two.messages[0].content
