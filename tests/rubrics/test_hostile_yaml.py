"""Hostile rubric files (issue 11, item 6): refused with ``file:line`` errors, quickly, by the
loader, the hot-reloading store and ``rubric check`` alike.

The time limits are guards against a hang (before the fix these files took 12 s to forever), not
speed targets: each refusal takes milliseconds.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.errors import RubricInvalidError
from gateway.rubrics import RubricStore, load_rubric_file, parse_rubric
from gateway.rubrics.loading import MAX_ALIASES, MAX_RUBRIC_BYTES

GUARD_S = 2.0

GOOD = """\
name: demo
labels:  # the one-axis shorthand
  - {name: billing, rubric: "Is this text about a billing issue?"}
  - {name: technical, rubric: "Is this text about a technical problem?"}
"""


def _laughs(levels: int, width: int, scalar: str = '"lol"') -> str:
    """The billion-laughs shape: each level an anchored list of ``width`` aliases to the last."""
    lines = [f"l0: &l0 [{','.join([scalar] * width)}]"]
    lines += [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nname: demo\naxes: {{category: {{labels: *l{levels - 1}}}}}\n"


BILLION_LAUGHS = _laughs(levels=9, width=10)  # 10^9 strings once expanded
# the issue's ~400-byte bomb: 9^7 (4.8 million) nodes, 12-20 s before the fix
SMALL_BOMB = _laughs(levels=7, width=9, scalar="x")
SELF_ALIAS = "name: demo\naxes:\n  category:\n    labels: &l [*l]\n"

HOSTILE = {
    "self-referencing list": (SELF_ALIAS, 4, "alias *l refers to itself"),
    "self-referencing mapping": (
        "name: demo\naxes: &a\n  category: {labels: [], more: *a}\n",
        3,
        "alias *a refers to itself",
    ),
    "billion laughs": (BILLION_LAUGHS, 5, "nodes (an alias counts as the nodes it repeats)"),
    "small alias bomb": (SMALL_BOMB, 5, "nodes (an alias counts as the nodes it repeats)"),
    "too many aliases": (
        "x: &x a\nname: demo\nlabels:\n" + "  - *x\n" * (MAX_ALIASES + 1),
        4 + MAX_ALIASES,
        f"more than {MAX_ALIASES} aliases",
    ),
    "deep nesting": ("name: demo\nlabels: " + "[" * 100_000 + "]" * 100_000 + "\n", 2, "deep"),
}


@contextmanager
def _within(seconds: float) -> Iterator[None]:
    started = time.perf_counter()
    yield
    assert time.perf_counter() - started < seconds


def _problems(call: Callable[[], object]) -> list[str]:
    with _within(GUARD_S), pytest.raises(RubricInvalidError) as info:
        call()
    return info.value.problems


@pytest.mark.parametrize(("source", "line", "message"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_source_is_refused_with_its_line(source: str, line: int, message: str) -> None:
    (problem,) = _problems(lambda: parse_rubric(source, "demo.yaml"))
    assert problem.startswith(f"demo.yaml:{line}: (yaml): refused: ")
    assert message in problem


def test_small_bomb_is_the_issues_size() -> None:
    assert len(SMALL_BOMB) <= 400


@pytest.mark.parametrize(("source", "line", "message"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_file_is_refused_with_its_path_and_line(
    tmp_path: Path, source: str, line: int, message: str
) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(source)
    (problem,) = _problems(lambda: load_rubric_file(path))
    assert problem.startswith(f"{path}:{line}: (yaml): refused: ")


def test_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(GOOD + "#" * MAX_RUBRIC_BYTES)
    (problem,) = _problems(lambda: load_rubric_file(path))
    assert problem == f"{path}:1: (file): over the limit of {MAX_RUBRIC_BYTES} bytes"
    (problem,) = _problems(lambda: parse_rubric(path.read_text(), "big.yaml"))
    assert problem.startswith("big.yaml:1: (file): over the limit of")


def test_aliases_within_budget_still_work() -> None:
    source = """\
name: demo
thresholds: &defaults {auto_route: 0.9, review: 0.5}
axes:
  category:
    thresholds:
      <<: *defaults
      review: 0.6
    labels:
      - name: billing
        rubric: Is this text about a billing issue?
        examples: &shared [refund me, charged twice]
      - name: technical
        rubric: Is this text about a technical problem?
        examples: *shared
"""
    # the merge key is read, and not taken for a duplicate of the key it overrides
    rubric = parse_rubric(source, "demo.yaml")
    thresholds = rubric.axes["category"].thresholds
    assert thresholds is not None
    assert (thresholds.auto_route, thresholds.review) == (0.9, 0.6)
    assert rubric.axes["category"].labels[1].examples == ("refund me", "charged twice")


def _touch_later(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    # make sure the change is visible even on filesystems with coarse mtimes
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


@pytest.mark.parametrize("hostile", [SELF_ALIAS, BILLION_LAUGHS, SMALL_BOMB])
def test_hot_reloaded_bomb_keeps_the_last_good_version(tmp_path: Path, hostile: str) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(GOOD)
    store = RubricStore(tmp_path, reload_interval_s=0)
    served = store.get("demo").fingerprint

    _touch_later(path, hostile)
    with _within(GUARD_S):
        assert store.get("demo").fingerprint == served
    (problems,) = store.errors.values()
    assert problems[0].startswith(f"{path}:")
    assert ": (yaml): refused: " in problems[0]
    # reported until fixed, not skipped once its mtime was noted
    assert store.get("demo").fingerprint == served
    assert list(store.errors) == [str(path)]


def test_store_starts_with_a_bomb_beside_good_files(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(GOOD)
    (tmp_path / "bomb.yaml").write_text(SELF_ALIAS)
    with _within(GUARD_S):
        store = RubricStore(tmp_path)
    assert [info.name for info in store.list()] == ["demo"]
    assert store.errors[str(tmp_path / "bomb.yaml")][0].startswith(f"{tmp_path / 'bomb.yaml'}:4:")


def test_unexpected_loader_failure_is_reported_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(GOOD)
    store = RubricStore(tmp_path, reload_interval_s=0)
    served = store.get("demo").fingerprint

    def broken(path: Path) -> object:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("gateway.rubrics.store.load_rubric_file", broken)
    _touch_later(path, GOOD.replace("a billing issue", "a payment issue"))
    assert store.get("demo").fingerprint == served
    assert store.errors == {str(path): [f"{path}:1: (file): cannot load: RecursionError"]}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_is_reported_not_opened(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(GOOD)
    os.mkfifo(tmp_path / "pipe.yaml")  # opening it would block until a writer came
    with _within(GUARD_S):
        store = RubricStore(tmp_path)
    assert len(store) == 1
    assert store.errors == {
        str(tmp_path / "pipe.yaml"): [f"{tmp_path / 'pipe.yaml'}:1: (file): not a regular file"]
    }


def test_errors_is_a_copy() -> None:
    store = RubricStore(Path(sys.prefix) / "no-such-dir")
    store.errors["x"] = ["y"]
    assert store.errors == {}


def test_check_refuses_billion_laughs_quickly(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(BILLION_LAUGHS)
    with _within(GUARD_S):
        result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 1, result.output
    assert f"{path}:5: (yaml): refused: more than" in result.output.replace("\n", "")
