"""Two people chat in one room, each in their own browser, as a person would."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from websockets.sync.client import ClientConnection, connect

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


def chat_as(base_url: str, room: str, name: str, texts: list[str]) -> None:
    """Someone else in the room, over the JSON protocol: joins, says each text, leaves."""
    with connect(base_url.replace("http://", "ws://") + "/ws") as socket:
        socket.send(json.dumps({"type": "join", "room": room, "name": name}))
        _until(socket, "history")
        for text in texts:
            socket.send(json.dumps({"type": "chat", "room": room, "text": text}))
            _until(socket, "chat")


def _until(socket: ClientConnection, kind: str) -> dict[str, object]:
    while True:
        event = json.loads(socket.recv(timeout=5))
        assert event["type"] != "error", event
        if event["type"] == kind:
            return dict(event)


def test_the_newest_message_stays_in_view_unless_the_reader_scrolled_up(
    browser: Browser, base_url: str
) -> None:
    older = [f"older {i}\nsecond line\nthird line\nfourth line" for i in range(10)]
    chat_as(base_url, "long", "carol", older)
    page = browser.new_context(base_url=base_url).new_page()
    page.goto("/chat/long?name=dave")
    messages = page.get_by_role("list", name="Messages")
    rows = messages.get_by_role("listitem")
    expect(rows).to_have_count(10)
    assert messages.evaluate("list => list.scrollHeight > list.clientHeight"), "must overflow"
    expect(rows.last).to_be_in_viewport()  # after the history loads

    chat_as(base_url, "long", "carol", ["newest"])
    expect(rows.last).to_contain_text("newest")
    expect(rows.last).to_be_in_viewport()  # when a message arrives

    messages.evaluate("list => { list.scrollTop = 0 }")  # reading older messages
    chat_as(base_url, "long", "carol", ["while you read"])
    expect(rows.last).to_contain_text("while you read")
    expect(rows.first).to_be_in_viewport()  # the reader keeps their place
    expect(rows.last).not_to_be_in_viewport()
    hint = page.get_by_role("button", name="New messages")
    hint.click()
    expect(rows.last).to_be_in_viewport()
    expect(hint).to_be_hidden()

    messages.evaluate("list => { list.scrollTop = 0 }")
    page.get_by_role("textbox", name="Message").fill("my own")
    page.keyboard.press("Enter")
    expect(rows.last).to_contain_text("my own")
    expect(rows.last).to_be_in_viewport()  # one's own message always shows
    page.context.close()


def test_a_name_already_in_the_room_is_refused_and_another_offered(
    browser: Browser, base_url: str
) -> None:
    first = browser.new_context(base_url=base_url).new_page()
    first.goto("/chat/taken?name=erin")
    expect(first.get_by_role("status").get_by_text("Live", exact=True)).to_be_visible()

    second = browser.new_context(base_url=base_url).new_page()
    second.goto("/chat/taken?name=erin")
    expect(second.get_by_role("alert")).to_contain_text("The name erin is already taken in #taken")
    expect(second.get_by_role("status")).to_contain_text("Not joined")
    expect(second.get_by_text("Live", exact=True)).to_be_hidden()
    expect(second.get_by_text("Connection lost")).to_be_hidden()
    expect(second.get_by_role("textbox", name="Message")).to_be_disabled()
    expect(second.get_by_role("button", name="Send")).to_be_disabled()
    expect(first.get_by_role("list", name="Members").get_by_role("listitem")).to_have_text(["erin"])

    second.get_by_role("link", name="Pick another name").click()
    expect(second.get_by_role("heading", name="Join taken")).to_be_visible()
    second.get_by_label("Your name").fill("erin 2")
    second.get_by_role("button", name="Join").click()
    expect(second.get_by_role("status").get_by_text("Live", exact=True)).to_be_visible()
    for page in (first, second):
        members = page.get_by_role("list", name="Members").get_by_role("listitem")
        expect(members).to_have_text(["erin", "erin 2"])
    first.context.close()
    second.context.close()
