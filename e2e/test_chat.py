"""Two people chat in one room, each in their own browser, as a person would."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.processes import Stack


def open_room(browser: Browser, base_url: str, name: str) -> Page:
    page = browser.new_context(base_url=base_url).new_page()
    page.goto("/chat")
    page.get_by_role("textbox", name="Room").fill("lobby")
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("heading", name="#lobby")).to_be_visible()
    expect(page.get_by_role("status").get_by_text("Live", exact=True)).to_be_visible()
    return page


def test_two_people_chat_and_see_each_other(
    browser: Browser, base_url: str, e2e_stack: Stack, screenshots: Path
) -> None:
    alice = open_room(browser, base_url, "alice")
    bob = open_room(browser, base_url, "bob")
    for page in (alice, bob):
        members = page.get_by_role("list", name="Members")
        expect(members.get_by_role("listitem")).to_have_text(["alice", "bob"])

    alice.get_by_role("textbox", name="Message").fill("hello bob")
    alice.get_by_role("button", name="Send").click()
    expect(alice.get_by_role("textbox", name="Message")).to_have_value("")
    bob_sees = bob.get_by_role("list", name="Messages").get_by_role("listitem")
    expect(bob_sees.last).to_contain_text("alice")
    expect(bob_sees.last).to_contain_text("hello bob")
    expect(alice.get_by_role("list", name="Messages").get_by_role("listitem").last).to_contain_text(
        "(you)"
    )

    bob.get_by_role("textbox", name="Message").fill("hi alice")
    bob.keyboard.press("Enter")
    expect(alice.get_by_role("list", name="Messages").get_by_role("listitem").last).to_contain_text(
        "hi alice"
    )
    alice.set_viewport_size({"width": 390, "height": 780})
    alice.screenshot(path=screenshots / "chat-phone.png", full_page=True)
    bob.screenshot(path=screenshots / "chat.png", full_page=True)

    bob.context.close()
    expect(alice.get_by_role("list", name="Members").get_by_role("listitem")).to_have_text(
        ["alice"]
    )
    alice.context.close()


def test_markup_in_names_and_messages_shows_as_text(browser: Browser, base_url: str) -> None:
    page = browser.new_context(base_url=base_url).new_page()
    page.goto("/chat/xss?name=mallory")
    expect(page.get_by_role("status").get_by_text("Live", exact=True)).to_be_visible()
    payload = (
        '<img src=x onerror="document.body.dataset.pwned=1">'
        "<script>document.body.dataset.pwned=1</script>"
    )
    page.get_by_role("textbox", name="Message").fill(payload)
    page.get_by_role("button", name="Send").click()
    message = page.get_by_role("list", name="Messages").get_by_role("listitem").last
    expect(message).to_contain_text(payload)
    expect(page.locator("#messages img")).to_have_count(0)
    expect(page.locator("#messages script")).to_have_count(0)
    assert page.evaluate("document.body.dataset.pwned") is None
    page.context.close()


def test_a_bad_name_is_explained(page: Page) -> None:
    page.goto("/chat/lobby?name=%20%20")
    expect(page.get_by_role("heading", name="Join lobby")).to_be_visible()
    page.goto("/chat/lobby?name=" + "x" * 30)
    expect(page.get_by_role("alert")).to_contain_text("Names are 1-24 letters")
    page.goto("/chat/Not%20A%20Room?name=bob")
    expect(page.get_by_role("alert")).to_contain_text("Room names are")
