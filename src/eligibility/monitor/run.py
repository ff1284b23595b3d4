"""Run a monitor over an event log: choose the engine, check the state file, write alerts and the summary."""

from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from eligibility.engine.runtime import Engine
from eligibility.monitor.model import LEVELS, RuleSet
from eligibility.monitor.reference import Monitor, RunStats
from eligibility.monitor.store import Store

#: The engines `eligibility monitor --engine` accepts: the module holding each one's `Monitor` class.
ENGINES = {"reference": "eligibility.monitor.reference", "durable": "eligibility.monitor.durable"}


class MonitorUnavailable(RuntimeError):
    """The engine asked for is not installed or not built."""


class MonitorEngine(Protocol):
    """What an engine offers: run a log into its store (the reference engine's interface)."""

    def run(self, path: Path | str, progress: Callable[[int, int], None] | None = None) -> RunStats: ...


def make_monitor(name: str, engine: Engine, rules: RuleSet, store: Store) -> MonitorEngine:
    """The monitor of engine `name` over a store.

    Raises:
        MonitorUnavailable: an unknown engine, or one whose module or dependencies are missing.
    """
    if name == "reference":
        return Monitor(engine, rules, store)
    module = ENGINES.get(name)
    if module is None:
        raise MonitorUnavailable(f"unknown engine {name!r}: one of {', '.join(ENGINES)}")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise MonitorUnavailable(f"the {name} engine is not available here ({e}); install eligibility[monitor] "
                                 "on Python 3.11 or 3.12, or use --engine reference") from None
    cls: Any = mod.Monitor
    monitor: MonitorEngine = cls(engine, rules, store)
    return monitor


def identity(engine: Engine, rules: RuleSet, name: str, events: Path) -> dict[str, str]:
    """What a state file belongs to: the policy set, the rules, the engine and the log's first bytes."""
    with open(events, "rb") as f:
        head = f.read(4096)
    return {"policy_hash": engine.policy_hash, "rules_hash": rules.hash, "engine": name,
            "input_head": hashlib.sha256(head).hexdigest()}


def write_alerts(store: Store, out: Path) -> int:
    """Write every alert of the store to `out` as JSONL (atomically); return how many."""
    n = 0
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for line in store.alert_lines():
                f.write(line + "\n")
                n += 1
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


_HEAD = {
    "zh": ("预警 {n} 条（坏事件 {bad} 条，迟到事件 {late} 条；本次运行重新判定 {redecisions} 次）", "按等级", "按规则",
           "预警最多的对象"),
    "en": ("{n} alert(s) ({bad} bad event(s), {late} late event(s); {redecisions} re-decision(s) in this run)",
           "by level", "by rule", "subjects with most alerts"),
}


def summary(store: Store, rules: RuleSet, stats: RunStats, lang: str = "zh", top: int = 10) -> str:
    """The summary of a state file's alerts: counts by level and by rule, and the subjects with most."""
    levels: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    subjects: Counter[str] = Counter()
    for a in store.alerts():
        levels[a["level"]] += 1
        kinds[a["rule"]] += 1
        subjects[a["subject"]] += 1
    reports = Counter(r.split('"kind":"', 1)[1].split('"', 1)[0] for r in store.reports())
    head, by_level, by_kind, most = _HEAD[lang]
    lines = [head.format(n=sum(levels.values()), bad=reports["bad"], late=reports["late"],
                         redecisions=stats.redecisions)]
    lines.append(f"  {by_level}: " + ", ".join(
        f"{LEVELS[k] if lang == 'zh' else k} {levels[k]}" for k in LEVELS if levels[k]))
    titles = {r.id: r.title.get(lang) for r in rules.rules}
    lines.append(f"  {by_kind}:")
    for rid, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"    {n:>8}  {titles.get(rid, rid)} ({rid})")
    if subjects:
        lines.append(f"  {most}:")
        for sid, n in sorted(subjects.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
            lines.append(f"    {n:>8}  {sid}")
    return "\n".join(lines) + "\n"


__all__ = ["ENGINES", "MonitorEngine", "MonitorUnavailable", "identity", "make_monitor", "summary", "write_alerts"]
