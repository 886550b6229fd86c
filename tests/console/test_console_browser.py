"""The console in a real browser, end to end: sign-in, the editor's live check, the Try box,
the eval delta on a BANKING77 slice, save → /classify serves the new fingerprint, restore,
the review queue by keyboard alone, the viewer role and the CSRF token."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from support.console import EDITOR, REVIEWER, SHOTS, VIEWER, Console

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    context = browser.new_context(base_url=console.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Page, key: str, target: str = "/ui/") -> None:
    page.goto(target)
    expect(page).to_have_url(re.compile(r"/ui/signin"))
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Console pages")).to_be_visible()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def served_fingerprint(console: Console) -> str:
    with console.api(EDITOR) as api:
        r = api.post("/classify", json={"text": "Where is my new card?", "rubric": "bank"})
        assert r.status_code == 200, r.text
        fingerprint: str = r.json()["rubric"]["fingerprint"]
        return fingerprint


def test_no_key_no_page_then_sign_in(page: Page, console: Console) -> None:
    response = page.request.get("/ui/rubrics/bank", max_redirects=0)
    assert response.status == 303
    assert response.headers["location"].startswith("/ui/signin")
    page.goto("/ui/signin")
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Unknown key.")
    shot(page, "signin")
    sign_in(page, VIEWER)
    cookie = next(c for c in page.context.cookies() if c["name"] == "rubric_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert VIEWER not in cookie["value"]
    expect(page.get_by_role("link", name="bank")).to_be_visible()
    expect(page.locator("tbody tr").first).to_contain_text(served_fingerprint(console)[:12])
    shot(page, "rubrics")


def test_break_the_yaml_see_the_line_fix_it_and_try_a_ticket(page: Page, console: Console) -> None:
    sign_in(page, EDITOR, "/ui/rubrics/bank")
    source = console.rubric_path.read_text()
    lines = source.splitlines()
    bad_line = next(i for i, line in enumerate(lines, 1) if "name: change_pin" in line)
    broken = source.replace("name: change_pin", "nam: change_pin")
    editor = page.get_by_label("YAML of rubric set bank")
    editor.fill(broken)
    note = page.locator(f'#notes li[data-line="{bad_line}"]')
    expect(note).to_contain_text("Extra inputs are not permitted")
    expect(page.locator(f"#gutter #line-{bad_line}")).to_have_class("bad")
    expect(page.locator("#problems")).to_contain_text(f"{console.rubric_path}:{bad_line}: ")
    shot(page, "editor-problem")
    editor.fill(source)
    expect(page.locator("#problems")).to_contain_text("No problems")
    expect(page.locator("#notes li")).to_have_count(0)

    page.get_by_label("Ticket text (shown back redacted only)").fill(
        "My card has not arrived yet, please mail me at sam.smith@example.org"
    )
    page.get_by_role("button", name="Try saved and draft").click()
    sides = page.locator("#try-result .side")
    expect(sides).to_have_count(2)
    expect(sides.nth(0).locator(".top-label")).to_have_text("card_arrival")
    expect(sides.nth(1).locator(".top-label")).to_have_text("card_arrival")
    result = page.locator("#try-result")
    expect(result).to_contain_text("<EMAIL_ADDRESS>")
    expect(result).to_contain_text("EMAIL_ADDRESS×1")
    assert "sam.smith@example.org" not in result.inner_text()
    expect(sides.nth(0).locator("ul.bars li")).to_have_count(8)
    shot(page, "editor-try")


def test_eval_delta_save_classify_and_restore(page: Page, console: Console) -> None:
    original = served_fingerprint(console)
    sign_in(page, EDITOR, "/ui/rubrics/bank")
    source = console.rubric_path.read_text()
    # a worse question for card_arrival: its tickets should flip to other labels
    draft = source.replace(
        "Is this text about a new card that has not arrived yet, tracking the card in the mail?",
        "Is this text about the opening hours of the bank branch?",
    )
    assert draft != source
    page.get_by_label("YAML of rubric set bank").fill(draft)
    expect(page.locator("#problems")).to_contain_text("No problems")
    page.get_by_label("Labelled set").select_option(label="eval suite bank_slice")
    page.get_by_role("button", name="Run eval delta").click()
    expect(page.locator("#delta-done")).to_be_visible(timeout=60_000)
    expect(page.locator("#delta-done")).to_contain_text("64 tickets")
    flips = page.locator("#flips tbody tr")
    assert flips.count() > 0
    expect(flips.first).to_contain_text("card_arrival")
    expect(page.locator("#cells tbody tr").first).to_be_visible()
    expect(page.get_by_role("row", name="accuracy")).to_contain_text("[")
    expect(page.get_by_role("row", name="auto-route precision")).to_be_visible()
    shot(page, "eval-delta")

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#saved")).to_contain_text("Saved v2")
    started = time.monotonic()
    new = served_fingerprint(console)
    assert new != original
    assert time.monotonic() - started < 1.0
    assert "opening hours" in console.rubric_path.read_text()

    page.goto("/ui/rubrics/bank/history")
    rows = page.locator("#versions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(new[:12])
    expect(page.locator("pre.diff .add")).to_contain_text("opening hours")
    shot(page, "history")
    page.get_by_role("button", name="Restore version 1").click()
    expect(page.locator("#saved")).to_contain_text("Saved v3")
    assert served_fingerprint(console) == original
    assert console.rubric_path.read_text() == source


def test_clear_three_review_items_with_the_keyboard(page: Page, console: Console) -> None:
    store = console.state.store
    assert store is not None
    sign_in(page, REVIEWER, "/ui/review")
    queue = page.locator("#queue")
    left = int(queue.get_attribute("data-left") or 0)
    assert left >= 4
    expect(page.locator("#left-count")).to_have_text(str(left))
    shot(page, "review")
    done: list[tuple[int, str]] = []
    for key in ("Enter", "2", "Enter"):
        item = page.locator(".review-item")
        item_id = int(item.get_attribute("data-item") or 0)
        button = page.locator(
            '#queue [data-key="confirm"]' if key == "Enter" else '#queue [data-key="2"]'
        )
        label = button.locator("xpath=..").locator('input[name="label"]').get_attribute("value")
        assert label
        page.keyboard.press(key)
        expect(page.locator(".review-item")).not_to_have_attribute("data-item", str(item_id))
        done.append((item_id, label))
    expect(page.locator("#left-count")).to_have_text(str(left - 3))
    skipped = page.locator(".review-item").get_attribute("data-item")
    page.keyboard.press("s")
    expect(page.locator(".review-item")).not_to_have_attribute("data-item", str(skipped))
    expect(page.locator("#left-count")).to_have_text(str(left - 3))  # a skip is not a label
    labelled = {int(e.id.removeprefix("item-")): e.label for e in store.export(rubric="bank")}
    for item_id, label in done:
        assert labelled[item_id] == label
    assert int(skipped or 0) not in labelled
    # the queue shows redacted text only
    assert "jane.doe@example.com" not in page.content()


def test_viewer_cannot_save(page: Page, console: Console) -> None:
    sign_in(page, VIEWER, "/ui/rubrics/bank")
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_disabled()
    csrf = page.locator('#editor-form input[name="csrf"]').get_attribute("value")
    assert csrf
    before = console.rubric_path.read_text()
    r = page.request.post(
        "/ui/rubrics/bank/save",
        form={"csrf": csrf, "source": before.replace("Card and transfer", "Edited")},
        max_redirects=0,
    )
    assert r.status == 403
    assert "editor role" in r.text()
    assert console.rubric_path.read_text() == before
    # nor can it restore, nor review
    assert (
        page.request.post(
            "/ui/rubrics/bank/restore", form={"csrf": csrf, "version": "1"}, max_redirects=0
        ).status
        == 403
    )
    page.goto("/ui/review")
    expect(page.get_by_role("alert")).to_contain_text("reviewer role")


def test_a_post_without_the_csrf_token_is_refused(page: Page, console: Console) -> None:
    sign_in(page, EDITOR, "/ui/rubrics/bank")
    before = console.rubric_path.read_text()
    edited = before.replace("Card and transfer", "Edited")
    for form in ({"source": edited}, {"source": edited, "csrf": "forged"}):
        r = page.request.post("/ui/rubrics/bank/save", form=form, max_redirects=0)
        assert r.status == 403
        assert "CSRF" in r.text()
    assert console.rubric_path.read_text() == before


def test_overview_shows_traffic_queue_and_charts(page: Page, console: Console) -> None:
    sign_in(page, VIEWER, "/ui/overview")
    section = page.locator("section.card").first
    expect(section).to_contain_text("tickets")
    expect(section).to_contain_text("in the review queue")
    expect(section.locator("svg.chart")).to_have_count(2)
    expect(section.locator("svg.chart rect").first).to_be_visible()
    shot(page, "overview")
