"""Errors as RFC 9457 problem details (`application/problem+json`), titled in Chinese or English."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from eligibility.base.i18n import translate, use_language

PROBLEM_TYPE = "application/problem+json"
#: Problem types are this base plus a slug; docs/how-to/call-the-service.md lists them.
TYPE_BASE = "https://eligibility.invalid/problems/"

#: slug -> (HTTP status, zh title, en title)
PROBLEMS: dict[str, tuple[int, str, str]] = {
    "invalid-json": (400, "请求体不是有效的 JSON", "The request body is not valid JSON"),
    "missing-token": (401, "需要访问令牌", "A bearer token is required"),
    "invalid-token": (401, "访问令牌无效", "The bearer token is not valid"),
    "not-found": (404, "没有这个地址", "No such resource"),
    "method-not-allowed": (405, "不支持此请求方法", "Method not allowed"),
    "body-timeout": (408, "请求体发送超时", "The request body took too long to arrive"),
    "body-too-large": (413, "请求体过大", "The request body is too large"),
    "unsupported-media-type": (415, "请求体须为 application/json", "The request body must be application/json"),
    "invalid-input": (422, "请求或家庭数据有误", "The request or the household is invalid"),
    "time-limit": (503, "处理超时，请稍后重试", "The decision took longer than the time limit; try again later"),
    "internal-error": (500, "服务内部错误", "Internal error"),
}


class Problem(Exception):
    """An error answered as a problem-details response."""

    def __init__(self, slug: str, detail: str, *, errors: Sequence[Mapping[str, str]] = (),
                 headers: Mapping[str, str] | None = None, status: int | None = None,
                 values: Mapping[str, object] | None = None) -> None:
        """`detail` is English, a message marked with `N_()` whose `{named}` `values` are filled in when the
        answer is written, in the request's language (docs/how-to/call-the-service.md)."""
        self.template = detail
        self.values = dict(values or {})
        self.detail = detail.format(**self.values) if self.values else detail
        super().__init__(self.detail)
        self.slug = slug
        self.status = status if status is not None else PROBLEMS[slug][0]
        self.errors: list[dict[str, str]] = [dict(e) for e in errors]
        self.headers = dict(headers or {})

    def body(self, lang: str, request_id: str | None) -> dict[str, object]:
        """Return the problem-details object."""
        _, zh, en = PROBLEMS.get(self.slug, (self.status, "错误", "Error"))
        with use_language(lang if lang in ("zh", "en") else "zh"):
            detail = translate(self.template, **self.values) if self.values else translate(self.template)
        out: dict[str, object] = {"type": TYPE_BASE + self.slug, "title": zh if lang == "zh" else en,
                                  "status": self.status, "detail": detail}
        if self.errors:
            out["errors"] = self.errors
        if request_id:
            out["request_id"] = request_id
        return out

    def encode(self, lang: str, request_id: str | None) -> bytes:
        """Return the problem-details object as UTF-8 JSON."""
        return json.dumps(self.body(lang, request_id), ensure_ascii=False).encode("utf-8")


def http_problem(status: int, detail: str | None) -> Problem:
    """Return the problem for an HTTP error the router raised (404, 405, ...)."""
    slug = {404: "not-found", 405: "method-not-allowed"}.get(status)
    if slug is None:
        return Problem("internal-error", detail or "error", status=status)
    return Problem(slug, detail or PROBLEMS[slug][2])
