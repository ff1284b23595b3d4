"""Explanation wording: the library's labels.yaml, by language, and a policy set's overrides while rendering."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml


class _Labels(Mapping[str, dict[str, Any]]):
    """Labels by language; the policy set's overrides apply within `labels_scope`."""

    def __init__(self, section: str) -> None:
        self.section = section

    def __getitem__(self, lang: str) -> dict[str, Any]:
        overrides = _OVERRIDES.get()
        table = DEFAULT_LABELS[self.section] if overrides is None else overrides[self.section]
        return table[lang]

    def __iter__(self) -> Iterator[str]:
        return iter(("zh", "en"))

    def __len__(self) -> int:
        return 2


def by_language(section: dict[str, Any], ops: bool = False) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {"zh": {}, "en": {}}
    for key, value in section.items():
        for lang in ("zh", "en"):
            out[lang][key] = (str(value["holds"][lang]), str(value["fails"][lang])) if ops else str(value[lang])
    return out


def _load_defaults() -> dict[str, dict[str, dict[str, Any]]]:
    # The library's own file: every scalar read as text (BaseLoader), so no YAML 1.1 guessing.
    text = Path(__file__).with_name("labels.yaml").read_text(encoding="utf-8")
    labels = yaml.load(text, Loader=yaml.BaseLoader)["labels"]
    return {"words": by_language(labels["words"]), "ops": by_language(labels["ops"], ops=True),
            "page": by_language(labels["page"]), "applicant": by_language(labels["applicant"]),
            "values": by_language(labels["values"])}


DEFAULT_LABELS = _load_defaults()
_OVERRIDES: ContextVar[dict[str, dict[str, dict[str, Any]]] | None] = ContextVar("labels", default=None)
#: Words and sentence parts, from labels.yaml (a policy set's `labels:` file may override them).
WORDS = _Labels("words")
#: How a comparison reads when it holds, and when it does not.
OPS = _Labels("ops")
PAGE_WORDS = _Labels("page")
#: The applicant's view: plain words.
APPLICANT_WORDS = _Labels("applicant")
#: Words for output values (tiers), keyed `program.value`.
VALUE_WORDS = _Labels("values")


@contextmanager
def labels_scope(trace: dict[str, Any]) -> Iterator[None]:
    """Apply the labels a trace carries (its policy set's overrides) while rendering it."""
    given = trace.get("labels")
    if not given:
        yield
        return
    merged = {name: {lang: dict(table[lang]) for lang in ("zh", "en")} for name, table in DEFAULT_LABELS.items()}
    for section in DEFAULT_LABELS:
        if section in given:
            extra = by_language(given[section], ops=section == "ops")
            for lang in ("zh", "en"):
                merged[section][lang].update(extra[lang])
    token = _OVERRIDES.set(merged)
    try:
        yield
    finally:
        _OVERRIDES.reset(token)
