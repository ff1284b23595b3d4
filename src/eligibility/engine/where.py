"""Where to apply: the offices that may accept a household's application, each with its rules.

`where_to_apply(engine, household, on)` reads the set's `where_to_apply:` rules (compiled as one
program of their own, see `eligibility.lang.where`), decides them for the household with the
trace on, and gathers, program by program, the offices their rules give, why (the rule's title,
citation and position, and the member or permit it is about), and what is still unknown.

Before deciding, the places are made consistent (`reconcile`): a 6-digit hukou code implies
`guangdong_hukou`, `hukou_province` and `hukou_local` (hukou in the deciding district), a
residence code implies `resides_locally`, and `hukou_local` with `guangdong_hukou` implies the
deciding district's code; two given facts that disagree are an input error naming both.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.base.errors import Diagnostic, InputError, InputProblem, PolicyError
from eligibility.base.numbers import ENGINE_CONTEXT
from eligibility.base.source import readable
from eligibility.compile.helpers import U
from eligibility.compile.pipeline import compile_where
from eligibility.compile.unknown import Unknown
from eligibility.engine.facts import field_at
from eligibility.lang.where import OFFICE_SUFFIX, PROGRAM, OfficeRule, WhereRules

if TYPE_CHECKING:
    from eligibility.engine.runtime import Decision, Engine

SCHEMA = "eligibility.where_to_apply/1"
_CODE = re.compile(r"[0-9]{6}")  # ASCII digits only: \d also matches other scripts' digits
_MEMBER_PLACES = ("hukou_district", "hukou_province", "residence_district")
_HOUSEHOLD_PLACES = ("emergency_district",)
_PROVINCE = re.compile(r"[0-9]{2}")

#: How each kind of office is named, around the name of its district ({} is the place).
KIND_WORDS = {
    "street_office": {"zh": "{}乡镇人民政府（街道办事处）", "en": "town government / street office, {}"},
    "rescue_station": {"zh": "{}救助管理站", "en": "rescue station (救助管理站), {}"},
    "employment_service": {"zh": "{}街道（社区）公共就业服务机构", "en": "public employment service, {}"},
}


@attrs.frozen
class Reason:
    """One rule that gives an office: its title (zh/en), citation, position and the record it is about."""

    rule: str
    text: dict[str, str]
    programs: tuple[str, ...]
    sources: tuple[str, ...]  # citation ids of sources.yaml
    article: str | None
    at: str  # file:line:col of the rule
    record: str | None  # "members[1]", "residence_permits[0]"; None for a household-level rule
    record_id: str | None  # the member id (for a permit: its holder)

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "text": dict(self.text), "programs": list(self.programs),
                "sources": list(self.sources), "article": self.article, "at": self.at,
                "record": self.record, "record_id": self.record_id}


@attrs.frozen
class Office:
    """An office that may accept an application: a 6-digit division code and a kind of office."""

    code: str
    kind: str  # street_office | rescue_station | employment_service
    name: dict[str, str] | None  # the district's name {zh, en}, when the rules' `names:` know it
    programs: tuple[str, ...]
    reasons: tuple[Reason, ...]
    #: The trace steps of the rules (and office values) that gave it, as in Decision.to_json().
    trace: tuple[dict[str, Any], ...] = attrs.field(repr=False, eq=False)

    def label(self, lang: str = "zh") -> str:
        """The office in words: 'town government / street office, Huadu District, Guangzhou (440114)'."""
        place = f"{self.name[lang]}（{self.code}）" if lang == "zh" and self.name else \
            f"{self.name[lang]} ({self.code})" if self.name else self.code
        return KIND_WORDS[self.kind][lang].format(place)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "kind": self.kind, "name": dict(self.name) if self.name else None,
                "label": {"zh": self.label("zh"), "en": self.label("en")}, "programs": list(self.programs),
                "reasons": [r.to_json() for r in self.reasons], "trace": list(self.trace)}


@attrs.frozen
class Pending:
    """A rule that may give an office once facts now unknown are known (`unknown` names them)."""

    reason: Reason
    kind: str
    code: str | None  # the office, when it is known and only the condition waits
    unknown: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {**self.reason.to_json(), "kind": self.kind, "code": self.code, "unknown": list(self.unknown)}


@attrs.frozen
class ProgramPlaces:
    """Where to apply for one program: the offices, and whether the answer is complete.

    `status` is `determined` (every rule is decided: the offices are all of them), `undetermined`
    (a rule waits on the facts in `unknown` and could add an office), `no_office` (no rule gives
    an office for this household) or `not_covered` (no rule speaks of this program).
    """

    program: str
    title: dict[str, str] | None
    offices: tuple[Office, ...]
    status: str
    unknown: tuple[str, ...]
    pending: tuple[Pending, ...]
    #: The rules for this program whose condition holds for no record (the rules considered and not met).
    not_met: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "status": self.status,
                "offices": [{"code": o.code, "kind": o.kind} for o in self.offices],
                "unknown": list(self.unknown), "pending": [p.to_json() for p in self.pending],
                "not_met": list(self.not_met)}


@attrs.frozen(eq=False)
class WhereToApply:
    """Which offices may accept the household's applications, program by program, and why."""

    on: dt.date
    #: Every office some rule gives, with all the programs and reasons it has (in rule order).
    offices: tuple[Office, ...]
    programs: dict[str, ProgramPlaces]
    #: Facts made consistent from others: {"path", "value", "from"} (e.g. hukou_local from hukou_district).
    derived: tuple[dict[str, Any], ...]
    #: Programs of the set that no rule speaks of: where to apply for them is not encoded.
    not_covered: tuple[str, ...]
    policy_hash: str
    _decision: Decision = attrs.field(repr=False)
    _titles: dict[str, dict[str, str]] = attrs.field(repr=False)

    @property
    def undetermined(self) -> bool:
        """Whether some program's offices wait on facts that are not known (see `unknown`)."""
        return any(p.status == "undetermined" for p in self.programs.values())

    @property
    def unknown(self) -> tuple[str, ...]:
        """The unknown facts some program's answer waits on; each, once known, can add or settle an office."""
        return tuple(sorted({u for p in self.programs.values() for u in p.unknown}))

    def for_program(self, program: str) -> tuple[Office, ...]:
        """The offices that may accept an application for `program` (empty for a program no rule covers)."""
        p = self.programs.get(program)
        return p.offices if p is not None else ()

    def accepts(self, program: str, code: str, kind: str = "street_office") -> bool | None:
        """Whether the office `code` (of `kind`) may accept an application for `program`.

        True if a rule gives it; False if the answer is settled and no rule does (or no rule covers
        the program); None if it is not among the offices yet but the answer waits on unknown facts.
        """
        p = self.programs.get(program)
        if p is None:
            return False
        if any(o.code == code and o.kind == kind for o in p.offices):
            return True
        return None if p.status == "undetermined" else False

    def to_json(self) -> dict[str, Any]:
        """The answer and its trace as JSON (docs/reference/where-to-apply.md)."""
        trace = self._decision.to_json()
        return {"schema": SCHEMA, "decided_for": self.on.isoformat(), "policy": trace["policy"],
                "offices": [o.to_json() for o in self.offices],
                "programs": {n: p.to_json() for n, p in self.programs.items()},
                "undetermined": self.undetermined, "unknown": list(self.unknown),
                "derived": [dict(d) for d in self.derived], "not_covered": list(self.not_covered),
                "unknown_facts": trace["unknown"], "defaulted": trace["defaulted"],
                "steps": trace["programs"][PROGRAM]["steps"], "sources": trace["sources"]}

    def explain(self, lang: str = "zh") -> str:
        """Say in Chinese (`zh`) or English (`en`) where to apply for each program, why, and what is missing."""
        if lang not in ("zh", "en"):
            raise InputError([InputProblem("lang", "format", f"must be 'zh' or 'en', not {readable(repr(lang), 40)}")],
                             "arguments")
        return _explain(self, lang)


def where_to_apply(engine: Engine, household: Mapping[str, Any], day: dt.date,
                   programs: Iterable[str] | None = None, *, trace: bool = True) -> WhereToApply:
    """Decide where the household may apply on `day`, for every program the rules cover (or those named).

    With `trace=False` the offices carry no trace steps (`Office.trace` is empty), which is several
    times faster; `to_json()` and `explain()` still work.

    Raises:
        InputError: the household or an argument is invalid, or two of its facts disagree on a place.
        PolicyError: the policy set has no `where_to_apply:` file.
        EvaluationError: a rule cannot be evaluated for this household.
    """
    compiled = compile_where(engine.compiled)
    rules = engine.model.where_rules
    if compiled is None or rules is None:
        raise PolicyError([_no_rules(engine.model.jurisdiction)])
    inner: Engine = _inner(engine, compiled)
    covered = tuple(dict.fromkeys(p for r in rules.rules for p in r.programs))
    wanted = covered if programs is None else _check_programs(programs, covered, engine.model.program_names)
    with decimal.localcontext(ENGINE_CONTEXT):
        read = inner.validator.validate_partial(household, True, on=day, complete=False)
        facts = {k: ([dict(x) for x in v] if isinstance(v, list) else v) for k, v in read.values.items()}
        unknown = list(read.unknown)
        defaulted = list(read.defaulted)
        derived = reconcile(facts, unknown, rules.jurisdiction, defaulted)
        provenance = {path: dict(meta) for path, meta in read.provenance.items()}
        for d in derived:  # the trace shows, beside a derived fact, the fact it came from
            provenance[d["path"]] = {"source": "where_to_apply", "note": f"derived from {d['from']}"}
        decision = inner._run(facts, defaulted, day, (PROGRAM,), True, False, tuple(unknown), provenance)
        error = decision.programs[PROGRAM].error
        if error is not None:
            raise error
        _evaluate_all(inner, decision)
        steps = {s["name"]: s for s in decision.to_json()["programs"][PROGRAM]["steps"]} if trace else {}
        values = decision.memo_values()
    return _gather(engine, inner, rules, decision, facts, values, steps, wanted, derived, covered)


def _no_rules(jurisdiction: str | None) -> Diagnostic:
    where = f" for jurisdiction {jurisdiction}" if jurisdiction else ""
    return Diagnostic(None, "no-where-to-apply", f"the policy set has no where_to_apply rules{where} "
                      "(a file starting with `where_to_apply:` whose jurisdiction is this district or above it)")


_INNER: dict[int, Any] = {}


def _inner(engine: Engine, compiled: Any) -> Engine:
    """The engine of the where rules (one per compiled set), made with the caller's own class."""
    hit = _INNER.get(id(compiled))
    if hit is None or hit.compiled is not compiled:
        hit = _INNER[id(compiled)] = type(engine)(compiled)
    return hit


def _check_programs(programs: Iterable[str], covered: tuple[str, ...], known: frozenset[str]) -> tuple[str, ...]:
    if isinstance(programs, str):
        programs = (programs,)
    out = []
    for p in programs:
        if not isinstance(p, str) or (p not in covered and p not in known):
            raise InputError([InputProblem("programs", "unknown", f"unknown program {readable(repr(p), 40)}; "
                                           f"known: {', '.join(sorted(known | set(covered)))}")], "arguments")
        out.append(p)
    return tuple(out)


def reconcile(facts: dict[str, Any], unknown: list[str], district: str,
              defaulted: list[str] | None = None) -> list[dict[str, Any]]:
    """Make the places of validated facts consistent, in place; return what was derived.

    A fact given as unknown or absent is set from one that implies it (its path leaves `unknown`);
    facts that disagree raise InputError naming both paths; a code that is not 6 digits (2 for a
    province) is a `format` problem. `district` is the deciding district (`hukou_local`'s place).
    `defaulted` (the paths that took their default) loses the paths made unknown or derived.
    """
    problems: list[InputProblem] = []
    derived: list[dict[str, Any]] = []
    took_default = defaulted if defaulted is not None else []

    def known(v: Any) -> bool:
        return v.__class__ is not Unknown

    def code(rec: dict[str, Any], name: str, path: str, pattern: re.Pattern[str] = _CODE) -> Any:
        v = rec.get(name)
        if not isinstance(v, str):  # unknown, or a field the vocabulary does not have
            return U
        if not pattern.fullmatch(v):
            digits = "2-digit province code" if pattern is _PROVINCE else "6-digit division code"
            problems.append(InputProblem(path, "format", f"must be a {digits} such as "
                                         f"{'44' if pattern is _PROVINCE else '440114'}, not {readable(repr(v), 30)}"))
            return U
        return v

    def setv(rec: dict[str, Any], name: str, path: str, value: Any, source: str) -> None:
        if name not in rec:  # the vocabulary has no such field: nothing to keep consistent
            return
        rec[name] = value
        if path in unknown:
            unknown.remove(path)
        if path in took_default:
            took_default.remove(path)
        derived.append({"path": path, "value": value, "from": source})

    def agree(rec: dict[str, Any], name: str, path: str, value: Any, source: str, shown: str) -> None:
        if name not in rec:
            return
        given = rec[name]
        if known(given) and path not in took_default:
            if given != value:
                problems.append(InputProblem(path, "conflict", f"is {_show(given)}, but {source} {shown} "
                                             f"means {_show(value)}: one of the two is wrong"))
        elif not known(given) or given != value:
            setv(rec, name, path, value, source)

    # A place not given is "" in the vocabulary (so that decisions need no unknown facts): unknown here.
    for rec, prefix, names in [(facts, "", _HOUSEHOLD_PLACES)] + [
            (m, f"members[{i}].", _MEMBER_PLACES) for i, m in enumerate(facts.get("members") or [])]:
        for name in names:
            if rec.get(name) == "":
                rec[name] = Unknown(frozenset((prefix + name,)))
                if prefix + name not in unknown:
                    unknown.append(prefix + name)
                if prefix + name in took_default:
                    took_default.remove(prefix + name)
    for i, m in enumerate(facts.get("members") or []):
        p = f"members[{i}]"
        hd = code(m, "hukou_district", f"{p}.hukou_district")
        hp = code(m, "hukou_province", f"{p}.hukou_province", _PROVINCE)
        rd = code(m, "residence_district", f"{p}.residence_district")
        if hd is not U:
            shown = f"= {hd}"
            if hp is not U and hp != hd[:2]:
                problems.append(InputProblem(f"{p}.hukou_province", "conflict",
                                             f"is {hp!r}, but {p}.hukou_district {shown} is in province "
                                             f"{hd[:2]!r}: one of the two is wrong"))
            elif hp is U:
                setv(m, "hukou_province", f"{p}.hukou_province", hd[:2], f"{p}.hukou_district")
            agree(m, "guangdong_hukou", f"{p}.guangdong_hukou", hd[:2] == "44", f"{p}.hukou_district", shown)
            gd = m.get("guangdong_hukou")
            local = hd == district
            # hukou_local is read only together with guangdong_hukou: true with no Guangdong hukou
            # is not a claim of a Huadu hukou (see facts.yaml), so it cannot contradict the code.
            if not (m.get("hukou_local") is True and gd is False):
                agree(m, "hukou_local", f"{p}.hukou_local", local, f"{p}.hukou_district", shown)
        else:
            gd, local_flag = m.get("guangdong_hukou"), m.get("hukou_local")
            if hp is not U and gd.__class__ is bool and gd != (hp == "44"):
                problems.append(InputProblem(f"{p}.guangdong_hukou", "conflict",
                                             f"is {_show(gd)}, but {p}.hukou_province = {hp} means "
                                             f"{_show(hp == '44')}: one of the two is wrong"))
            elif hp is not U and not known(gd):
                setv(m, "guangdong_hukou", f"{p}.guangdong_hukou", hp == "44", f"{p}.hukou_province")
            if local_flag is True and m.get("guangdong_hukou") is True:
                setv(m, "hukou_district", f"{p}.hukou_district", district,
                     f"{p}.hukou_local and {p}.guangdong_hukou")
                if hp is not U and hp != district[:2]:
                    problems.append(InputProblem(f"{p}.hukou_province", "conflict",
                                                 f"is {hp!r}, but {p}.hukou_local says the hukou is in "
                                                 f"{district}: one of the two is wrong"))
                elif hp is U:
                    setv(m, "hukou_province", f"{p}.hukou_province", district[:2], f"{p}.hukou_local")
            elif m.get("guangdong_hukou") is True and hp is U:
                setv(m, "hukou_province", f"{p}.hukou_province", "44", f"{p}.guangdong_hukou")
        if rd is not U:
            agree(m, "resides_locally", f"{p}.resides_locally", rd == district, f"{p}.residence_district",
                  f"= {rd}")
        elif m.get("resides_locally") is True and f"{p}.resides_locally" not in took_default:
            setv(m, "residence_district", f"{p}.residence_district", district, f"{p}.resides_locally")
    ids = {m.get("id") for m in facts.get("members") or []}
    for i, permit in enumerate(facts.get("residence_permits") or []):
        code(permit, "district", f"residence_permits[{i}].district")
        holder = permit.get("holder")
        if known(holder) and holder not in ids:
            problems.append(InputProblem(f"residence_permits[{i}].holder", "unknown",
                                         f"{readable(repr(holder), 40)} is not the id of a member"))
    code(facts, "emergency_district", "emergency_district")
    if problems:
        raise InputError(problems)
    return derived


def _show(v: Any) -> str:
    return "true" if v is True else "false" if v is False else repr(v)


def _evaluate_all(inner: Engine, decision: Decision) -> None:
    """Evaluate every rule and office of the where program into the decision, so its trace shows them."""
    compiled = inner.compiled
    ns = compiled.namespace
    prog = compiled.model.programs[PROGRAM]
    memo, rec = decision._memo, decision._recorded
    facts, on = decision.facts, decision.on
    pv = decision.parameter_values()
    assert memo is not None and rec is not None  # decided with the trace on
    for d in prog.definitions.values():
        k = compiled.generated.def_index[(PROGRAM, d.name)]
        if d.each is None:
            if memo[k] is U:
                ns[f"t{k}"](facts, pv, memo, on, rec)
            continue
        for i, x in enumerate(facts[d.each[1]]):
            ns["tpm"](memo, k, ns[f"t{k}"], facts, pv, on, rec, x, i)


def _gather(engine: Engine, inner: Engine, rules: WhereRules, decision: Decision, facts: dict[str, Any],
            values: list[Any], steps: dict[str, dict[str, Any]], wanted: tuple[str, ...],
            derived: list[dict[str, Any]], covered: tuple[str, ...]) -> WhereToApply:
    index = inner.compiled.generated.def_index
    titles = {n: {"zh": p.title.zh, "en": p.title.en} for n, p in engine.model.programs.items()}
    found: dict[tuple[str, str], list[tuple[Reason, OfficeRule]]] = {}
    pending: list[tuple[Pending, OfficeRule]] = []
    not_met: list[OfficeRule] = []
    for rule in rules.rules:
        if not set(rule.programs) & set(wanted):
            continue
        holds = values[index[(PROGRAM, rule.name)]]
        office = values[index[(PROGRAM, rule.name + OFFICE_SUFFIX)]]
        if rule.rule.each is None:
            items: list[tuple[Any, Any, str | None, str | None]] = [(holds, office, None, None)]
        else:
            lst = rule.rule.each[1]
            items = []
            for i, x in enumerate(facts[lst]):
                rid = x.get("id") if isinstance(x.get("id"), str) else None
                if rid is None and isinstance(x.get("holder"), str):
                    rid = x["holder"]
                items.append((_at(holds, x), _at(office, x), f"{lst}[{i}]", rid))
        if all(h is False for h, _, _, _ in items):
            not_met.append(rule)
        for h, o, record, rid in items:
            if h is False:
                continue
            reason = _reason(rule, record, rid)
            if h is True and o.__class__ is str:
                found.setdefault((o, rule.kind), []).append((reason, rule))
                continue
            waits: set[str] = set()
            for v in (h, o):
                if v.__class__ is Unknown:
                    waits |= v.paths
            code = o if o.__class__ is str else None
            pending.append((Pending(reason, rule.kind, code, tuple(sorted(waits))), rule))
    offices: list[Office] = []
    for (code, kind), reasons in found.items():
        progs = tuple(p for p in dict.fromkeys(p for _, r in reasons for p in r.programs) if p in wanted)
        trace = tuple(steps[n] for n in _step_names(inner, [r for _, r in reasons]) if n in steps)
        offices.append(Office(code, kind, _name(rules, code), progs, tuple(r for r, _ in reasons), trace))
    per: dict[str, ProgramPlaces] = {}
    for program in wanted:
        mine = tuple(o for o in offices if program in o.programs)
        have = {(o.code, o.kind) for o in mine}
        open_ = tuple(p for p, r in pending if program in r.programs and (p.code, p.kind) not in have)
        unknown = tuple(sorted({u for p in open_ for u in p.unknown}))
        status = "undetermined" if open_ else ("determined" if mine else
                                               "no_office" if program in covered else "not_covered")
        per[program] = ProgramPlaces(program, titles.get(program), mine, status, unknown, open_,
                                     tuple(r.name for r in not_met if program in r.programs))
    not_covered = tuple(sorted(engine.model.program_names - set(covered)))
    return WhereToApply(decision.on, tuple(offices), per, tuple(derived), not_covered, engine.policy_hash,
                        decision, titles)


def _at(value: Any, record: Any) -> Any:
    """A per-record value for one record (values are kept by the record's identity)."""
    if isinstance(value, dict):
        return value.get(id(record), U)
    return value


def _reason(rule: OfficeRule, record: str | None, rid: str | None) -> Reason:
    d = rule.rule
    return Reason(rule.name, {"zh": rule.title.zh, "en": rule.title.en}, rule.programs,
                  (d.source,) if d.source else (), d.article, str(d.span), record, rid)


def _step_names(inner: Engine, used: list[OfficeRule]) -> list[str]:
    """The steps to show for these rules: each rule, its office, and the values they read, in program order."""
    defs = inner.compiled.checked.defs
    wanted: set[str] = set()
    stack = [n for r in used for n in (r.name, r.name + OFFICE_SUFFIX)]
    while stack:
        n = stack.pop()
        if n in wanted:
            continue
        wanted.add(n)
        stack.extend(dep for prog, dep in defs[(PROGRAM, n)].deps if prog == PROGRAM)
    return [n for n in inner.compiled.model.programs[PROGRAM].definitions if n in wanted]


def _name(rules: WhereRules, code: str) -> dict[str, str] | None:
    label = rules.names.get(code)
    if label is not None:
        return {"zh": label.zh, "en": label.en}
    province = rules.names.get(code[:2])
    if province is not None:
        return {"zh": f"{province.zh}（区县代码 {code}）", "en": f"a district of {province.en}"}
    return None


def _fact_label(engine: Engine, path: str, lang: str) -> str:
    spec = field_at(engine.model.facts, re.sub(r"\[\d+\]", "", path).replace("..", "."))
    if spec is None:
        return path
    return f"{path}（{spec.label.zh}）" if lang == "zh" else f"{path} ({spec.label.en})"


_WORDS = {
    "zh": {
        "on": "决定日期", "may": "可受理申请的机构：", "none": "没有规则给出受理机构。",
        "rule": "依据", "source": "出处", "about": "涉及",
        "pending": "尚未确定：以下规则是否适用、给出哪个机构，取决于未知事实：",
        "maybe": "可能还有（取决于未知事实）：", "needed": "还需核实：",
        "uncovered": "本规则集没有关于该项目受理地的规则。",
        "derived": "由其他事实推出：", "not_covered": "未编码受理地规则的项目：",
        "from": "来自", "cannot": "（尚不能确定受理机构）", "not_met": "不适用的规则：", "sep": "：",
        "lp": "（", "rp": "）",
    },
    "en": {
        "on": "decided for", "may": "Offices that may accept the application:",
        "none": "No rule gives an office.", "rule": "rule", "source": "source", "about": "about",
        "pending": "Not settled yet: whether these rules apply, and which office they give, waits on unknown facts:",
        "maybe": "Possibly also (waiting on unknown facts):", "needed": "Still needed:",
        "uncovered": "No rule of this set says where to apply for this program.",
        "derived": "Derived from other facts:", "not_covered": "Programs with no rule on where to apply:",
        "from": "from", "cannot": "(the office cannot be named yet)",
        "not_met": "Rules considered, not met: ", "sep": ": ", "lp": " (", "rp": ")",
    },
}


def _explain(w: WhereToApply, lang: str) -> str:
    t = _WORDS[lang]
    engine = w._decision.engine
    rules_title = engine.model.programs[PROGRAM].title.get(lang)
    out = [f"{rules_title} — {t['on']} {w.on.isoformat()}", ""]
    sources = engine.model.programs[PROGRAM].sources
    for name, p in w.programs.items():
        title = p.title[lang] if p.title else name
        out.append(f"{name}  {title}")
        if p.offices:
            out.append(f"  {t['may']}")
        elif p.status == "not_covered":
            out.append(f"  {t['uncovered']}")
        elif not p.pending:
            out.append(f"  {t['none']}")
        for o in p.offices:
            out.append(f"  • {o.label(lang)}")
            for r in o.reasons:
                if not set(r.programs) & {name}:
                    continue
                about = f"；{t['about']} {r.record}" if lang == "zh" else f"; {t['about']} {r.record}"
                about = (about + (f"{t['lp']}{r.record_id}{t['rp']}" if r.record_id else "")) if r.record else ""
                out.append(f"      {t['rule']} {r.rule}{t['sep']}{r.text[lang]}{about}")
                out.append(f"      {t['source']}{t['sep']}{_cite(sources, r, lang)} — {r.at}")
        if p.pending:
            out.append(f"  {t['pending'] if not p.offices else t['maybe']}")
            for q in p.pending:
                place = q.code if q.code else t["cannot"]
                rec = f" [{q.reason.record}]" if q.reason.record else ""
                out.append(f"  ? {q.reason.rule}{rec}{t['sep']}{q.reason.text[lang]} → {place}")
                out.append(f"      {t['source']}{t['sep']}{_cite(sources, q.reason, lang)} — {q.reason.at}")
            out.append(f"  {t['needed']}")
            for u in p.unknown:
                out.append(f"    - {_fact_label(engine, u, lang)}")
        if p.not_met:
            out.append(f"  {t['not_met']}{', '.join(p.not_met)}")
        out.append("")
    if w.derived:
        out.append(t["derived"])
        for d in w.derived:
            out.append(f"  {d['path']} = {_show(d['value']) if isinstance(d['value'], bool) else d['value']}"
                       f"{t['lp']}{t['from']} {d['from']}{t['rp']}")
        out.append("")
    if w.not_covered:
        out.append(f"{t['not_covered']} {', '.join(w.not_covered)}")
    return "\n".join(out).rstrip() + "\n"


def _cite(sources: Mapping[str, Any], r: Reason, lang: str) -> str:
    parts = []
    for sid in r.sources:
        s = sources.get(sid)
        title = f"《{s.title}》" if s is not None and lang == "zh" else (s.title if s is not None else "")
        doc = f" {s.document}" if s is not None and s.document else ""
        parts.append(f"{sid} {title}{doc}".strip())
    text = "; ".join(parts) or "—"
    return f"{text} {r.article}" if r.article else text


__all__ = ["SCHEMA", "Office", "Pending", "ProgramPlaces", "Reason", "WhereToApply", "reconcile", "where_to_apply"]
