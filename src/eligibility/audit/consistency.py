"""The parts of a recorded decision that must agree with each other: each program's outcome with its
steps, each value one step reads with the step that computed it, each parameter with itself in
every step, each step a step reads present, and each citation with the decision's table of sources."""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from eligibility.audit.canonical import canonical_bytes, short_json
from eligibility.audit.evaluate import Unknown, each_binding, equal
from eligibility.base.i18n import translate as _
from eligibility.base.numbers import decimal_text

_CENT = Decimal("0.01")


def cents(value: object) -> Decimal | None:
    """A recorded amount rounded to the cent, or None when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        return Decimal(value).quantize(_CENT, rounding=decimal.ROUND_HALF_UP)
    except (decimal.InvalidOperation, ValueError):
        return None


def steps_of(prog: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A program's steps by name."""
    return {s["name"]: s for s in prog.get("steps") or [] if isinstance(s, dict) and isinstance(s.get("name"), str)}


def _agree(a: object, b: object) -> bool | None:
    """Whether two recorded values agree; None when their types do not say."""
    if a is None or b is None:
        return None
    try:
        return equal(a, b)
    except Unknown:
        return a == b


def _per_record(step: Mapping[str, Any]) -> dict[str, Any]:
    value = step.get("value")
    if step.get("outcome") != "per_record" or not isinstance(value, list):
        return {}
    return {item["path"]: item.get("value") for item in value if isinstance(item, dict) and "path" in item}


def outcome_problems(name: str, prog: Mapping[str, Any]) -> list[str]:
    """A program's eligible, amount, tier and members must be what its own output steps computed."""
    out: list[str] = []
    steps = {s.get("name"): s for s in prog.get("steps") or [] if isinstance(s, dict) and s.get("kind") == "output"}
    elig, amount, tier = steps.get("eligible"), steps.get("amount"), steps.get("tier")
    if elig is None and prog.get("error") is None:
        out.append(_("programs.{program}: the step {step} is missing", program=name, step="eligible"))
    if amount is None and prog.get("amount") is not None and prog.get("members") is None and prog.get("eligible"):
        out.append(_("programs.{program}: the step {step} is missing", program=name, step="amount"))
    if elig is not None and elig.get("outcome") in ("eligible", "not_eligible") and \
            elig.get("value") is not prog.get("eligible"):
        out.append(_("{where} is {value} but its trace computed {computed}", where=f"programs.{name}.eligible",
                     value=short_json(prog.get("eligible")), computed=short_json(elig.get("value"))))
    if amount and amount.get("outcome") == "computed" and prog.get("eligible") is True:
        computed = cents(amount.get("value"))
        if computed is None or computed != cents(prog.get("amount")):
            out.append(_("{where} is {value} but its trace computed {computed}", where=f"programs.{name}.amount",
                         value=short_json(prog.get("amount")), computed=short_json(amount.get("value"))))
    if amount and prog.get("eligible") is False and prog.get("members") is None and prog.get("error") is None \
            and prog.get("amount") is not None and cents(prog.get("amount")) != 0:
        out.append(_("{where} is {value} but the program is not eligible", where=f"programs.{name}.amount",
                     value=short_json(prog.get("amount"))))
    if tier and tier.get("outcome") == "computed" and prog.get("error") is None and \
            tier.get("value") != prog.get("tier"):
        out.append(_("{where} is {value} but its trace computed {computed}", where=f"programs.{name}.tier",
                     value=short_json(prog.get("tier")), computed=short_json(tier.get("value"))))
    out.extend(_member_problems(name, prog, elig, amount))
    return out


def _member_problems(name: str, prog: Mapping[str, Any], elig: Mapping[str, Any] | None,
                     amount: Mapping[str, Any] | None) -> list[str]:
    """A per-record program's members must be what its per-record steps computed, over whatever list."""
    members = prog.get("members")
    if not isinstance(members, list) or elig is None or prog.get("error") is not None:
        return []
    each = each_binding(elig)
    if each is None:
        return []
    out: list[str] = []
    eligible = _per_record(elig)
    amounts = _per_record(amount) if amount is not None else {}
    total = Decimal("0.00")
    for m in members:
        if not isinstance(m, dict):
            continue
        path = f"household.{each[1]}[{m.get('index')}]"
        traced = eligible.get(path)
        if traced is not None and traced is not m.get("eligible"):
            out.append(_("{where} is {value} but its trace computed {computed}",
                         where=f"programs.{name}.members[{m.get('index')}].eligible",
                         value=short_json(m.get("eligible")), computed=short_json(traced)))
        if m.get("eligible") is True and path in amounts and cents(amounts[path]) != cents(m.get("amount")):
            out.append(_("{where} is {value} but its trace computed {computed}",
                         where=f"programs.{name}.members[{m.get('index')}].amount",
                         value=short_json(m.get("amount")), computed=short_json(amounts[path])))
        if m.get("eligible") is False and m.get("amount") is not None and cents(m.get("amount")) != 0:
            out.append(_("{where} is {value} but the member is not eligible",
                         where=f"programs.{name}.members[{m.get('index')}].amount", value=short_json(m.get("amount"))))
        c = cents(m.get("amount"))
        total += c if c is not None else 0
    flags = [m.get("eligible") for m in members if isinstance(m, dict)]
    if prog.get("eligible") is not None and all(isinstance(f, bool) for f in flags) and \
            prog.get("eligible") is not any(flags):
        out.append(_("{where} is {value} but its members say {members}", where=f"programs.{name}.eligible",
                     value=short_json(prog.get("eligible")), members=str(any(flags)).lower()))
    if prog.get("amount") is not None and amount is not None and cents(prog.get("amount")) != total:
        out.append(_("{where} is {value} but its members' amounts add up to {total}", where=f"programs.{name}.amount",
                     value=short_json(prog.get("amount")), total=decimal_text(total)))
    return out[:20]


def reference_problems(name: str, prog: Mapping[str, Any], programs: Mapping[str, Any]) -> list[str]:
    """Each value a step read of another step (of this or another recorded program) must be that step's."""
    out: list[str] = []
    steps = steps_of(prog)
    params: dict[str, tuple[str, dict[str, Any]]] = {}
    for sname, step in steps.items():
        for item in step.get("inputs") or []:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            kind, ref, value = item.get("kind"), item["name"], item.get("value")
            if kind == "parameter":
                seen = params.setdefault(ref, (sname, item))
                keys = ("value", "from", "source", "unit", "note", "at")
                if any(seen[1].get(k) != item.get(k) for k in keys):
                    out.append(_("programs.{program}: the parameter {name} reads {first} (from {first_from}) in step "
                                 "{first_step} but {value} (from {start}) in step {step}", program=name, name=ref,
                                 first=short_json(seen[1].get("value")), first_from=seen[1].get("from"),
                                 first_step=seen[0], value=short_json(value), start=item.get("from"), step=sname))
                continue
            if kind in ("rule", "computed", "output") and "." not in ref:
                target = steps.get(ref)
                if target is None:
                    out.append(_("programs.{program}: the step {name} is missing (step {step} read it)", program=name,
                                 name=ref, step=sname))
                    continue
                recorded = _value_of(target, item.get("path"))
            elif kind == "program" and "." in ref:
                other, _dot, field = ref.partition(".")
                if other not in programs or not isinstance(programs[other], dict):
                    continue
                recorded = _program_value(programs[other], field, item.get("path"))
            else:
                continue
            if _agree(recorded, value) is False:
                where = _(" for {path}", path=item["path"]) if isinstance(item.get("path"), str) else ""
                out.append(_("programs.{program}: step {step} read {name}{where} as {value} but it is {recorded}",
                             program=name, step=sname, name=ref, where=where, value=short_json(value),
                             recorded=short_json(recorded)))
        if len(out) >= 20:
            break
    return out


def _value_of(step: Mapping[str, Any], path: object) -> Any:
    if step.get("error") is not None or step.get("outcome") in ("not_evaluated", "not_in_force", "error"):
        return None
    if isinstance(path, str):
        return _per_record(step).get(path)
    return None if step.get("outcome") == "per_record" else step.get("value")


def _program_value(prog: Mapping[str, Any], field: str, path: object) -> Any:
    if prog.get("error") is not None:
        return None
    steps = steps_of(prog)
    if isinstance(path, str):
        return _value_of(steps[field], path) if field in steps and field != "amount" else None
    if field == "eligible":
        return prog.get("eligible")
    if field == "tier":
        return prog.get("tier")
    if field == "amount":
        return prog.get("amount") if prog.get("eligible") is True else None
    return _value_of(steps[field], None) if field in steps else None


def citation_problems(decision: Mapping[str, Any]) -> list[str]:
    """Each step's citation must be the decision's table entry for its id, which the explanation shows."""
    table = decision.get("sources")
    if not isinstance(table, dict):
        return [_("decision.sources is not a table of sources")]
    out = []
    for pname, prog in (decision.get("programs") or {}).items():
        if not isinstance(prog, dict):
            continue
        for step in prog.get("steps") or []:
            source = step.get("source") if isinstance(step, dict) else None
            if not isinstance(source, dict):
                continue
            sid = source.get("id")
            where = _("programs.{program} step {step}", program=pname, step=step.get("name"))
            if not isinstance(sid, str) or sid not in table:
                out.append(_("{where} cites {source}, which is not in decision.sources", where=where,
                             source=short_json(sid)))
            elif canonical_bytes(source) != canonical_bytes(table[sid]):
                out.append(_("{where} cites {id} as {source} but decision.sources.{id} is {table}", where=where,
                             id=sid, source=short_json(source), table=short_json(table[sid])))
            if len(out) >= 20:
                return out
    return out


__all__ = ["cents", "citation_problems", "outcome_problems", "reference_problems", "steps_of"]
