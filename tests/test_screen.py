"""POST /screen and the page at GET /, tested over HTTP against a real `eligibility serve` process."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

import eligibility  # noqa: E402 - after the skips: without the serve extra there is nothing to test
from test_serve import ON, Server, as_json, example, problem, raw, start, stop, token_server  # noqa: E402

PROGRAMS = ["dibao", "marginal", "tekun"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with a token on a free port of 127.0.0.1, stopped after the module."""
    yield from token_server(tmp_path_factory, "screen")


@pytest.fixture(scope="module")
def engine() -> eligibility.Engine:
    """The bundled policies, which the server decides with."""
    return eligibility.load()


def composition(household: dict[str, Any]) -> dict[str, Any]:
    """The household's members with their ids and relations only, and its other records with their ids."""
    out: dict[str, Any] = {"members": [{"id": m["id"], "relation": m["relation"]} for m in household["members"]]}
    for name in ("vehicles", "business_registrations", "obligors"):
        if name in household:
            out[name] = [{"id": r["id"]} if "id" in r else {} for r in household[name]]
    return out


def answer_of(engine: eligibility.Engine, hidden: dict[str, Any], path: str) -> Any:
    """The hidden household's answer to a question (the declared default where it leaves the fact out)."""
    m = re.fullmatch(r"(\w+)(?:\[(\d+)\]\.(\w+))?", path)
    assert m is not None
    spec = engine.model.facts.field(m.group(1))
    assert spec is not None
    if m.group(3) is None:
        return hidden.get(path, spec.default)
    field = spec.field(m.group(3))
    assert field is not None
    return hidden[m.group(1)][int(m.group(2))].get(m.group(3), field.default)


def put(household: dict[str, Any], path: str, value: Any) -> None:
    """Set the fact at a path."""
    m = re.fullmatch(r"(\w+)(?:\[(\d+)\]\.(\w+))?", path)
    assert m is not None
    if m.group(3) is None:
        household[path] = value
    else:
        household[m.group(1)][int(m.group(2))][m.group(3)] = value


def screen(server: Server, body: dict[str, Any], **kw: Any) -> httpx.Response:
    """POST /screen with the server's token."""
    with server.client() as c:
        return c.post("/screen", json=as_json(body), **kw)


def test_the_first_step_asks_from_the_composition(server: Server, engine: eligibility.Engine) -> None:
    """From the members alone every program is undetermined and the questions are the engine's, ranked."""
    start_h = composition(example())
    r = screen(server, {"household": start_h, "on": ON, "lang": "en"})
    assert r.status_code == 200, r.text
    body = r.json()
    decision = engine.decide(copy.deepcopy(start_h), ON, PROGRAMS, assume_defaults=False)
    assert set(body["outcomes"]) == set(PROGRAMS)
    for name, o in body["outcomes"].items():
        assert o["status"] == "undetermined" and o["eligible"] is None
        assert o["unknown"] == list(decision.programs[name].unknown)
        assert o["title"] == decision.programs[name].title["en"]
    assert body["unknown_facts"] == list(decision.unknown_facts)
    assert body["done"] is False and "explanation" not in body
    ranked = [q["path"] for q in decision.next_questions()]
    assert [q["path"] for q in body["next_questions"]] == ranked[:3]
    assert [a["path"] for a in body["assumed"]] == ["business_registrations", "obligors", "residence_permits"]


def test_questions_carry_label_help_type_and_choices_in_the_language(server: Server,
                                                                     engine: eligibility.Engine) -> None:
    """Each question has its vocabulary label (with the member named), help text, type, unit and choices."""
    h = composition(example())
    zh = screen(server, {"household": h, "on": ON, "max_questions": 50}).json()["next_questions"]
    en = screen(server, {"household": h, "on": ON, "lang": "en", "max_questions": 50}).json()["next_questions"]
    assert [q["path"] for q in zh] == [q["path"] for q in en]
    by_path = {q["path"]: (q, e) for q, e in zip(zh, en, strict=True)}
    q, e = by_path["members[0].guangdong_hukou"]
    assert q["label"] == "成员 1（申请人本人）：广东省户籍"
    assert e["label"] == "Member 1 (applicant): Holds Guangdong hukou"
    assert q["type"] == "bool" and q["choices"] == [{"value": True, "label": "是"}, {"value": False, "label": "否"}]
    assert "不知道" in q["help"] and "don't know" in e["help"]
    assert q["record"] == {"list": "members", "index": 0, "id": "m1", "name": "成员 1（申请人本人）"}
    absence = engine.model.facts.field("members").field("absence_status")  # type: ignore[union-attr]
    assert absence is not None
    q, e = by_path["members[1].absence_status"]
    assert q["type"] == "enum"
    assert [c["value"] for c in q["choices"]] == [v for v, _ in absence.values]
    assert [c["label"] for c in e["choices"]] == [lab.en for _, lab in absence.values]
    single = {"members": [{"id": "m1", "relation": "applicant"}]}
    zh = screen(server, {"household": single, "on": ON, "max_questions": 50}).json()["next_questions"]
    en = screen(server, {"household": single, "on": ON, "lang": "en", "max_questions": 50}).json()["next_questions"]
    by_path = {q["path"]: (q, e) for q, e in zip(zh, en, strict=True)}
    q, e = by_path["assessed_monthly_income"]
    assert q["type"] == "money" and q["unit"] == "CNY/month" and q["unit_label"] == "元/月"
    assert q["choices"] is None and "元/月" in q["help"] and "yuan a month" in e["help"]
    q, _ = by_path["members[0].birth_date"]
    assert q["type"] == "date" and q["choices"] is None


@pytest.mark.parametrize("hidden_name", ["family", "single"])
def test_answering_the_top_question_reaches_the_complete_decision(server: Server, engine: eligibility.Engine,
                                                                  hidden_name: str) -> None:
    """Answering each top question from a hidden household ends with its complete decision, verified facts listed."""
    hidden = example() if hidden_name == "family" else SINGLE
    truth = engine.decide(copy.deepcopy(hidden), ON, PROGRAMS, complete=True)
    asked = composition(hidden)
    steps = 0
    while True:
        r = screen(server, {"household": asked, "on": ON, "max_questions": 1})
        assert r.status_code == 200, r.text
        body = r.json()
        for name, o in body["outcomes"].items():  # a settled outcome never changes afterwards
            if o["status"] != "undetermined":
                assert o["eligible"] == truth.programs[name].eligible, (name, steps)
        if body["done"]:
            break
        path = body["next_questions"][0]["path"]
        put(asked, path, as_json(answer_of(engine, hidden, path)))
        steps += 1
        assert steps < 80, "the screening does not end"
    for name in PROGRAMS:
        o = body["outcomes"][name]
        assert o["status"] in ("eligible", "not_eligible")
        assert o["eligible"] == truth.programs[name].eligible
        if o["eligible"]:
            assert o["amount"] == format(truth.programs[name].amount, "f")
    assert body["still_unknown"] == []
    verify = {x["path"] for x in body["to_verify"]}
    lists = {k for k, v in asked.items() if isinstance(v, list) and v}
    assert "members" in verify and verify <= lists | _given_paths(asked)
    assert body["explanation"].count("\n") > 3
    for o in body["outcomes"].values():
        assert o["title"] in body["explanation"]
    if hidden_name == "family":
        assert body["outcomes"]["dibao"] == {"status": "eligible", "eligible": True, "amount": "1446.00",
                                             "unknown": [], "title": truth.programs["dibao"].title["zh"]}
        assert "assessed_monthly_income" in verify
        assert [a["path"] for a in body["assumed"]] == ["business_registrations", "obligors", "residence_permits"]


SINGLE: dict[str, Any] = {
    "assessed_monthly_income": "0.00", "financial_assets": "2000.00",
    "members": [{"id": "p1", "relation": "applicant", "birth_date": "1948-05-01", "sex": "male",
                 "guangdong_hukou": True, "hukou_local": True, "childless": True, "has_legal_obligor": False}]}


def _given_paths(household: dict[str, Any]) -> set[str]:
    out = set()
    for key, value in household.items():
        if isinstance(value, list):
            out |= {f"{key}[{i}].{f}" for i, rec in enumerate(value) for f in rec}
        else:
            out.add(key)
    return out


def test_dont_know_is_not_asked_again(server: Server) -> None:
    """A fact answered {"unknown": true} stays unknown and is not asked again; the screening can end undetermined."""
    h = composition(example())
    first = screen(server, {"household": h, "on": ON}).json()["next_questions"][0]["path"]
    put(h, first, {"unknown": True})
    body = screen(server, {"household": h, "on": ON, "max_questions": 50}).json()
    assert first in body["unknown_facts"]
    assert first not in [q["path"] for q in body["next_questions"]]
    for _ in range(10):  # "don't know" to everything: the screening ends with nothing settled
        for q in body["next_questions"]:
            put(h, q["path"], {"unknown": True})
        body = screen(server, {"household": h, "on": ON, "max_questions": 50}).json()
        if body["done"]:
            break
    end = body
    assert end["done"] is True and end["next_questions"] == []
    assert {o["status"] for o in end["outcomes"].values()} == {"undetermined"}
    assert first in {x["path"] for x in end["still_unknown"]}


def test_chosen_programs_and_the_answer_in_english(server: Server, engine: eligibility.Engine) -> None:
    """`programs` limits what is settled; a refusing answer ends the screening with an English explanation."""
    h = {"members": [{"id": "m1", "relation": "applicant", "guangdong_hukou": False}]}
    body = screen(server, {"household": h, "on": ON, "programs": ["dibao"], "lang": "en"}).json()
    assert list(body["outcomes"]) == ["dibao"]
    assert body["done"] is True and body["outcomes"]["dibao"]["status"] == "not_eligible"
    assert body["to_verify"][-1] == {"path": "members[0].guangdong_hukou", "source": None, "value": "No",
                                     "label": "Member 1 (applicant): Holds Guangdong hukou"}
    assert body["explanation"].startswith("Screening result (not verified)")


def test_bad_screen_bodies_are_problem_details(server: Server) -> None:
    """Missing fields, bad request fields, a record without its relation and bad JSON are problems with paths."""
    body = problem(screen(server, {"household": {"members": []}}), 422, "invalid-input")
    assert [e["path"] for e in body["errors"]] == ["on"]
    body = problem(screen(server, {"on": ON, "max_questions": -1, "why_not": True, "programs": "dibo"}), 422,
                   "invalid-input")
    assert sorted(e["path"] for e in body["errors"]) == ["household", "max_questions", "why_not"]
    body = problem(screen(server, {"household": {"members": [{"id": "m1"}]}, "on": ON}), 422, "invalid-input")
    assert ("members[0].relation", "missing") in [(e["path"], e["kind"]) for e in body["errors"]]
    body = problem(screen(server, {"household": {"members": [{"id": "m1", "relation": "applicant"}]}, "on": ON,
                                   "programs": ["dibo"]}), 422, "invalid-input")
    assert body["errors"][0]["path"] == "programs"
    problem(raw(server, b'{"household": {', path="/screen"), 400, "invalid-json")
    problem(raw(server, b"{}", content_type="text/plain", path="/screen"), 415, "unsupported-media-type")
    problem(raw(server, b'{"household": {"members": [{"id": "m1", "id": "m2"}]}, "on": "2024-09-01"}',
                path="/screen"), 422, "invalid-input")


def test_screen_needs_the_token_and_logs_no_facts(server: Server) -> None:
    """Without the token /screen is 401; with it, the log line has the outcome but none of the facts sent."""
    h = {"members": [{"id": "secret-member-li", "relation": "applicant", "birth_date": "1957-03-29"}],
         "financial_assets": "31415.92"}
    with server.client(token=None) as c:
        problem(c.post("/screen", json={"household": h, "on": ON}), 401, "missing-token")
    with server.client(token="wrong-token-wrong-token-wrong") as c:
        problem(c.post("/screen", json={"household": h, "on": ON}), 401, "invalid-token")
    r = screen(server, {"household": h, "on": ON}, headers={"X-Request-Id": "screen-log"})
    assert r.status_code == 200
    line = server.log_line("screen-log")
    assert line["path"] == "/screen" and line["status"] == 200
    assert set(line["outcome"]) == set(PROGRAMS)
    text = server.log.read_text(encoding="utf-8")
    for secret in ("secret-member-li", "1957-03-29", "31415.92"):
        assert secret not in text


def test_the_page_is_served_without_a_token_and_loads_nothing_external(server: Server,
                                                                         engine: eligibility.Engine) -> None:
    """GET / is one self-contained page (no external URL), with a CSP allowing only itself; it knows auth is on."""
    with server.client(token=None) as c:
        r = c.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "script-src 'sha256-" in csp
    page = r.text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "http://" not in page and "https://" not in page
    config = json.loads(re.search(r'<script type="application/json" id="config">(.*?)</script>', page, re.S)
                        .group(1))  # type: ignore[union-attr]
    assert config["auth"] is True and config["programs"] == PROGRAMS
    members = next(x for x in config["lists"] if x["name"] == "members")
    assert members["relations"][0]["value"] == "applicant"
    assert '<html lang="zh">' in page


def test_the_page_without_auth_says_so(tmp_path: Path) -> None:
    """Served with --no-auth on loopback, the page does not ask for a token."""
    s = start(tmp_path, "--no-auth")
    try:
        with s.client(token=None) as c:
            page = c.get("/").text
            assert c.post("/screen", json={"household": {"members": [{"id": "m1", "relation": "applicant"}]},
                                           "on": ON}).status_code == 200
    finally:
        stop(s)
    assert '"auth":false' in page
