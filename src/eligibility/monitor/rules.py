"""Read and check the monitoring rules (`monitoring:` files) of a policy set into a RuleSet.

Every problem is collected and reported at file:line:col with an excerpt and a hint, as the
policies are; names are checked against the compiled policy set (programs, values, parameters,
facts) and citations against its sources registry. Nothing is evaluated.
"""

from __future__ import annotations

import hashlib
import string
from decimal import Decimal
from pathlib import Path

from eligibility.base.errors import Diagnostic, PolicyError
from eligibility.base.source import SourceText, did_you_mean, readable
from eligibility.engine.runtime import Engine
from eligibility.lang.layers import read_registry
from eligibility.lang.loader import YMap, YNode, YScalar, YSeq, load_file
from eligibility.lang.model import Label
from eligibility.lang.policyset import first_key_in
from eligibility.lang.reader import Reader
from eligibility.monitor.model import (
    DOCUMENTS,
    KIND_VALUES,
    KINDS,
    LEVELS,
    OUTCOME_CHANGES,
    AgeReached,
    Citation,
    DocumentExpiry,
    HouseholdChanged,
    IndicatorChange,
    NearThreshold,
    OutcomeChanged,
    ReviewDue,
    Rule,
    RuleSet,
    Settings,
    StationRepeat,
    TwoOffices,
)

_COMMON = ("kind", "title", "message", "level", "source", "article", "local_practice", "note")
_FIELDS: dict[str, tuple[str, ...]] = {
    "outcome_changed": ("programs", "changes"),
    "near_threshold": ("program", "value", "limit", "margin", "side", "repeat_after_days"),
    "indicator_change": ("fact", "direction", "share", "window_days", "repeat_after_days"),
    "household_changed": ("changes",),
    "review_due": ("program", "months", "months_value", "notice_days"),
    "age_reached": ("programs", "age", "age_parameter", "retirement", "unless", "member_program", "notice_days"),
    "document_expiry": ("documents", "notice_days"),
    "station_repeat": ("count", "days", "per_station", "repeat_after_days"),
    "two_offices": ("programs", "repeat_after_days"),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "outcome_changed": ("programs",),
    "near_threshold": ("program", "value", "limit", "margin", "repeat_after_days"),
    "indicator_change": ("fact", "direction", "share", "window_days"),
    "household_changed": (),
    "review_due": ("program",),
    "age_reached": ("programs",),
    "document_expiry": ("documents",),
    "station_repeat": ("count", "days"),
    "two_offices": ("programs", "repeat_after_days"),
}
#: The most days a window, notice or repeat setting may span (ten years).
MAX_DAYS = 3660


def is_monitoring_file(path: Path) -> bool:
    """Peek at the first key of a file: does it start with `monitoring:`?"""
    return first_key_in(path, ("monitoring",))


def monitoring_files(root: Path) -> list[Path]:
    """The `monitoring:` files under a policy folder, sorted by path."""
    return sorted(p for p in root.rglob("*.yaml") if p.is_file() and is_monitoring_file(p))


def load_rules(root: Path, engine: Engine) -> RuleSet:
    """Read and check every `monitoring:` file under a policy folder.

    Raises:
        PolicyError: every problem found, at file:line:col (also when there is no rules file).
    """
    diags: list[Diagnostic] = []
    rules, sources = check_rules(root, engine, diags)
    if rules is None or any(d.severity == "error" for d in diags):
        raise PolicyError(diags or [Diagnostic(None, "no-monitoring-rules",
                                               f"{root.name} has no monitoring rules (a file starting with "
                                               "`monitoring:`)")], sources)
    return rules


def check_rules(root: Path, engine: Engine, diags: list[Diagnostic]) -> tuple[RuleSet | None, dict[str, SourceText]]:
    """Read the monitoring files under `root`, adding a diagnostic for each problem."""
    root = root.resolve()
    files = monitoring_files(root)
    sources: dict[str, SourceText] = {}
    if not files:
        return None, sources
    registry: set[str] = set()
    reg = root / "sources.yaml"
    if reg.is_file():
        yf = load_file(reg, "sources.yaml", [])
        if yf is not None and isinstance(yf.root, YMap):
            registry = {s.id for s in read_registry(Reader(yf.source, []), yf.root)}
    digest = hashlib.sha256()
    rules: list[Rule] = []
    header: tuple[Label | None, str | None, int | None] = (None, None, None)
    seen: dict[str, Rule] = {}
    names: list[str] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        names.append(rel)
        yf = load_file(path, rel, diags)
        if yf is None:
            continue
        sources[rel] = yf.source
        data = yf.source.text.encode("utf-8")
        digest.update(f"{rel}\n{len(data)}\n".encode())
        digest.update(data)
        if yf.root is None:
            continue
        r = Reader(yf.source, diags)
        top = r.mapping(yf.root, "a monitoring file", ("monitoring", "rules"), ("monitoring", "rules"))
        if top is None:
            continue
        head = top.get("monitoring")
        if head is not None:
            header = _header(r, head, header)
        body = top.get("rules")
        if body is None:
            continue
        m = r.mapping(body, "rules", None)
        if m is None:
            continue
        for key, spec in m.items:
            rule = _rule(r, key, spec, engine, registry)
            if rule is None:
                continue
            if rule.id in seen:
                other = seen[rule.id]
                diags.append(Diagnostic(key.span, "duplicate-rule", f"monitoring rule '{rule.id}' is defined twice",
                                        "give one of them another id", related=((other.span, "first defined here"),)))
                continue
            seen[rule.id] = rule
            rules.append(rule)
    title, jurisdiction, lateness = header
    if title is None:
        diags.append(Diagnostic(None, "monitoring-header", "no monitoring file has a `title` in its `monitoring:`"))
        return None, sources
    rule_set = RuleSet(title, jurisdiction, lateness or 0, tuple(rules), "sha256:" + digest.hexdigest(), tuple(names))
    return rule_set, sources


def _header(r: Reader, node: YNode, prev: tuple[Label | None, str | None, int | None]
            ) -> tuple[Label | None, str | None, int | None]:
    m = r.mapping(node, "monitoring", ("title", "jurisdiction", "lateness_hours", "description"), ())
    if m is None:
        return prev
    title, jur, late = prev
    if m.get("title") is not None:
        if title is not None:
            r.error(m.get("title") or m, "monitoring-header", "the monitoring rules' title is given in two files",
                    "keep `title`, `jurisdiction` and `lateness_hours` in one file")
        title = r.label(m.get("title"), "title")
    if m.get("jurisdiction") is not None:
        jur = r.text(m.get("jurisdiction"), "jurisdiction")
    node_l = m.get("lateness_hours")
    if node_l is not None:
        hours = _int(r, node_l, "lateness_hours", 0, 24 * 31)
        if hours is not None:
            if late is not None and late != hours * 3600:
                r.error(node_l, "monitoring-header", "lateness_hours is given twice with different values")
            late = hours * 3600
    return title, jur, late


def _int(r: Reader, node: YNode | None, what: str, low: int, high: int) -> int | None:
    if node is None:
        return None
    v = r.number(node, what, "integer")
    if not isinstance(v, int) or isinstance(v, bool):
        return None
    if not low <= v <= high:
        r.error(node, "out-of-range", f"{what} must be between {low} and {high}, not {v}")
        return None
    return v


def _share(r: Reader, node: YNode | None, what: str) -> Decimal | None:
    if node is None:
        return None
    v = r.number(node, what, "decimal")
    if not isinstance(v, Decimal):
        return None
    if not Decimal(0) < v < Decimal(1):
        r.error(node, "out-of-range", f"{what} must be a share, more than 0 and less than 1, not {v}",
                "write 30% as 0.30")
        return None
    return v


def _names(r: Reader, node: YNode | None, what: str, choices: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if node is None:
        return None
    if not isinstance(node, YSeq) or not node.items:
        r.error(node, "expected-list", f"{what} must be a list (not empty)")
        return None
    out = []
    for item in node.items:
        t = r.text(item, what)
        if t is None:
            continue
        if choices is not None and t not in choices:
            guess = did_you_mean(t, choices)
            r.error(item, "unknown-name", f"{what}: '{readable(t, 64)}' is not one of them",
                    f"did you mean '{guess}'?" if guess else "one of: " + ", ".join(choices))
            continue
        if t in out:
            r.error(item, "duplicate", f"{what}: '{readable(t, 64)}' is listed twice")
            continue
        out.append(t)
    return tuple(out)


def _choice(r: Reader, node: YNode | None, what: str, choices: tuple[str, ...], default: str) -> str:
    if node is None:
        return default
    t = r.text(node, what)
    if t is not None and t not in choices:
        r.error(node, "unknown-name", f"{what} must be one of {', '.join(choices)}, not '{readable(t, 40)}'")
    return t if t in choices else default


def _program(r: Reader, node: YNode | None, engine: Engine) -> str | None:
    t = r.text(node, "program")
    if t is None or node is None:
        return None
    if t not in engine.programs:
        guess = did_you_mean(t, engine.programs)
        r.error(node, "unknown-program", f"no program '{readable(t, 64)}' in the policy set",
                f"did you mean '{guess}'?" if guess else "programs: " + ", ".join(engine.programs))
        return None
    return t


def _definition(r: Reader, node: YNode | None, program: str | None, engine: Engine, what: str,
                types: tuple[str, ...], parameters: bool = True) -> str | None:
    """A name of a computed value (or parameter) of `program`, of one of `types`."""
    t = r.text(node, what)
    if t is None or node is None or program is None:
        return None
    defs = engine.compiled.checked.defs
    params = engine.model.programs[program].parameters
    if (program, t) in defs:
        kind = defs[(program, t)].type
        if defs[(program, t)].definition.each is not None:
            r.error(node, "type", f"{program}.{t} is a value of each record; {what} must be one value of the household")
            return None
    elif parameters and t in params:
        kind = params[t].type
    else:
        choices = [n for (p, n) in defs if p == program] + (list(params) if parameters else [])
        guess = did_you_mean(t, choices)
        r.error(node, "unknown-name", f"program {program} has no value or parameter '{readable(t, 64)}'",
                f"did you mean '{guess}'?" if guess else None)
        return None
    if kind not in types:
        r.error(node, "type", f"{program}.{t} is {kind}; {what} must be {' or '.join(types)}")
        return None
    return t


def _rule(r: Reader, key: YScalar, spec: YNode, engine: Engine, registry: set[str]) -> Rule | None:
    rid = r.name(key, "rule")
    if not isinstance(spec, YMap):
        r.error(spec, "expected-mapping", f"monitoring rule '{key.value}' must be a mapping")
        return None
    kind_node = spec.get("kind")
    kind = r.text(kind_node, "kind")
    if kind_node is None:
        r.error(spec, "missing-key", f"monitoring rule '{key.value}' needs 'kind'", "kinds: " + ", ".join(KINDS))
        return None
    if kind not in KINDS:
        guess = did_you_mean(kind or "", KINDS)
        r.error(kind_node, "unknown-kind", f"unknown kind of monitoring rule '{readable(kind or '', 40)}'",
                f"did you mean '{guess}'?" if guess else "kinds: " + ", ".join(KINDS))
        return None
    r.mapping(spec, f"monitoring rule '{key.value}'", _COMMON + _FIELDS[kind],
              ("title", "message", "level") + _REQUIRED[kind])
    errors_before = sum(1 for d in r.diags if d.severity == "error")
    title = r.label(spec.get("title"), "title")
    message = r.label(spec.get("message"), "message")
    if message is not None:
        node = spec.get("message")
        for lang in ("zh", "en"):
            where = node.get(lang) if isinstance(node, YMap) else node
            _check_template(r, where, message.get(lang), kind, lang)
    level = _level(r, spec.get("level"))
    citation = _citation(r, spec, registry)
    settings = _settings(r, kind, spec, engine)
    parameters = {k.value: _stated(v) for k, v in spec.items
                  if k.value in _FIELDS[kind] and isinstance(v, YScalar | YSeq)}
    if sum(1 for d in r.diags if d.severity == "error") > errors_before:
        return None
    if rid is None or title is None or message is None or level is None or citation is None or settings is None:
        return None
    return Rule(rid, kind, title, message, level, citation, settings, parameters, key.span)


def _stated(node: YNode) -> str:
    if isinstance(node, YSeq):
        return ", ".join(x.value for x in node.items if isinstance(x, YScalar))
    return node.value if isinstance(node, YScalar) else ""


def _check_template(r: Reader, node: YNode | None, text: str, kind: str, lang: str) -> None:
    allowed = KIND_VALUES[kind]
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as e:
        r.error(node or r.source.span(0, 0), "message", f"message.{lang}: {e}",
                "write {name} for a value and {{ or }} for a brace")
        return
    for _, field, spec, conv in parts:
        if field is None:
            continue
        if field not in allowed or spec or conv:
            guess = did_you_mean(field, allowed)
            r.error(node or r.source.span(0, 0), "message",
                    f"message.{lang}: {{{readable(field, 40)}}} is not a value of an alert of kind {kind}",
                    (f"did you mean {{{guess}}}? " if guess else "") + "values: " + ", ".join(allowed))


def _level(r: Reader, node: YNode | None) -> str | None:
    t = r.text(node, "level")
    if t is None or node is None:
        return None
    by_zh = {v: k for k, v in LEVELS.items()}
    if t in LEVELS:
        return t
    if t in by_zh:
        return by_zh[t]
    r.error(node, "level", f"level must be one of {', '.join(LEVELS)} (or {'/'.join(LEVELS.values())}), "
                           f"not '{readable(t, 20)}'")
    return None


def _citation(r: Reader, spec: YMap, registry: set[str]) -> Citation | None:
    src_node, local_node = spec.get("source"), spec.get("local_practice")
    local = r.boolean(local_node, "local_practice") if local_node is not None else False
    note = r.label(spec.get("note"), "note") if spec.get("note") is not None else None
    article = r.text(spec.get("article"), "article")
    if local and note is None:
        r.error(local_node or spec, "citation",
                "a local-practice rule needs a `note` ({zh, en}) saying why and what its settings mean")
        return None
    if src_node is not None:
        sid = r.text(src_node, "source")
        if sid is None:
            return None
        if sid not in registry:
            guess = did_you_mean(sid, sorted(registry))
            r.error(src_node, "unknown-source", f"source '{readable(sid, 40)}' is not in sources.yaml",
                    f"did you mean '{guess}'?" if guess else "register the document in sources.yaml first")
            return None
        return Citation(sid, article, bool(local), note)
    if local:
        return Citation(None, article, True, note)
    r.error(spec, "citation", "a monitoring rule needs `source:` (an id of sources.yaml) or `local_practice: true`",
            "cite the document the rule encodes; a setting no document gives is local practice")
    return None


def _settings(r: Reader, kind: str, s: YMap, engine: Engine) -> Settings | None:
    days = MAX_DAYS
    if kind == "outcome_changed":
        programs = _names(r, s.get("programs"), "programs", engine.programs)
        changes = _names(r, s.get("changes"), "changes", OUTCOME_CHANGES) if s.get("changes") else OUTCOME_CHANGES
        return OutcomeChanged(programs, changes) if programs and changes else None
    if kind == "near_threshold":
        program = _program(r, s.get("program"), engine)
        value = _definition(r, s.get("value"), program, engine, "value", ("money", "decimal"))
        limit = _definition(r, s.get("limit"), program, engine, "limit", ("money", "decimal"))
        margin = _share(r, s.get("margin"), "margin")
        side = _choice(r, s.get("side"), "side", ("below", "above", "either"), "either")
        repeat = _int(r, s.get("repeat_after_days"), "repeat_after_days", 1, days)
        if program and value and limit and margin is not None and repeat is not None:
            return NearThreshold(program, value, limit, margin, side, repeat)
        return None
    if kind == "indicator_change":
        fact_node = s.get("fact")
        fact = r.text(fact_node, "fact")
        if fact is not None and fact_node is not None:
            spec = engine.model.facts.field(fact)
            if spec is None or spec.type not in ("money", "decimal", "integer"):
                choices = [f.name for f in engine.model.facts.fields if f.type in ("money", "decimal", "integer")]
                guess = did_you_mean(fact, choices)
                r.error(fact_node, "unknown-name",
                        f"'{readable(fact, 64)}' is not a household fact that is a number or an amount",
                        f"did you mean '{guess}'?" if guess else None)
                fact = None
        direction = _choice(r, s.get("direction"), "direction", ("down", "up"), "")
        share = _share(r, s.get("share"), "share")
        window = _int(r, s.get("window_days"), "window_days", 1, days)
        repeat = _int(r, s.get("repeat_after_days"), "repeat_after_days", 1, days)
        if fact and direction and share is not None and window is not None:
            return IndicatorChange(fact, direction, share, window, repeat if repeat is not None else window)
        return None
    if kind == "household_changed":
        changes = (_names(r, s.get("changes"), "changes", ("member_added", "member_removed"))
                   if s.get("changes") else ("member_added", "member_removed"))
        return HouseholdChanged(changes) if changes else None
    if kind == "review_due":
        program = _program(r, s.get("program"), engine)
        months = _int(r, s.get("months"), "months", 1, 120)
        months_value = _definition(r, s.get("months_value"), program, engine, "months_value", ("integer",), False)
        notice = _int(r, s.get("notice_days"), "notice_days", 0, 366) or 0
        if (s.get("months") is None) == (s.get("months_value") is None):
            r.error(s, "review-months", "a review_due rule gives either `months` or `months_value`, exactly one",
                    "months_value names a value of the program, e.g. review_cycle_months")
            return None
        if program and (months is not None or months_value):
            return ReviewDue(program, months, months_value, notice)
        return None
    if kind == "age_reached":
        programs = _names(r, s.get("programs"), "programs", engine.programs)
        given = [k for k in ("age", "age_parameter", "retirement") if s.get(k) is not None]
        if len(given) != 1:
            r.error(s, "age", "an age_reached rule gives exactly one of `age`, `age_parameter`, `retirement: true`")
            return None
        age = _int(r, s.get("age"), "age", 0, 150)
        param = _age_parameter(r, s.get("age_parameter"), engine)
        retirement = r.boolean(s.get("retirement"), "retirement") or False
        if s.get("retirement") is not None and not retirement:
            r.error(s.get("retirement") or s, "age", "write `retirement: true`, or give `age`")
        if retirement and ("employment", "below_retirement_age") not in engine.compiled.checked.defs:
            r.error(s.get("retirement") or s, "unknown-name",
                    "retirement: the policy set has no employment.below_retirement_age to read the age from")
            return None
        members = engine.model.facts.field("members")
        bools = tuple(f.name for f in members.fields if f.type == "bool") if members else ()
        unless = _names(r, s.get("unless"), "unless", bools) if s.get("unless") is not None else ()
        member_program = (r.boolean(s.get("member_program"), "member_program") or False
                          if s.get("member_program") is not None else False)
        notice = _int(r, s.get("notice_days"), "notice_days", 0, 366) or 0
        if programs and unless is not None and (age is not None or param or retirement):
            return AgeReached(programs, age, param, retirement, unless, member_program, notice)
        return None
    if kind == "document_expiry":
        docs = _names(r, s.get("documents"), "documents", DOCUMENTS)
        notice = _int(r, s.get("notice_days"), "notice_days", 0, 366) or 0
        return DocumentExpiry(docs, notice) if docs else None
    if kind == "station_repeat":
        count = _int(r, s.get("count"), "count", 2, 1000)
        window = _int(r, s.get("days"), "days", 1, days)
        per = r.boolean(s.get("per_station"), "per_station") if s.get("per_station") is not None else False
        repeat = _int(r, s.get("repeat_after_days"), "repeat_after_days", 1, days)
        if count is not None and window is not None:
            return StationRepeat(count, window, bool(per), repeat if repeat is not None else window)
        return None
    if kind == "two_offices":
        programs = _names(r, s.get("programs"), "programs", engine.programs)
        repeat = _int(r, s.get("repeat_after_days"), "repeat_after_days", 1, days)
        return TwoOffices(programs, repeat) if programs and repeat is not None else None
    raise AssertionError(kind)  # pragma: no cover - KINDS is checked first


def _age_parameter(r: Reader, node: YNode | None, engine: Engine) -> tuple[str, str] | None:
    t = r.text(node, "age_parameter")
    if t is None or node is None:
        return None
    program, _, name = t.partition(".")
    if program not in engine.programs or name not in engine.model.programs[program].parameters:
        r.error(node, "unknown-name", f"age_parameter: no parameter '{readable(t, 64)}'",
                "write program.parameter, e.g. employment.minimum_working_age")
        return None
    if engine.model.programs[program].parameters[name].type != "integer":
        r.error(node, "type", f"age_parameter: {t} is not a whole number of years")
        return None
    return program, name


__all__ = ["check_rules", "is_monitoring_file", "load_rules", "monitoring_files"]
