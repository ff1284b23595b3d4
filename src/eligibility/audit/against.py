"""Checking a decision record against the policy set its hash names: each step's rule text, position
and citation, each parameter value read, each program's steps and the table of sources, as the
policy files say them on the record's date. Nothing is decided again (that is `replay`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eligibility.audit.canonical import short_json
from eligibility.audit.consistency import steps_of
from eligibility.base.errors import InputError, InputProblem
from eligibility.base.i18n import translate as _
from eligibility.engine.trace import encode
from eligibility.lang.checker import version_at
from eligibility.lang.model import Definition, Label, Program

if TYPE_CHECKING:
    from eligibility.engine.runtime import Engine


def _label(label: Label | None) -> dict[str, str] | None:
    return {"zh": label.zh, "en": label.en} if label else None


def check_policies_match(record: Mapping[str, Any], engine: Engine) -> None:
    """Refuse a policy set other than the one the record names.

    Raises:
        InputError: the engine's policy hash is not the record's (kind `mismatch`).
    """
    policy = record.get("policy")
    wanted = policy.get("hash") if isinstance(policy, dict) else None
    if engine.policy_hash != wanted:
        raise InputError([InputProblem("policies", "mismatch",
                                       _("are the policy set {hash}, not the record's {wanted}: a record is "
                                         "checked only against the policy set it was decided with",
                                         hash=engine.policy_hash, wanted=wanted))])


def _expected_step(program: Program, d: Definition, step: Mapping[str, Any], on: dt.date) -> dict[str, Any]:
    """What the policy set says of a step: its rule text, version, citation, position and title."""
    vi = version_at(d.versions, on)
    dated = len(d.versions) > 1 or d.versions[0].start is not None or d.versions[0].until is not None
    shown = step.get("evaluated") is True and step.get("outcome") != "not_in_force" and vi is not None
    version = d.versions[vi] if shown and vi is not None else d.versions[0]
    src = version.source if shown and version.source else None
    src = src or d.source
    source = program.sources.get(src) if src else None
    return {
        "kind": d.kind, "title": _label(d.title), "at": str(d.span), "layer": d.file,
        "source": source.to_json() if source else None, "article": d.article,
        "expression": version.expr.text.strip(),
        "version": ({"from": version.start.isoformat() if version.start else None,
                     "until": version.until.isoformat() if version.until else None} if dated else None),
        "each": f"{d.each[0]} in household.{d.each[1]}" if d.each else None,
        "rounding": {"to": encode(d.rounding.step), "mode": d.rounding.mode} if d.rounding else None,
    }


def _parameter_problems(where: str, program: Program, item: Mapping[str, Any], on: dt.date) -> list[str]:
    name = item.get("name")
    param = program.parameters.get(str(name))
    if param is None:
        return [_("{where} reads a parameter {name} the policy set does not have", where=where, name=short_json(name))]
    current = [v for v in param.values if v.start <= on]
    if not current:
        return []  # no value on the date: the step records an error instead
    pv = current[-1]
    expected = {"value": encode(pv.value, param.type), "from": pv.start.isoformat(),
                "source": pv.source or param.source, "unit": param.unit, "note": pv.note, "at": str(pv.span),
                "title": _label(param.title)}
    return [_("{where} shows the parameter {name} with {field} {value}, but the policy set says {want}", where=where,
              name=name, field=field, value=short_json(item.get(field)), want=short_json(want))
            for field, want in expected.items() if item.get(field) != want][:3]


def policy_problems(decision: Mapping[str, Any], engine: Engine) -> list[str]:
    """Compare a decision's rules, parameters and citations with the (matching) policy set."""
    out: list[str] = []
    try:
        on = dt.date.fromisoformat(str(decision.get("decided_for")))
    except ValueError:
        return [_("decision.decided_for is not a date")]
    programs = decision.get("programs")
    if not isinstance(programs, dict):
        return []
    for name, prog in programs.items():
        program = engine.model.programs.get(name)
        if program is None:
            out.append(_("programs.{program} is not a program of the policy set", program=name))
            continue
        if not isinstance(prog, dict):
            continue
        for field, want in (("title", _label(program.title)), ("jurisdiction", program.jurisdiction),
                            ("file", program.file), ("layers", list(program.layers))):
            if prog.get(field) != want:
                out.append(_("{where} is {value}, but the policy set says {want}", where=f"programs.{name}.{field}",
                             value=short_json(prog.get(field)), want=short_json(want)))
        defs = {**program.definitions, "eligible": program.eligible,
                **{k: d for k, d in (("amount", program.amount), ("tier", program.tier)) if d is not None}}
        steps = steps_of(prog)
        out.extend(_("programs.{program}: the step {step} is missing (the policy set defines it)", program=name,
                     step=s) for s in defs if s not in steps)
        out.extend(_("programs.{program}: the step {step} is not a definition of the policy set", program=name,
                     step=s) for s in steps if s not in defs)
        for sname, step in steps.items():
            d = defs.get(sname)
            if d is None:
                continue
            where = _("programs.{program} step {step}", program=name, step=sname)
            expected = _expected_step(program, d, step, on)
            out.extend(_("{where}: its {field} is {value}, but the policy set says {want}", where=where, field=field,
                         value=short_json(step.get(field)), want=short_json(want))
                       for field, want in expected.items() if step.get(field) != want)
            for item in step.get("inputs") or []:
                if isinstance(item, dict) and item.get("kind") == "parameter":
                    out.extend(_parameter_problems(where, program, item, on))
            if len(out) >= 50:
                return out
    out.extend(_sources_problems(decision, engine))
    return out


def _sources_problems(decision: Mapping[str, Any], engine: Engine) -> list[str]:
    """Each entry of the decision's table of sources must be the policy set's."""
    table = decision.get("sources")
    if not isinstance(table, dict):
        return []
    known: dict[str, Any] = {}
    for name in decision.get("programs") or {}:
        program = engine.model.programs.get(name)
        for sid, source in (program.sources.items() if program else ()):
            known.setdefault(sid, source.to_json())
    out = []
    for sid, entry in table.items():
        if sid not in known:
            out.append(_("decision.sources.{id} is not a source of the policy set", id=sid))
        elif entry != known[sid]:
            out.append(_("{where} is {value}, but the policy set says {want}", where=f"decision.sources.{sid}",
                         value=short_json(entry), want=short_json(known[sid])))
    return out


__all__ = ["check_policies_match", "policy_problems"]
