"""The wording of the discovery summaries and report, in Chinese and English."""

from __future__ import annotations

from decimal import Decimal

from eligibility.discover.find import REASONS

WORDS: dict[str, dict[str, str]] = {
    "zh": {"title": "政策找人：核查结果", "date": "决定日期", "source": "数据文件", "programs": "项目",
           "households": "家庭数", "flagged": "有发现的家庭", "findings": "发现条数", "bad": "无法读取的行",
           "by_reason": "按原因", "by_town": "按镇街", "by_program": "按项目", "by_priority": "按优先级",
           "reason": "原因", "town": "镇街", "program": "项目", "count": "条数", "amount": "月金额合计（元）",
           "priority": "优先级", "line": "行", "priority_rule":
           "优先级：1 应享未享、项目不对、少发；2 应退未退、类别不符、多发、重复纳入；"
           "3 可能应享或项目可能不对（待核实）及数据冲突；4 已纳入但可能已不符合条件（待核实）。"
           "同一优先级内按月金额从大到小。",
           "amount_note": "月金额：应享未享为认定金额，应退为现发金额，金额不符为差额；待核实者无金额。",
           "triage_note": "待核实：结论取决于未知事实；按通常情形（各事实取默认值）再认定一次，"
                          "仅用于挑选值得核实的家庭，不作为认定结果。",
           "undetermined": "未能认定的家庭", "enrolled": "已纳入", "not_enrolled": "未纳入",
           "undetermined_note": "以下家庭即使按通常情形（各事实取默认值）也无法认定（如缺少经济状况核对结果），"
                                "未逐户列出；需要时先补充核对。",
           "unknown_note": "部门数据未提供的事实一律视为未知，不取默认值；"
                           "结论取决于未知事实的家庭列为“待核实”，不算“符合条件”。"},
    "en": {"title": "Discovery: findings", "date": "Decision date", "source": "Joined file", "programs": "Programs",
           "households": "Households", "flagged": "Households with findings", "findings": "Findings",
           "bad": "Lines that could not be read", "by_reason": "By reason", "by_town": "By town or street",
           "by_program": "By program", "by_priority": "By priority", "reason": "Reason", "town": "Town / street",
           "program": "Program", "count": "Findings", "amount": "Monthly amount (CNY)", "priority": "Priority",
           "line": "Line", "priority_rule":
           "Priority: 1 eligible but not enrolled, wrong program, paid below the amount decided; 2 no longer "
           "eligible, wrong tier, paid above the amount decided, enrolled twice; 3 may be eligible or in the wrong "
           "program (to verify) and data conflicts; 4 enrolled, may no longer be eligible (to verify). Within a "
           "priority, the larger monthly amount first.",
           "amount_note": "Monthly amount: the amount decided for a missed household, the amount paid for an exit, "
                          "the difference for a wrong amount; none for a row to verify.",
           "triage_note": "To verify: the outcome waits on unknown facts. A second decision on the usual assumptions "
                          "(each fact at its default) only chooses the households worth verifying; it decides nothing.",
           "undetermined": "Households not decided", "enrolled": "Enrolled", "not_enrolled": "Not enrolled",
           "undetermined_note": "These households cannot be decided even on the usual assumptions (each fact at "
                                "its default), for example without an economic check; they are counted, not listed.",
           "unknown_note": "A fact no department gave is unknown, never a default; a household whose outcome waits "
                           "on unknown facts is 'to verify', not 'eligible'."},
}


def words(lang: str) -> dict[str, str]:
    """The summary's wording in `lang` (zh or en)."""
    return WORDS[lang]


def reason_label(reason: tuple[str, str], lang: str) -> str:
    """A reason (kind, status) in `lang`."""
    return REASONS.get(reason, {"zh": reason[0], "en": reason[0]})[lang]


def money(d: Decimal) -> str:
    """An amount with two decimals and thousands separators."""
    return f"{d:,.2f}"


__all__ = ["WORDS", "money", "reason_label", "words"]
