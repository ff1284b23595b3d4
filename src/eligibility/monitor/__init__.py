"""Dynamic monitoring with early warning (动态监测预警): events in, alerts out, with the policy's reasons.

`model` is the engine-neutral compiled form of the monitoring rules and the definition of an
alert; `rules` reads and checks them; `events` is the event format; `reference` is the
pure-Python reference engine; `store` keeps state and alerts in SQLite.
"""

from eligibility.monitor.events import BadEvent, Event, parse_event
from eligibility.monitor.model import LEVELS, Rule, RuleSet
from eligibility.monitor.reference import Monitor, RunStats
from eligibility.monitor.rules import load_rules
from eligibility.monitor.run import MonitorUnavailable, make_monitor, summary, write_alerts
from eligibility.monitor.store import StateMismatch, Store

__all__ = [
    "LEVELS", "BadEvent", "Event", "Monitor", "MonitorUnavailable", "Rule", "RuleSet", "RunStats", "StateMismatch",
    "Store", "load_rules", "make_monitor", "parse_event", "summary", "write_alerts",
]
