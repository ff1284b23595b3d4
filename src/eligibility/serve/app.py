"""The HTTP service (an ASGI app on Starlette): decide and explain households for systems not written in Python.

`create_app(engine, token=...)` returns the app; `eligibility.serve.run.serve` runs it with uvicorn.
Every route but `/health` needs `Authorization: Bearer <token>` unless the app is made with
`token=None` (which `eligibility serve` allows only on a loopback address). Each request is
decided in a worker thread under a time limit; nothing is kept from one request to the next.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
import traceback
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.schemas import SchemaGenerator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eligibility.base.errors import InputError
from eligibility.base.i18n import N_, use_language
from eligibility.base.i18n import translate as _
from eligibility.base.source import did_you_mean
from eligibility.base.version import __version__
from eligibility.engine.household_schema import engine_household_schema, trace_schema
from eligibility.engine.runtime import Decision, Engine
from eligibility.serve.body import Limits, parse_json, read_body
from eligibility.serve.logs import log
from eligibility.serve.page import page_csp, render_page
from eligibility.serve.problems import PROBLEM_TYPE, TYPE_BASE, Problem, http_problem
from eligibility.serve.screen import MAX_QUESTIONS, QUESTIONS, default_programs, screen

T = TypeVar("T")

#: Routes answered without a token: a load balancer's health check, and the screening page (which
#: holds no personal data; it sends the token the person types with each /screen call).
OPEN_PATHS = frozenset({"/health", "/"})
#: A caller's X-Request-Id is kept when it looks like an id; otherwise the service makes one.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")
#: The most input problems one response lists.
MAX_ERRORS = 200
FORMATS = {"text": "text/plain", "markdown": "text/markdown", "html": "text/html"}
SECURITY_HEADERS = [(b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer")]
#: Keys of the POST bodies (the household goes under "household").
DECIDE_KEYS = ("household", "on", "programs", "why_not", "lang")
EXPLAIN_KEYS = (*DECIDE_KEYS, "format", "view")
SCREEN_KEYS = ("household", "on", "programs", "lang", "max_questions")

RID = "eligibility.request_id"
LANG = "eligibility.lang"
OUTCOME = "eligibility.outcome"


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, default=_decimal).encode("utf-8")


def _decimal(o: object) -> object:
    if isinstance(o, Decimal):
        return format(o, "f")
    raise TypeError(type(o).__name__)


def _lang_of(scope: Scope) -> str:
    """The language of problem titles: ?lang=, else Accept-Language (zh unless it prefers en)."""
    query = scope.get("query_string", b"").decode("latin-1")
    m = re.search(r"(?:^|&)lang=(zh|en)(?:&|$)", query)
    if m:
        return m.group(1)
    for name, value in scope.get("headers", []):
        if name == b"accept-language":
            first = value.decode("latin-1").split(",")[0].strip().lower()
            return "en" if first.startswith("en") else "zh"
    return "zh"


def _problem_response(problem: Problem, scope: Scope) -> Response:
    lang = scope.get(LANG) or _lang_of(scope)
    return Response(problem.encode(lang, scope.get(RID)), status_code=problem.status, headers=problem.headers,
                    media_type=PROBLEM_TYPE)


def _frames(exc: BaseException) -> list[str]:
    """Where an exception was raised: file, line and function of each frame, without its text."""
    return [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}" for f in traceback.extract_tb(exc.__traceback__)]


class Guard:
    """ASGI middleware: request id, bearer token, security headers, catch-all 500, and the request's log line."""

    def __init__(self, app: ASGIApp, token: str | None, paths: frozenset[str]) -> None:
        self.app = app
        self.token = token.encode("utf-8") if token is not None else None
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        rid = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        scope[RID] = rid
        state = {"status": 0, "started": False}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                state["status"] = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", rid.encode("ascii")), *SECURITY_HEADERS]
                message = {**message, "headers": headers}
            await send(message)

        try:
            refused = self._refuse(scope)
            if refused is not None:
                await _problem_response(refused, scope)(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception as exc:  # a bug: answer 500, log where (never the exception's text)
            log(logging.ERROR, "internal error", request_id=rid, exception=type(exc).__name__, where=_frames(exc))
            if not state["started"]:
                problem = Problem("internal-error", N_("the service failed; the request id identifies it in the log"))
                await _problem_response(problem, scope)(scope, receive, send_with_headers)
        finally:
            fields: dict[str, Any] = {
                "request_id": rid, "method": scope["method"],
                # A path that is not a route is not logged: a caller may have put anything in it.
                "path": scope["path"] if scope["path"] in self.paths else "(other)",
                "status": state["status"], "duration_ms": round((time.perf_counter() - start) * 1000, 2)}
            outcome = scope.get(OUTCOME)
            if outcome is not None:
                fields["outcome"] = outcome
            log(logging.INFO, "request", **fields)

    def _refuse(self, scope: Scope) -> Problem | None:
        """Return the 401 problem for a request without the right bearer token, else None."""
        if self.token is None or scope["path"] in OPEN_PATHS:
            return None
        value = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        realm = 'Bearer realm="eligibility"'
        if value is None:
            return Problem("missing-token", N_("send the header Authorization: Bearer <token>"),
                           headers={"WWW-Authenticate": realm})
        scheme, _, credentials = value.strip().partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(credentials.strip(), self.token):
            return Problem("invalid-token", N_("the bearer token is not this service's token"),
                           headers={"WWW-Authenticate": realm + ', error="invalid_token"'})
        return None


def _content_security_policy(html: str) -> str:
    """Allow the page's own inline scripts (by hash) and styles, nothing else."""
    hashes = [base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode("ascii")
              for s in re.findall(r"<script>(.*?)</script>", html, flags=re.S)]
    scripts = " ".join(f"'sha256-{h}'" for h in hashes) or "'none'"
    return (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src {scripts}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _choose_format(accept: str | None) -> str:
    """Pick text, markdown or html from an Accept header (q-values honoured; text when nothing matches)."""
    best, best_q = "text", -1.0
    for i, part in enumerate((accept or "").split(",")):
        media, *params = [x.strip() for x in part.split(";")]
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        fmt = next((f for f, m in FORMATS.items() if m == media.lower()), None)
        if fmt is not None and q > 0 and q - i * 1e-6 > best_q:
            best, best_q = fmt, q - i * 1e-6
    return best


class _Request:
    """The fields of a POST /decide or /explain body, checked."""

    def __init__(self, data: Any, keys: tuple[str, ...], engine: Engine, scope: Scope) -> None:
        errors: list[dict[str, str]] = []

        said = data.get("lang") if isinstance(data, dict) else None
        #: The language of the messages: the body's "lang", else ?lang= or Accept-Language (as for the title).
        self.messages: str = said if isinstance(said, str) and said in ("zh", "en") else _lang_of(scope)

        def bad(path: str, kind: str, message: str, **values: object) -> None:
            with use_language(self.messages):
                errors.append({"path": path, "kind": kind, "message": _(message, **values)})

        if not isinstance(data, dict):
            raise Problem("invalid-input", N_("the request body must be a JSON object"),
                          errors=[{"path": "body", "kind": "type",
                                   "message": 'send {"household": {...}, "on": "YYYY-MM-DD"}'}])
        household_fields = {f.name for f in engine.model.facts.fields}
        for key in data:
            if key not in keys:
                guess = did_you_mean(key, list(keys))
                if key in household_fields:
                    bad(key, "unknown", N_('is not a field of the request; household facts go inside "household"'))
                elif guess:
                    bad(key, "unknown", N_("is not a field of the request; did you mean '{guess}'?"), guess=guess)
                else:
                    bad(key, "unknown", N_("is not a field of the request; known: {keys}"), keys=", ".join(keys))
        lang = data.get("lang", "zh")
        if not (isinstance(lang, str) and lang in ("zh", "en")):
            bad("lang", "format", N_('must be "zh" or "en"'))
        else:
            scope[LANG] = self.messages  # the body's "lang", else ?lang= or Accept-Language
        self.lang: str = lang if lang in ("zh", "en") else "zh"
        self.household: Any = data.get("household")
        if self.household is None:
            bad("household", "missing", N_("is required: the household facts (GET /schema/household)"))
        self.on = data.get("on")
        if self.on is None:
            bad("on", "missing", N_('is required: the decision date "YYYY-MM-DD"'))
        programs = data.get("programs")
        if programs is not None and not isinstance(programs, str) and not (
                isinstance(programs, list) and all(isinstance(p, str) for p in programs)):
            bad("programs", "type", N_("must be a program name or a list of them"))
        self.programs: list[str] | None = [programs] if isinstance(programs, str) else programs
        self.why_not = data.get("why_not", False)
        if not isinstance(self.why_not, bool):
            bad("why_not", "type", N_("must be true or false"))
        self.format = data.get("format")
        if self.format is not None and not (isinstance(self.format, str) and self.format in FORMATS):
            bad("format", "format", N_("must be one of {formats}"), formats=", ".join(FORMATS))
        self.view = data.get("view", "auditor")
        if self.view not in ("auditor", "applicant"):
            bad("view", "format", N_('must be "auditor" or "applicant"'))
        self.max_questions = data.get("max_questions", QUESTIONS)
        if not (isinstance(self.max_questions, int) and not isinstance(self.max_questions, bool)
                and 0 <= self.max_questions <= MAX_QUESTIONS):
            bad("max_questions", "range", N_("must be a whole number from 0 to {most}"), most=MAX_QUESTIONS)
        if errors:
            raise Problem("invalid-input", N_("{n} problem(s) with the request"), errors=errors,
                          values={"n": len(errors)})

    def decide(self, engine: Engine, scope: Scope, *, assume_defaults: bool = True) -> Decision:
        try:
            with use_language(self.messages):  # the household's problems, in the request's language
                decision = engine.decide(self.household, self.on, self.programs, assume_defaults=assume_defaults)
        except InputError as e:
            shown = e.to_json()[:MAX_ERRORS]
            if len(e.problems) > MAX_ERRORS:
                raise Problem("invalid-input", N_("{n} problem(s) with the household or the date; the first {most} "
                                                  "are listed"), errors=shown,
                              values={"n": len(e.problems), "most": MAX_ERRORS}) from None
            raise Problem("invalid-input", N_("{n} problem(s) with the household or the date"), errors=shown,
                          values={"n": len(e.problems)}) from None
        scope[OUTCOME] = {name: "undecided" if p.eligible is None else "eligible" if p.eligible else "not_eligible"
                          for name, p in decision.programs.items()}
        return decision


def _household_path(errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """Paths inside the household as the engine writes them (`members[1].sex`, not `household.members[1].sex`)."""
    return [{**e, "path": e["path"].removeprefix("household.")} for e in errors]


def _policies(engine: Engine) -> dict[str, Any]:
    model = engine.model
    programs = []
    for name in engine.programs:
        p = model.programs[name]
        dates = {v.start for param in p.parameters.values() for v in param.values}
        dates |= {v.start for d in p.definitions.values() for v in d.versions if v.start is not None}
        programs.append({"name": name, "title": {"zh": p.title.zh, "en": p.title.en},
                         "jurisdiction": p.jurisdiction, "layers": list(p.layers), "file": p.file,
                         "effective_dates": sorted(d.isoformat() for d in dates)})
    facts = model.facts
    return {"library_version": __version__, "policy_hash": engine.policy_hash, "jurisdiction": model.jurisdiction,
            "facts": {"file": facts.file, "sha256": model.file_hashes.get(facts.file)},
            "programs": programs, "files": dict(sorted(model.file_hashes.items()))}


def _openapi_base(engine: Engine, auth: bool) -> dict[str, Any]:
    problem = {"type": "object", "required": ["type", "title", "status", "detail"],
               "properties": {"type": {"type": "string", "format": "uri"}, "title": {"type": "string"},
                              "status": {"type": "integer"}, "detail": {"type": "string"},
                              "request_id": {"type": "string"},
                              "errors": {"type": "array", "items": {
                                  "type": "object", "required": ["path", "kind", "message"],
                                  "properties": {"path": {"type": "string"}, "kind": {"type": "string"},
                                                 "message": {"type": "string"}}}}}}
    request: dict[str, Any] = {"type": "object", "required": ["household", "on"], "additionalProperties": False,
               "properties": {
                   "household": {"$ref": "#/components/schemas/Household"},
                   "on": {"type": "string", "format": "date", "description": "The decision date."},
                   "programs": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                                "description": "Programs to decide (all by default)."},
                   "why_not": {"type": "boolean", "default": False,
                               "description": "Also say what single change would alter each refusal."},
                   "lang": {"enum": ["zh", "en"], "default": "zh",
                            "description": "Language of the explanation and of problem titles."}}}
    explain = {**request, "properties": {**request["properties"], "format": {
        "enum": list(FORMATS), "description": "Overrides the Accept header."}, "view": {
        "enum": ["auditor", "applicant"], "default": "auditor",
        "description": "auditor: every rule, number and citation; applicant: plain words only, the outcome first."}}}
    screen_request: dict[str, Any] = {
        "type": "object", "required": ["household", "on"], "additionalProperties": False,
        "properties": {
            "household": {"type": "object", "description": (
                "The household so far: the members with their id and relation (and any other records with "
                "their id) and the facts answered. A fact may be {\"unknown\": true} (\"don't know\": not "
                "asked again) or {\"value\": ..., \"source\": ..., \"as_of\": ...}.")},
            "on": request["properties"]["on"],
            "programs": {**request["properties"]["programs"],
                         "description": "Programs to settle (dibao, marginal and tekun by default)."},
            "lang": {"enum": ["zh", "en"], "default": "zh",
                     "description": "Language of titles, question labels, help texts and the explanation."},
            "max_questions": {"type": "integer", "minimum": 0, "maximum": MAX_QUESTIONS, "default": QUESTIONS,
                              "description": "How many of the ranked next questions to return."}}}
    item = {"type": "object", "properties": {"path": {"type": "string"}, "label": {"type": "string"},
                                              "value": {"type": "string"}}}
    screen_answer: dict[str, Any] = {
        "type": "object", "required": ["outcomes", "unknown_facts", "next_questions", "done", "assumed"],
        "properties": {
            "outcomes": {"type": "object", "additionalProperties": {
                "type": "object", "properties": {
                    "status": {"enum": ["eligible", "not_eligible", "undetermined", "error"]},
                    "eligible": {"type": ["boolean", "null"]}, "amount": {"type": ["string", "null"]},
                    "unknown": {"type": "array", "items": {"type": "string"}}, "title": {"type": "string"}}}},
            "unknown_facts": {"type": "array", "items": {"type": "string"}},
            "next_questions": {"type": "array", "items": {"type": "object", "properties": {
                "path": {"type": "string"}, "label": {"type": "string"}, "field_label": {"type": "string"},
                "help": {"type": "string"},
                "type": {"enum": ["bool", "enum", "money", "decimal", "integer", "date", "text"]},
                "unit": {"type": ["string", "null"]}, "unit_label": {"type": ["string", "null"]},
                "choices": {"type": ["array", "null"], "items": {"type": "object", "properties": {
                    "value": {}, "label": {"type": "string"}}}},
                "min": {"type": ["string", "null"]}, "max": {"type": ["string", "null"]},
                "record": {"type": ["object", "null"]},
                "programs": {"type": "array", "items": {"type": "string"}}, "settles": {"type": "number"}}}},
            "done": {"type": "boolean"},
            "assumed": {"type": "array", "items": item},
            "to_verify": {"type": "array", "items": item},
            "still_unknown": {"type": "array", "items": item},
            "explanation": {"type": "string"}}}

    def answer(text: str) -> dict[str, Any]:
        return {"description": text, "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}

    base: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "eligibility", "version": __version__,
                 "description": "Decide and explain China's social assistance for a household "
                                f"(policy set {engine.policy_hash}). Problem types start with {TYPE_BASE}."},
        "components": {
            "schemas": {"Household": engine_household_schema(engine, lang="en"), "Decision": trace_schema(),
                        "DecideRequest": request, "ExplainRequest": explain,
                        "ScreenRequest": screen_request, "Screening": screen_answer, "Problem": problem},
            "responses": {
                "InvalidJSON": answer("The body is not JSON, not UTF-8, or nested too deeply."),
                "Unauthorized": answer("No bearer token, or the wrong one."),
                "TooLarge": answer("The body is over the size limit."),
                "UnsupportedMediaType": answer("The body is not application/json."),
                "InvalidInput": answer("The request or the household is invalid: `errors` lists each problem "
                                       "with its path."),
                "TimeLimit": answer("No answer within the time limit; retry later.")},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}] if auth else []}
    return base


#: The problems a POST route can answer besides 401 (`posted` in create_app), by status: components/responses.
POST_PROBLEMS = {"400": "InvalidJSON", "413": "TooLarge", "415": "UnsupportedMediaType", "422": "InvalidInput",
                 "503": "TimeLimit"}


def _with_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Add each route's problem responses to the OpenAPI its docstrings give: 401 to every route that needs
    the token (all but those with `security: []`), and POST_PROBLEMS to every POST route."""
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            problems = dict(POST_PROBLEMS) if method == "post" else {}
            if operation.get("security") != []:
                problems["401"] = "Unauthorized"
            operation["responses"] = {**operation["responses"], **{
                status: {"$ref": f"#/components/responses/{problems[status]}"} for status in sorted(problems)}}
    return schema


def create_app(engine: Engine, *, token: str | None, limits: Limits | None = None) -> Starlette:
    """Return the service as an ASGI app.

    Args:
        engine: the loaded policy set (`eligibility.load()`); it is shared by all requests, read only.
        token: the bearer token every route but /health requires; None serves without one
            (only safe on a loopback address: `eligibility serve` refuses it elsewhere).
        limits: body size, time limit, nesting depth and worker threads.
    """
    limits = limits or Limits()
    shared: dict[str, anyio.CapacityLimiter] = {}

    def limiter() -> anyio.CapacityLimiter:
        if "threads" not in shared:  # made on first use, inside the event loop
            shared["threads"] = anyio.CapacityLimiter(limits.threads)
        return shared["threads"]

    policies = _json_bytes(_policies(engine))
    schemas = {lang: _json_bytes(engine_household_schema(engine, lang=lang)) for lang in ("zh", "en")}
    decision_schema = _json_bytes(trace_schema())
    health_body = _json_bytes({"status": "ok", "library_version": __version__, "policy_hash": engine.policy_hash})
    page = render_page(engine, auth=token is not None)
    csp = page_csp(page)

    async def run_in_worker(fn: Callable[[], T]) -> T:
        try:
            with anyio.fail_after(limits.time_limit):
                return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True, limiter=limiter())
        except TimeoutError:
            raise Problem("time-limit", N_("no answer within the time limit of {seconds:g} s"),
                          headers={"Retry-After": "1"}, values={"seconds": limits.time_limit}) from None

    async def body_of(request: Request) -> bytes:
        content_type = request.headers.get("content-type", "")
        media, *params = [x.strip().lower() for x in content_type.split(";")]
        charset = next((p.partition("=")[2].strip('"') for p in params if p.startswith("charset=")), "utf-8")
        if media != "application/json" or charset not in ("utf-8", "utf8"):
            shown = f"not {content_type!r}" if content_type else "the Content-Type header is missing"
            raise Problem("unsupported-media-type", f"send Content-Type: application/json ({shown})")
        try:
            with anyio.fail_after(limits.body_timeout):
                return await read_body(request.stream(), request.headers.get("content-length"), limits)
        except ClientDisconnect:
            raise Problem("invalid-json", N_("the body ended early: the client disconnected")) from None
        except TimeoutError:
            raise Problem("body-timeout", N_("the body did not arrive within {seconds:g} s"),
                          headers={"Connection": "close"}, values={"seconds": limits.body_timeout}) from None

    async def posted(request: Request, keys: tuple[str, ...], answer: Callable[[_Request], T]) -> T:
        """Read a POST route's JSON body, then check its fields (`keys`) and answer it in a worker thread.

        Raises the route's problems: 415 not JSON, 413 too large, 400 not valid JSON, 422 an invalid
        request or household, 503 no answer within the time limit (their `responses` in the OpenAPI).
        """
        raw = await body_of(request)
        scope = request.scope

        def work() -> T:
            try:
                data = parse_json(raw, limits.max_depth)
            except Problem as p:
                p.errors = _household_path(p.errors)
                raise
            return answer(_Request(data, keys, engine, scope))

        return await run_in_worker(work)

    async def decide(request: Request) -> Response:
        """Decide a household: every requested program's outcome, with the trace that explains it.
        ---
        summary: Decide a household
        description: >-
          The answer is the decision and trace JSON documented in docs/reference/trace.md
          (eligibility.decision/1), the same as Decision.to_json() in Python. Money is a string
          such as "1282.00". A program that cannot be decided has "eligible": null and its error.
        requestBody:
          required: true
          content:
            application/json:
              schema: {$ref: '#/components/schemas/DecideRequest'}
        responses:
          '200':
            description: The decision and its trace.
            content:
              application/json:
                schema: {$ref: '#/components/schemas/Decision'}
        """
        def answer(req: _Request) -> bytes:
            return _json_bytes(req.decide(engine, request.scope).to_json(why_not=req.why_not))

        return Response(await posted(request, DECIDE_KEYS, answer), media_type="application/json")

    async def explain(request: Request) -> Response:
        """Explain the decision for a household, in Chinese or English, as text, Markdown or HTML.
        ---
        summary: Explain the decision for a household
        description: >-
          The format is the body's "format", else the Accept header (text/plain, text/markdown,
          text/html), else text. The language is the body's "lang" (zh by default). The body's
          "view" is "auditor" (default: every rule, number and citation) or "applicant" (plain words
          only: the outcome and the monthly total first). The HTML page is self-contained and printable.
        requestBody:
          required: true
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ExplainRequest'}
        responses:
          '200':
            description: The explanation.
            content:
              text/plain: {schema: {type: string}}
              text/markdown: {schema: {type: string}}
              text/html: {schema: {type: string}}
        """
        accept = request.headers.get("accept")

        def answer(req: _Request) -> tuple[str, str]:
            fmt = req.format or _choose_format(accept)
            return fmt, req.decide(engine, request.scope).explain(lang=req.lang, fmt=fmt, why_not=req.why_not,
                                                                  view=req.view)

        fmt, text = await posted(request, EXPLAIN_KEYS, answer)
        headers = {"Content-Security-Policy": _content_security_policy(text)} if fmt == "html" else {}
        return Response(text, media_type=f"{FORMATS[fmt]}; charset=utf-8", headers=headers)

    async def screen_route(request: Request) -> Response:
        """Screen a partial household: the outcomes so far, the unknown facts, and the next questions to ask.
        ---
        summary: Screen a partial household (the next question)
        description: >-
          Stateless: send the household so far each time (composition first: the members with their id
          and relation), with each answer added. The household is decided without assuming any default
          (a fact not given is unknown; a list not given has no records, and is listed under
          "assumed"). Each program's outcome is eligible, not_eligible or undetermined, with the
          facts it waits on; next_questions ranks the unknown facts by how much one answer settles,
          each with its label, help text, type, unit and choices in the request's language. A fact
          given as {"unknown": true} is not asked again. When no question is left ("done": true) the
          answer adds "to_verify" (the stated facts a settled outcome depends on), "still_unknown"
          and the "explanation" as text. docs/how-to/screening.md.
        requestBody:
          required: true
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ScreenRequest'}
        responses:
          '200':
            description: The screening so far.
            content:
              application/json:
                schema: {$ref: '#/components/schemas/Screening'}
        """
        def answer(req: _Request) -> bytes:
            if req.programs is None:
                req.programs = default_programs(engine)
            decision = req.decide(engine, request.scope, assume_defaults=False)
            programs = list(decision.programs)
            return _json_bytes(screen(engine, req.household, decision, req.on, programs, req.lang,
                                      req.max_questions))

        return Response(await posted(request, SCREEN_KEYS, answer), media_type="application/json")

    async def page_route(request: Request) -> Response:
        """The screening page: one question at a time, for a resident or a caseworker (no token needed to load it).
        ---
        summary: The screening page (HTML)
        description: >-
          A self-contained page (no external resources) that calls POST /screen. When the service
          needs a token, the page asks for it and keeps it in the browser tab's sessionStorage.
        security: []
        responses:
          '200':
            description: The page.
            content:
              text/html: {schema: {type: string}}
        """
        return Response(page, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": csp})

    async def household_schema(request: Request) -> Response:
        """The JSON Schema (draft 2020-12) of the household facts this service accepts.
        ---
        summary: JSON Schema of the household
        parameters:
          - {name: lang, in: query, schema: {enum: [zh, en], default: zh},
             description: Language of titles and descriptions (x-labels always has both).}
        responses:
          '200':
            description: The schema; also `eligibility schema` on the command line.
            content:
              application/schema+json: {schema: {type: object}}
        """
        lang = "en" if request.query_params.get("lang") == "en" else "zh"
        return Response(schemas[lang], media_type="application/schema+json")

    async def decision_schema_route(request: Request) -> Response:
        """The JSON Schema of the decision and trace that POST /decide returns.
        ---
        summary: JSON Schema of the decision
        responses:
          '200':
            description: docs/reference/trace.schema.json, as shipped in the package.
            content:
              application/schema+json: {schema: {type: object}}
        """
        return Response(decision_schema, media_type="application/schema+json")

    async def policies_route(request: Request) -> Response:
        """The policy set this service decides with.
        ---
        summary: Programs, layers, jurisdictions and the policy hash
        description: >-
          Each program with its zh/en title, jurisdiction, layers (most general first) and the dates
          on which one of its parameter values or rule versions takes effect; the policy hash that
          every decision records; the library version; the sha256 of each policy file.
        responses:
          '200':
            description: The policy set.
            content:
              application/json: {schema: {type: object}}
        """
        return Response(policies, media_type="application/json")

    async def health(request: Request) -> Response:
        """Whether the service is up (no token needed).
        ---
        summary: Health check
        security: []
        responses:
          '200':
            description: '{"status": "ok", "library_version": ..., "policy_hash": ...}'
            content:
              application/json: {schema: {type: object}}
        """
        return Response(health_body, media_type="application/json")

    routes: list[BaseRoute] = [
        Route("/decide", decide, methods=["POST"]),
        Route("/explain", explain, methods=["POST"]),
        Route("/schema/household", household_schema, methods=["GET"]),
        Route("/schema/decision", decision_schema_route, methods=["GET"]),
        Route("/policies", policies_route, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/screen", screen_route, methods=["POST"]),
        Route("/", page_route, methods=["GET"]),
    ]
    openapi = _json_bytes(_with_problems(SchemaGenerator(_openapi_base(engine, token is not None)).get_schema(routes)))

    async def openapi_route(request: Request) -> Response:
        return Response(openapi, media_type="application/json")

    routes.append(Route("/openapi.json", openapi_route, methods=["GET"], include_in_schema=False))

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return _problem_response(exc, request.scope)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        problem = http_problem(exc.status_code, None)
        problem.headers.update(exc.headers or {})
        return _problem_response(problem, request.scope)

    paths = frozenset(r.path for r in routes if isinstance(r, Route))
    return Starlette(routes=routes, middleware=[Middleware(Guard, token=token, paths=paths)],
                     exception_handlers={Problem: on_problem, HTTPException: on_http})
