"""The screening page end to end in headless Chromium, driven over the DevTools protocol.

Chromium is started with `--remote-debugging-pipe`: it reads protocol messages (JSON, each ended by
a NUL byte) on its file descriptor 3 and writes them on 4, so the test needs no websocket library.
The page is opened on a real `eligibility serve` process with a token, in a 360-pixel-wide mobile
viewport (Emulation.setDeviceMetricsOverride). The test types the token, the composition of a hidden
household, and then answers each question the page shows from that household, clicking the buttons
and filling the inputs as a person would (through the page's DOM), until the page says it is done.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")

import eligibility
from conftest import chromium
from test_screen import SINGLE, answer_of
from test_serve import ON, WAIT, Server, as_json, example, token_server

PROGRAMS = ["dibao", "marginal", "tekun"]
WIDTH = 360




class Browser:
    """Headless Chromium spoken to over the DevTools protocol on a pipe, with one page attached."""

    def __init__(self, exe: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Chromium expects the pipe's ends as its descriptors 3 (it reads) and 4 (it writes).
        high_r, high_w = os.dup(to_chrome_r), os.dup(from_chrome_w)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def child_fds() -> None:
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--hide-scrollbars", "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        # pass_fds keeps 3 and 4 open in the child after child_fds has set them (others are closed).
        self.proc = subprocess.Popen([exe, *flags], pass_fds=sorted({3, 4, high_r, high_w}), preexec_fn=child_fds,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(high_r)
        os.close(high_w)
        self._buffer = b""
        self._id = 0
        self.session = ""
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        except BaseException:
            self.close()
            raise

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one command (to the attached page once there is one) and return its result."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode("utf-8") + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_chrome, 1 << 16)
                if not chunk:
                    raise AssertionError(f"chromium closed the pipe while waiting for {method}")
                self._buffer += chunk
            raw, _, self._buffer = self._buffer.partition(b"\0")
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                assert "error" not in reply, (method, reply["error"])
                result: dict[str, Any] = reply.get("result", {})
                return result

    def js(self, expression: str) -> Any:
        """Evaluate an expression in the page and return its value (JSON-able)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str) -> Any:
        """Evaluate an expression until it is truthy (a bound on waiting, not an assertion on time)."""
        give_up = time.monotonic() + WAIT
        while True:
            value = self.js(expression)
            if value or time.monotonic() > give_up:
                assert value, f"the page never satisfied: {expression}"
                return value
            time.sleep(0.02)

    def close(self) -> None:
        """Stop Chromium and close the pipe."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with a token on a free port of 127.0.0.1, stopped after the module."""
    yield from token_server(tmp_path_factory, "screen-browser")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """Headless Chromium with a 360-pixel-wide mobile viewport."""
    b = Browser(chromium(), tmp_path / "profile")
    try:
        b.call("Page.enable")
        b.call("Runtime.enable")
        b.call("Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": 740, "deviceScaleFactor": 1,
                                                      "mobile": True})
        yield b
    finally:
        b.close()


def click(b: Browser, selector: str) -> None:
    """Click the element the CSS selector finds (it must be there)."""
    found = b.js(f"(function(e){{if(!e)return false;e.click();return true}})"
                 f"(document.querySelector({json.dumps(selector)}))")
    assert found, selector


def fill(b: Browser, selector: str, value: str) -> None:
    """Type a value into an input, as the input event reports it."""
    b.js(f"(function(e){{e.value={json.dumps(value)};e.dispatchEvent(new Event('input',{{bubbles:true}}))}})"
         f"(document.querySelector({json.dumps(selector)}))")


def settled(b: Browser) -> str:
    """Wait until the page is not busy; return its state (question, done, ...)."""
    state: str = b.wait_for("document.body.dataset.state !== 'busy' && document.body.dataset.state")
    return state


def screen_in_browser(b: Browser, server: Server, hidden: dict[str, Any], engine: eligibility.Engine,
                      lang: str) -> tuple[int, dict[str, Any]]:
    """Drive the page through one household; return the questions asked and the page's final outcomes."""
    b.call("Page.navigate", {"url": server.url + "/"})
    b.wait_for("document.readyState === 'complete' && document.body.dataset.state !== 'start'")
    assert settled(b) == "token"
    fill(b, "#token", str(server.token))
    click(b, "#token-save")
    assert settled(b) == "compose"
    if lang == "en":
        click(b, "#lang")
        assert b.js("document.getElementById('start').textContent") == "Start"
    fill(b, "#on", ON)
    fill(b, "#count", str(len(hidden["members"])))
    for i, member in enumerate(hidden["members"]):
        b.js(f"document.getElementById('relation-{i}').value = {json.dumps(member['relation'])}")
    for name in ("vehicles", "business_registrations", "obligors"):
        fill(b, f"#count-{name}", str(len(hidden.get(name, []))))
    click(b, "#start")
    asked = 0
    while settled(b) == "question":
        path = b.js("document.getElementById('q-input').dataset.path")
        kind = b.js("document.getElementById('q-input').dataset.type")
        value = as_json(answer_of(engine, hidden, path))
        if kind in ("bool", "enum"):
            click(b, f"#q-input button[data-value='{json.dumps(value)}']")
        else:
            fill(b, "#answer", str(value))
            click(b, "#submit")
        asked += 1
        assert asked < 80, "the screening does not end"
    assert b.js("document.body.dataset.state") == "done", b.js("document.getElementById('message').textContent")
    outcomes = b.js("JSON.stringify([].map.call(document.querySelectorAll('#outcome-list li'), function (li) {"
                    "return [li.dataset.program, li.dataset.status, li.dataset.amount]; }))")
    return asked, {p: (s, a) for p, s, a in json.loads(outcomes)}


@pytest.mark.parametrize(("name", "lang"), [("family", "zh"), ("single", "en")])
def test_the_page_screens_a_household_to_its_complete_decision(server: Server, browser: Browser, tmp_path: Path,
                                                               name: str, lang: str) -> None:
    """Answering the page's questions from a hidden household ends with that household's complete decision."""
    engine = eligibility.load()
    hidden = example() if name == "family" else copy.deepcopy(SINGLE)
    truth = engine.decide(copy.deepcopy(hidden), ON, PROGRAMS, complete=True)
    asked, outcomes = screen_in_browser(browser, server, hidden, engine, lang)
    assert set(outcomes) == set(PROGRAMS)
    for program, (status, amount) in outcomes.items():
        expected = truth.programs[program]
        assert status == ("eligible" if expected.eligible else "not_eligible"), program
        if expected.eligible:
            assert amount == format(expected.amount, "f")
    text = browser.js("document.body.innerText")
    title = truth.programs["dibao"].title[lang]
    assert title in browser.js("document.getElementById('explanation').textContent")
    if lang == "zh":
        assert "需核实" in text and "按假定处理" in text and "初筛完成" in text
    else:
        assert "To verify" in text and "Assumed (not asked)" in text and "Screening complete" in text
    verify = browser.js("[].map.call(document.querySelectorAll('#done-lists li'), function (li) {"
                        "return li.dataset.path; })")
    assert "members" in verify
    # The whole page fits a 360-pixel phone, and the screenshot shows something.
    assert browser.js("document.documentElement.scrollWidth") <= WIDTH
    shot = base64.b64decode(browser.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
                            ["data"])
    (tmp_path / f"{name}.png").write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000
    print(f"{name}: {asked} questions")  # shown with pytest -s; the figure for the report


def test_a_question_at_360_pixels_fits_and_dont_know_moves_on(server: Server, browser: Browser,
                                                              tmp_path: Path) -> None:
    """A question page fits 360 px; "don't know" moves to another question and "back" returns to it."""
    browser.call("Page.navigate", {"url": server.url + "/"})
    browser.wait_for("document.readyState === 'complete' && document.body.dataset.state !== 'start'")
    fill(browser, "#token", str(server.token))
    click(browser, "#token-save")
    assert settled(browser) == "compose"
    fill(browser, "#count", "2")
    click(browser, "#start")
    assert settled(browser) == "question"
    first = browser.js("document.getElementById('q-input').dataset.path")
    assert browser.js("document.getElementById('q-help').textContent")
    assert browser.js("document.documentElement.scrollWidth") <= WIDTH
    shot = base64.b64decode(browser.call("Page.captureScreenshot", {"format": "png"})["data"])
    (tmp_path / "question.png").write_bytes(shot)
    assert len(shot) > 5_000
    click(browser, "#unknown")
    assert settled(browser) == "question"
    assert browser.js("document.getElementById('q-input').dataset.path") != first
    click(browser, "#back")
    assert settled(browser) == "question"
    assert browser.js("document.getElementById('q-input').dataset.path") == first
