"""`eligibility serve`, tested as a client sees it: a real server process on 127.0.0.1, spoken to over HTTP."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

import eligibility  # noqa: E402 - after the skips: without the serve extra there is nothing to test
from eligibility.engine.household_schema import engine_household_schema  # noqa: E402
from eligibility.serve.run import ServeError, is_loopback, resolve_token  # noqa: E402

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "huadu-family.json"
ON = "2024-09-01"
PACKAGE_PARENT = str(Path(eligibility.__file__).resolve().parent.parent)
#: How long a server may take to start or to write a log line (a bound on waiting, not an assertion).
WAIT = 60.0


def _decimal(o: object) -> str:
    assert isinstance(o, Decimal)
    return format(o, "f")


def as_json(value: Any) -> Any:
    """The value as it looks once sent over the wire (money as strings)."""
    return json.loads(json.dumps(value, default=_decimal))


def example() -> dict[str, Any]:
    """The example Huadu family."""
    data: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"), parse_float=Decimal)
    return data


class Server:
    """A running `eligibility serve` process: its address, token and log."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, token: str | None, log: Path,
                 verify: ssl.SSLContext | bool = True) -> None:
        self.proc = proc
        self.url = url
        self.token = token
        self.log = log
        self.verify = verify

    def client(self, token: str | None = "") -> httpx.Client:
        """An HTTP client sending the server's token (or the one given; None sends none)."""
        use = self.token if token == "" else token
        headers = {"Authorization": f"Bearer {use}"} if use is not None else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=WAIT, verify=self.verify)

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON lines of the server's log so far."""
        return [json.loads(x) for x in self.log.read_text(encoding="utf-8").splitlines() if x.startswith("{")]

    def log_line(self, request_id: str) -> dict[str, Any]:
        """The log line of a request, waiting for it to be written (it follows the response)."""
        give_up = time.monotonic() + WAIT
        while True:
            found = [x for x in self.log_lines() if x.get("request_id") == request_id and x["message"] == "request"]
            if found or time.monotonic() > give_up:
                assert found, f"no log line for request {request_id}"
                return found[0]
            time.sleep(0.05)


def start(tmp: Path, *args: str, token: str | None = None, verify: ssl.SSLContext | bool = True) -> Server:
    """Start `python -m eligibility serve --port 0 ARGS` in tmp and wait until /health answers."""
    log = tmp / "server.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([PACKAGE_PARENT, os.environ.get("PYTHONPATH", "")]),
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("ELIGIBILITY_TOKEN", None)
    argv = [sys.executable, "-m", "eligibility", "serve", "--host", "127.0.0.1", "--port", "0", *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=out)
    server = Server(proc, "", token, log, verify)
    give_up = time.monotonic() + WAIT
    try:
        while not server.url:
            if proc.poll() is not None or time.monotonic() > give_up:
                raise AssertionError(f"the server did not start:\n{log.read_text(encoding='utf-8')}")
            for line in server.log_lines():
                if line["message"] == "listening":
                    server.url = line["url"]
            time.sleep(0.05)
        with httpx.Client(base_url=server.url, timeout=WAIT, verify=verify) as c:
            while True:
                try:
                    if c.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > give_up:
                        raise
                time.sleep(0.05)
    except BaseException:
        stop(server)
        raise
    return server


def stop(server: Server) -> None:
    """Stop the server process: SIGTERM, then SIGKILL if it does not stop."""
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


def token_server(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Server]:
    """Yield a server with a token file on a free port of 127.0.0.1, stopped afterwards (a fixture body)."""
    tmp = tmp_path_factory.mktemp(name)
    token = secrets.token_urlsafe(32)
    token_file = tmp / "token"
    token_file.write_text(token + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    s = start(tmp, "--token-file", str(token_file), token=token)
    try:
        yield s
    finally:
        stop(s)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with a token file, on a free port of 127.0.0.1, stopped after the module."""
    yield from token_server(tmp_path_factory, "serve")


@pytest.fixture(scope="module")
def engine() -> eligibility.Engine:
    """The bundled policies, which the server decides with."""
    return eligibility.load()


def post(server: Server, path: str, body: Any, **kw: Any) -> httpx.Response:
    """POST a JSON body with the server's token."""
    with server.client() as c:
        return c.post(path, json=as_json(body), **kw)


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """Check that a response is the problem-details object of that status and type; return it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://eligibility.invalid/problems/{slug}"
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


# ------------------------------------------------------------------ answers


def test_health_answers_without_a_token(server: Server) -> None:
    """GET /health needs no token and names the library version and policy hash."""
    with server.client(token=None) as c:
        r = c.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "library_version": eligibility.__version__,
                        "policy_hash": eligibility.load().policy_hash}


def test_decision_is_the_libraries_to_json(server: Server, engine: eligibility.Engine) -> None:
    """POST /decide returns exactly Decision.to_json() of the same household and date."""
    r = post(server, "/decide", {"household": example(), "on": ON})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == as_json(engine.decide(example(), ON).to_json())
    assert r.json()["programs"]["dibao"]["eligible"] is True


def test_decision_of_chosen_programs_with_why_not(server: Server, engine: eligibility.Engine) -> None:
    """`programs` and `why_not` are passed on: the same as decide(programs=...).to_json(why_not=True)."""
    r = post(server, "/decide", {"household": example(), "on": ON, "programs": ["dibao_single"], "why_not": True})
    assert r.status_code == 200
    expected = engine.decide(example(), ON, ["dibao_single"]).to_json(why_not=True)
    assert r.json() == as_json(expected)
    assert "why_not" in r.json()


@pytest.mark.parametrize(("lang", "fmt", "how", "media"), [
    ("zh", "text", "body", "text/plain"),
    ("en", "text", "accept", "text/plain"),
    ("en", "markdown", "accept", "text/markdown"),
    ("zh", "html", "body", "text/html"),
    ("en", "html", "accept", "text/html"),
])
def test_explanation_in_each_language_and_format(server: Server, engine: eligibility.Engine, lang: str, fmt: str,
                                                 how: str, media: str) -> None:
    """POST /explain returns decision.explain(lang, fmt), the format from the body or the Accept header."""
    body: dict[str, Any] = {"household": example(), "on": ON, "lang": lang}
    headers = {}
    if how == "body":
        body["format"] = fmt
        headers["Accept"] = "application/json"  # the body's format wins
    else:
        headers["Accept"] = f"{media};q=0.9, application/xml;q=1.0, */*;q=0.1"
    r = post(server, "/explain", body, headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == f"{media}; charset=utf-8"
    assert r.text == engine.decide(example(), ON).explain(lang=lang, fmt=fmt)
    if fmt == "html":
        assert "default-src 'none'" in r.headers["content-security-policy"]
    assert ("最低生活保障" if lang == "zh" else "Minimum subsistence allowance") in r.text


def test_explain_for_the_applicant(server: Server, engine: eligibility.Engine) -> None:
    """POST /explain with "view": "applicant" gives the applicant's page; another view is a 422 naming it."""
    r = post(server, "/explain", {"household": example(), "on": ON, "format": "html", "view": "applicant"})
    assert r.status_code == 200
    assert r.text == engine.decide(example(), ON).explain(fmt="html", view="applicant")
    assert "您家每月可领取合计" in r.text
    body = problem(post(server, "/explain", {"household": example(), "on": ON, "view": ["applicant"]}), 422,
                   "invalid-input")
    assert [e["path"] for e in body["errors"]] == ["view"]


def test_household_schema_endpoint_is_the_engines_schema(server: Server, engine: eligibility.Engine) -> None:
    """GET /schema/household returns the vocabulary's JSON Schema, titled in zh or (?lang=en) en."""
    with server.client() as c:
        zh, en = c.get("/schema/household"), c.get("/schema/household", params={"lang": "en"})
    assert zh.headers["content-type"] == "application/schema+json"
    assert zh.json() == engine_household_schema(engine, lang="zh")
    assert en.json() == engine_household_schema(engine, lang="en")


def test_decision_schema_endpoint_is_the_shipped_trace_schema(server: Server) -> None:
    """GET /schema/decision returns docs/reference/trace.schema.json."""
    with server.client() as c:
        r = c.get("/schema/decision")
    docs = ROOT / "docs" / "reference" / "trace.schema.json"
    assert r.json() == json.loads(docs.read_text(encoding="utf-8"))


def test_policies_lists_programs_layers_and_the_policy_hash(server: Server, engine: eligibility.Engine) -> None:
    """GET /policies lists each program with its titles and layers, the policy hash and the library version."""
    with server.client() as c:
        r = c.get("/policies")
    body = r.json()
    assert body["policy_hash"] == engine.policy_hash
    assert body["library_version"] == eligibility.__version__
    assert [p["name"] for p in body["programs"]] == list(engine.programs)
    dibao = next(p for p in body["programs"] if p["name"] == "dibao")
    assert dibao["title"]["zh"].startswith("最低生活保障")
    assert dibao["layers"] == ["national/dibao.yaml", "guangdong/dibao.yaml", "guangzhou/dibao.yaml",
                               "huadu/dibao.yaml"]
    assert dibao["jurisdiction"] == "440114"
    assert "2024-06-01" in dibao["effective_dates"]
    assert body["facts"] == {"file": "facts.yaml", "sha256": engine.model.file_hashes["facts.yaml"]}


def test_openapi_describes_the_routes(server: Server) -> None:
    """GET /openapi.json is OpenAPI 3.1 with the routes, the household schema and bearer security."""
    with server.client() as c:
        r = c.get("/openapi.json")
    spec = r.json()
    assert spec["openapi"] == "3.1.0"
    assert set(spec["paths"]) == {"/decide", "/explain", "/schema/household", "/schema/decision", "/policies",
                                  "/health", "/screen", "/"}
    assert "post" in spec["paths"]["/decide"] and "get" in spec["paths"]["/policies"]
    assert spec["paths"]["/health"]["get"]["security"] == []
    assert spec["security"] == [{"bearer": []}]
    assert spec["components"]["schemas"]["Household"]["properties"]["members"]["type"] == "array"
    # The screening flow: POST /screen with its schemas, and the page at / (open, like /health).
    assert spec["paths"]["/screen"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ScreenRequest"}
    assert spec["paths"]["/"]["get"]["security"] == []
    assert "next_questions" in spec["components"]["schemas"]["Screening"]["properties"]


def test_openapi_lists_the_problems_each_route_answers(server: Server) -> None:
    """Each route documents the problems it answers: 401 without the token (on all routes but the open ones), and
    on a POST route 415 for another content type, 400 for a body that is not JSON, 422 for an invalid request."""
    with server.client() as c:
        spec = c.get("/openapi.json").json()
    with server.client(token=None) as anonymous, server.client() as c:
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                answered = {anonymous.request(method.upper(), path).status_code}
                if method == "post":
                    answered |= {c.post(path, content=b"{}", headers={"Content-Type": "text/plain"}).status_code,
                                 c.post(path, content=b"{", headers={"Content-Type": "application/json"}).status_code,
                                 c.post(path, json={"on": ON}).status_code}
                    assert answered == {401, 415, 400, 422}, path
                documented = {int(status) for status in operation["responses"]}
                assert answered - {200} <= documented, (method, path)
                assert (401 in documented) == (401 in answered), (method, path)


def test_twenty_four_concurrent_decisions_are_each_correct(server: Server, engine: eligibility.Engine) -> None:
    """24 households decided at once over separate connections each get their own, correct decision."""
    def household(i: int) -> dict[str, Any]:
        h = example()
        h["assessed_monthly_income"] = f"{300 + 250 * i}.{i:02d}"
        return h

    def ask(i: int) -> tuple[int, Any]:
        with server.client() as c:
            r = c.post("/decide", json=as_json({"household": household(i), "on": ON}),
                       headers={"X-Request-Id": f"concurrent-{i}"})
        assert r.headers["x-request-id"] == f"concurrent-{i}"
        return r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(ask, range(24)))
    for i, (status, body) in enumerate(answers):
        assert status == 200
        assert body == as_json(engine.decide(household(i), ON).to_json()), i
    assert len({json.dumps(b["programs"]["dibao"]) for _, b in answers}) > 1  # the households differ


# ------------------------------------------------------------------ tokens


def test_a_missing_token_is_401_with_www_authenticate(server: Server) -> None:
    """Without Authorization, every route but /health answers 401 with WWW-Authenticate: Bearer."""
    with server.client(token=None) as c:
        for r in (c.get("/policies"), c.post("/decide", json={"household": {}, "on": ON})):
            problem(r, 401, "missing-token")
            assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer wrong-token-wrong-token-wrong", "Basic dXNlcjpwYXNz", "Bearer", "Bearer x"])
def test_a_wrong_token_is_401(server: Server, header: str) -> None:
    """A wrong token, an empty one or another scheme is refused with error="invalid_token"."""
    with httpx.Client(base_url=server.url, timeout=WAIT) as c:
        r = c.post("/decide", json={"household": as_json(example()), "on": ON},
                   headers={"Authorization": header})
    problem(r, 401, "invalid-token")
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_the_token_scheme_is_case_insensitive(server: Server) -> None:
    """`bearer TOKEN` is accepted like `Bearer TOKEN` (RFC 6750 schemes are case-insensitive)."""
    with httpx.Client(base_url=server.url, timeout=WAIT) as c:
        r = c.get("/policies", headers={"Authorization": f"bearer {server.token}"})
    assert r.status_code == 200


# ------------------------------------------------------------------ hostile bodies


def raw(server: Server, content: bytes, content_type: str | None = "application/json",
        path: str = "/decide") -> httpx.Response:
    """POST raw bytes with the token."""
    headers = {"Content-Type": content_type} if content_type else {}
    with server.client() as c:
        return c.post(path, content=content, headers=headers)


def test_invalid_json_is_400_with_its_position(server: Server) -> None:
    """A body that is not JSON is 400 invalid-json, saying where."""
    body = problem(raw(server, b'{"household": {"members": [}'), 400, "invalid-json")
    assert body["detail"].startswith("第 1 行第 ")  # the request did not choose English: Chinese first
    with server.client() as c:
        body = problem(c.post("/decide", content=b'{"household": {"members": [}',
                              headers={"Content-Type": "application/json", "Accept-Language": "en"}), 400,
                       "invalid-json")
    assert "line 1 column" in body["detail"]


def test_nan_and_non_utf8_are_invalid_json(server: Server) -> None:
    """NaN (not JSON) and bytes that are not UTF-8 are refused as invalid JSON."""
    problem(raw(server, b'{"household": {"assessed_monthly_income": NaN}, "on": "2024-09-01"}'), 400, "invalid-json")
    problem(raw(server, '{"on": "2024-09-01", "x": "é"}'.encode("latin-1")), 400, "invalid-json")
    problem(raw(server, b""), 400, "invalid-json")


def test_duplicate_keys_are_422_naming_the_path(server: Server) -> None:
    """A key twice in one object is refused, with the path of the key (inside the household as the engine says it)."""
    text = ('{"household": {"assessed_monthly_income": "1.00", "financial_assets": "0", '
            '"members": [{"id": "m1", "sex": "female", "sex": "male", "birth_date": "1980-01-01", '
            '"relation": "applicant", "guangdong_hukou": true}]}, "on": "2024-09-01", "on": "2024-10-01"}')
    body = problem(raw(server, text.encode()), 422, "invalid-input")
    assert [(e["path"], e["kind"]) for e in body["errors"]] == [("members[0].sex", "duplicate"), ("on", "duplicate")]


def test_a_body_over_the_limit_is_413(server: Server) -> None:
    """A 2 MiB body is refused with 413 before it is parsed."""
    big = b'{"household": {"note": "' + b"x" * (2 * 1024 * 1024) + b'"}, "on": "2024-09-01"}'
    problem(raw(server, big), 413, "body-too-large")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1"])
def test_a_body_that_is_not_json_utf8_is_415(server: Server, content_type: str | None) -> None:
    """Only application/json (UTF-8) is read: other or missing content types are 415."""
    problem(raw(server, json.dumps({"household": as_json(example()), "on": ON}).encode(), content_type), 415,
            "unsupported-media-type")


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json_is_refused(server: Server, depth: int) -> None:
    """Arrays nested 40 or 100,000 deep are 400 invalid-json, and the server keeps answering."""
    body = b'{"household": ' + b"[" * depth + b"]" * depth + b', "on": "2024-09-01"}'
    assert "nested" in problem(raw(server, body), 400, "invalid-json")["detail"]
    with server.client() as c:
        assert c.get("/health").status_code == 200


def test_an_unknown_household_field_is_422_with_its_path(server: Server) -> None:
    """A field not in the vocabulary is refused with its path and a suggestion, as InputError gives them."""
    h = example()
    h["members"][1]["disabilty_grade"] = 2
    body = problem(post(server, "/decide", {"household": h, "on": ON, "lang": "en"}), 422, "invalid-input")
    assert body["errors"] == [{"path": "members[1].disabilty_grade", "kind": "unknown",
                               "message": "is not a field of the facts vocabulary; did you mean 'disability_grade'?"}]


def test_a_bad_date_is_422_naming_on(server: Server) -> None:
    """An impossible decision date is refused with the path `on`."""
    body = problem(post(server, "/decide", {"household": example(), "on": "2024-02-30"}), 422, "invalid-input")
    assert [(e["path"], e["kind"]) for e in body["errors"]] == [("on", "format")]


def test_request_fields_are_checked(server: Server) -> None:
    """A body that is not an object, facts outside "household", and bad request fields are each named."""
    body = problem(raw(server, b"[1, 2]"), 422, "invalid-input")
    assert body["errors"][0]["path"] == "body"
    flat = {**as_json(example()), "on": ON, "lang": "en"}
    body = problem(post(server, "/decide", flat), 422, "invalid-input")
    paths = {e["path"]: e["message"] for e in body["errors"]}
    assert 'household facts go inside "household"' in paths["members"]
    assert "household" in paths
    body = problem(post(server, "/explain", {"household": example(), "on": ON, "lang": "fr", "format": "pdf",
                                             "programs": [1], "why_not": "yes"}), 422, "invalid-input")
    assert sorted(e["path"] for e in body["errors"]) == ["format", "lang", "programs", "why_not"]


def test_request_fields_of_the_wrong_json_type_are_named(server: Server) -> None:
    """Lists or objects where a name is expected are refused as problems, not as a server error."""
    body = problem(post(server, "/explain", {"household": example(), "on": ON, "lang": ["en"],
                                             "format": {"html": True}}), 422, "invalid-input")
    assert sorted(e["path"] for e in body["errors"]) == ["format", "lang"]


def test_an_unknown_program_is_422(server: Server) -> None:
    """Asking for a program the policy set does not have is refused, listing the known ones."""
    body = problem(post(server, "/decide", {"household": example(), "on": ON, "programs": "dibo"}), 422,
                   "invalid-input")
    assert body["errors"][0]["path"] == "programs" and "known: " in body["errors"][0]["message"]


def test_problem_titles_follow_the_language(server: Server) -> None:
    """Problem titles are Chinese by default and English with "lang": "en" or Accept-Language: en."""
    zh = problem(post(server, "/decide", {"household": example(), "on": "x"}), 422, "invalid-input")
    en = problem(post(server, "/decide", {"household": example(), "on": "x", "lang": "en"}), 422, "invalid-input")
    with server.client() as c:
        other = c.get("/nowhere", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert zh["title"] == "请求或家庭数据有误"
    assert en["title"] == "The request or the household is invalid"
    assert problem(other, 404, "not-found")["title"] == "No such resource"


def test_wrong_method_and_path_are_problems(server: Server) -> None:
    """GET /decide is 405 with Allow; an unknown path is 404, both as problem details."""
    with server.client() as c:
        r = c.get("/decide")
        problem(r, 405, "method-not-allowed")
        assert "POST" in r.headers["allow"]
        r = c.get("/screen")
        problem(r, 405, "method-not-allowed")
        assert "POST" in r.headers["allow"]
        problem(c.get("/nowhere"), 404, "not-found")


# ------------------------------------------------------------------ log


def test_the_log_has_ids_outcomes_and_timings_but_no_facts(server: Server) -> None:
    """Each request's log line has its id, status, outcome and time; no fact value of the household appears."""
    h = example()
    h["assessed_monthly_income"] = "2417.37"
    h["financial_assets"] = "98765.43"
    h["members"][0]["id"] = "secret-member-zhang"
    h["members"][0]["birth_date"] = "1961-07-23"
    secrets_sent = ["2417.37", "98765.43", "secret-member-zhang", "1961-07-23"]
    with server.client() as c:
        ok = c.post("/decide", json=as_json({"household": h, "on": ON}), headers={"X-Request-Id": "log-ok"})
        bad_h = {**h, "nickname": "Wang-secret-nickname"}
        bad = c.post("/explain", json=as_json({"household": bad_h, "on": ON}), headers={"X-Request-Id": "log-bad"})
        c.post("/decide?name=Li-secret-query", json=as_json({"household": h, "on": ON}),
               headers={"X-Request-Id": "log-query"})
        c.get("/members/Zhao-secret-path", headers={"X-Request-Id": "log-path"})
    assert ok.status_code == 200 and bad.status_code == 422
    line = server.log_line("log-ok")
    assert line["method"] == "POST" and line["path"] == "/decide" and line["status"] == 200
    assert line["outcome"]["dibao"] in ("eligible", "not_eligible", "undecided")
    assert isinstance(line["duration_ms"], float | int)
    assert server.log_line("log-bad")["status"] == 422
    assert server.log_line("log-path")["path"] == "(other)"
    server.log_line("log-query")
    text = server.log.read_text(encoding="utf-8")
    for value in [*secrets_sent, "Wang-secret-nickname", "nickname", "Li-secret-query", "Zhao-secret-path"]:
        assert value not in text


def test_a_generated_request_id_is_returned(server: Server) -> None:
    """Without X-Request-Id (or with one that is not an id), the server makes one and returns it."""
    with server.client() as c:
        a = c.get("/policies")
        b = c.get("/policies", headers={"X-Request-Id": "bad id with spaces\tand tabs"})
    for r in (a, b):
        rid = r.headers["x-request-id"]
        assert len(rid) == 32 and int(rid, 16) >= 0


def test_a_bug_is_500_and_logged_without_its_message(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """An unexpected exception answers a 500 problem; the log names its type and place, never its text."""
    import anyio

    from eligibility.serve.app import create_app

    engine = eligibility.load()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("income 2417.37 of secret-member-zhang")

    monkeypatch.setattr(engine, "decide", broken)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(engine, token=None))
        async with httpx.AsyncClient(transport=transport, base_url="http://in-process") as c:
            return await c.post("/decide", json=as_json({"household": example(), "on": ON}))

    with caplog.at_level("INFO", logger="eligibility.serve"):
        r = anyio.run(call)
    problem(r, 500, "internal-error")
    fields = [getattr(rec, "eligibility_fields", {}) for rec in caplog.records]
    assert any(f.get("exception") == "RuntimeError" and f.get("where") for f in fields)
    assert any(f.get("status") == 500 for f in fields)
    assert "2417.37" not in caplog.text and "secret-member-zhang" not in caplog.text
    assert "2417.37" not in json.dumps(fields)


# ------------------------------------------------------------------ starting


def run_cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m eligibility serve ARGS` that is expected to refuse to start."""
    base = {**os.environ, "PYTHONPATH": os.pathsep.join([PACKAGE_PARENT, os.environ.get("PYTHONPATH", "")]),
            "PYTHONDONTWRITEBYTECODE": "1"}
    base.pop("ELIGIBILITY_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "eligibility", "serve", *args], cwd=tmp_path, capture_output=True,
                          text=True, env={**base, **(env or {})}, timeout=WAIT)


def test_no_auth_is_refused_on_every_interface(tmp_path: Path) -> None:
    """`serve --no-auth --host 0.0.0.0` exits 2 with a clear message instead of serving personal data openly."""
    result = run_cli(tmp_path, "--no-auth", "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 2
    assert "--no-auth is refused on 0.0.0.0" in result.stderr


def test_serve_without_any_token_refuses_to_start(tmp_path: Path) -> None:
    """With no --token-file, $ELIGIBILITY_TOKEN or --no-auth, serve refuses to start and says how to make a token."""
    result = run_cli(tmp_path, "--port", "0")
    assert result.returncode == 2
    assert "needs a bearer token" in result.stderr and "secrets.token_urlsafe" in result.stderr


def test_no_auth_on_loopback_serves_without_a_token_and_honours_the_time_limit(tmp_path: Path) -> None:
    """On 127.0.0.1 --no-auth serves without a token; a decision over --time-limit is 503 with Retry-After."""
    s = start(tmp_path, "--no-auth", "--time-limit", "0.000000001")
    try:
        with s.client(token=None) as c:
            assert c.get("/policies").status_code == 200
            r = c.post("/decide", json=as_json({"household": example(), "on": ON}))
        problem(r, 503, "time-limit")
        assert r.headers["retry-after"] == "1"
        assert s.log_line(r.headers["x-request-id"])["status"] == 503
    finally:
        stop(s)
    assert s.proc.returncode is not None


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_tls_with_uvicorns_certificate_options(tmp_path: Path) -> None:
    """--ssl-certfile and --ssl-keyfile serve HTTPS: a client trusting the certificate gets its answers."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=WAIT)
    trust = ssl.create_default_context(cafile=str(cert))
    token = secrets.token_urlsafe(32)
    (tmp_path / "token").write_text(token, encoding="utf-8")
    s = start(tmp_path, "--token-file", str(tmp_path / "token"), "--ssl-certfile", str(cert), "--ssl-keyfile",
              str(key), token=token, verify=trust)
    try:
        assert s.url.startswith("https://127.0.0.1:")
        with s.client() as c:
            assert c.get("/policies").status_code == 200
        with httpx.Client(base_url=s.url, timeout=WAIT) as untrusting, pytest.raises(httpx.ConnectError):
            untrusting.get("/health")
    finally:
        stop(s)


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.0.0.53", True), ("::1", True),
                                                 ("[::1]", True), ("localhost", True), ("0.0.0.0", False),
                                                 ("::", False), ("192.168.1.10", False), ("example.org", False)])
def test_which_hosts_are_loopback(host: str, loopback: bool) -> None:
    """Loopback is 127.0.0.0/8, ::1 and `localhost`; any other address or name is not."""
    assert is_loopback(host) is loopback


def test_the_token_comes_from_the_file_or_the_environment(tmp_path: Path) -> None:
    """--token-file's first line wins over $ELIGIBILITY_TOKEN; a short token or --no-auth with a file is refused."""
    f = tmp_path / "token"
    f.write_text("from-the-file-0123456789\nignored\n", encoding="utf-8")
    env = {"ELIGIBILITY_TOKEN": "from-the-environment-0123"}
    assert resolve_token(f, False, "0.0.0.0", env) == "from-the-file-0123456789"
    assert resolve_token(None, False, "0.0.0.0", env) == "from-the-environment-0123"
    assert resolve_token(None, True, "127.0.0.1", env) is None
    with pytest.raises(ServeError, match="at least 16"):
        resolve_token(None, False, "127.0.0.1", {"ELIGIBILITY_TOKEN": "short"})
    with pytest.raises(ServeError, match="contradict"):
        resolve_token(f, True, "127.0.0.1", {})
    with pytest.raises(ServeError, match="cannot read the token file"):
        resolve_token(tmp_path / "missing", False, "127.0.0.1", {})


def test_problem_details_follow_the_requests_language(server: Server, golden: Callable[[str, str], None]) -> None:
    """A 422 asked for with Accept-Language: zh-CN is in Chinese (title, detail, each problem), whatever the
    server's locale; the body's "lang": "en" wins over the header."""
    h = example()
    h["members"][1]["disabilty_grade"] = 2
    h["assessed_monthly_income"] = "2,400"
    body = problem(post(server, "/decide", {"household": h, "on": ON}, headers={"Accept-Language": "zh-CN,en;q=0.5"}),
                   422, "invalid-input")
    body.pop("request_id")
    golden("i18n/serve-invalid-input.zh.json", json.dumps(body, ensure_ascii=False, indent=2) + "\n")
    en = problem(post(server, "/decide", {"household": h, "on": ON, "lang": "en"}, headers={"Accept-Language": "zh"}),
                 422, "invalid-input")
    assert (en["title"], en["detail"]) == ("The request or the household is invalid",
                                           "2 problem(s) with the household or the date")
