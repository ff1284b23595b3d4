"""The conflicts a join reports instead of resolving them: their kinds, wording and a summary.

A conflict is never resolved silently. A fact whose sources disagree is left out of the household
(unknown, so a program needing it is undetermined) and both values are kept in the conflict; a
person found in two households is listed in both, each with the conflict, so the caseworker
settles the membership before any decision is relied on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

#: The kinds of conflict, in the order reports list them.
KINDS = ("two_households", "hukou_residence_split", "enrolled_twice", "values_disagree")

#: What each kind means, for summaries and reports.
TITLES = {
    "two_households": {"zh": "同一人出现在两个家庭", "en": "the same person is in two households"},
    "hukou_residence_split": {"zh": "人户分离（户籍地与居住地不同）",
                              "en": "hukou and habitual residence differ (人户分离)"},
    "enrolled_twice": {"zh": "同一人被两个经办机构纳入同一救助", "en": "the same person is enrolled by two offices"},
    "values_disagree": {"zh": "部门数据不一致（该事实按未知处理）",
                        "en": "departments disagree (the fact is taken as unknown)"},
}


def count(households: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Count the conflicts of joined households by kind (every kind present, zero included)."""
    found: Counter[str] = Counter()
    for h in households:
        found.update(c["kind"] for c in h.get("conflicts", ()))
    return {k: found.get(k, 0) for k in KINDS}


def render(counts: dict[str, int], lang: str = "en") -> str:
    """A few lines: each kind, its meaning and its count."""
    return "".join(f"{TITLES[k][lang]}: {counts.get(k, 0):,}\n" for k in KINDS)
