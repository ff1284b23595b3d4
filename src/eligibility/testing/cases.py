"""The YAML policy test-case runner, used by `eligibility test` and the pytest plugin (no pytest here),
and the check of the households the cases hold, used by `eligibility check`."""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from eligibility.base.errors import Diagnostic, EvaluationError, InputError, PolicyTestFailure
from eligibility.base.i18n import N_, current_language
from eligibility.base.i18n import translate as _
from eligibility.base.numbers import ENGINE_CONTEXT
from eligibility.base.source import readable
from eligibility.engine.facts import Validator
from eligibility.engine.runtime import Decision, Engine, load
from eligibility.engine.trace import encode
from eligibility.lang.cases import WHERE_PREFIX
from eligibility.lang.model import Facts, TestCase


@attrs.frozen
class CaseResult:
    """The outcome of one test case."""

    case: TestCase
    passed: bool
    message: str

    @property
    def where(self) -> str:
        return f"{self.case.file}:{self.case.span.line}"


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(actual, dict):  # a per-member value: {member id: value}
        return isinstance(expected, dict) and {str(k) for k in expected} == {str(k) for k in actual} and all(
            _same(expected[k], actual[k] if k in actual else actual.get(str(k))) for k in expected)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if actual is None or expected is None:
        return expected is actual
    if isinstance(actual, Decimal | int):
        try:
            return Decimal(str(expected)) == Decimal(actual)
        except (InvalidOperation, ValueError):
            return False
    return str(expected) == str(encode(actual))


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_show(x)}" for k, x in v.items()) + "}"
    if isinstance(v, bool) or v is None:
        return str(v).lower()
    return str(encode(v))


def run_case(engine: Engine, case: TestCase, *, quick: bool = False) -> CaseResult:
    """Run one case and compare every expectation; the message lists each difference.

    With quick=True the decision is made without a trace and a failure is not explained
    (the mutation check and rule coverage run cases thousands of times).
    """
    if case.where_only:
        return _where_case(engine, case)
    strict = case.expect_error is not None and case.expect_error.get("kind") == "evaluation"
    try:
        decision = engine.decide(case.household, case.on, trace=not quick, strict=strict,  # type: ignore[arg-type]
                                 complete=case.complete)
    except InputError as e:
        return _expected_error(case, "input", e.problems[0].path if e.problems else None, e,
                               [p.path for p in e.problems])
    except EvaluationError as e:
        return _expected_error(case, "evaluation", e.path, e, [])
    if case.expect_error is not None:
        kind_word = _an(case.expect_error.get("kind"))
        return CaseResult(case, False, (_("expected {kind_word} error, but a decision was made:\n",
                                         kind_word=kind_word) + _summary(decision)))
    diffs: list[str] = []
    programs_differing: list[str] = []
    if any(k.startswith(WHERE_PREFIX) for k in case.expect):
        where = _where_case(engine, case)
        if not where.passed:
            diffs.append(where.message)
    for key, expected in case.expect.items():
        if key.startswith(WHERE_PREFIX):
            continue
        program, _sep, name = key.partition(".")
        record_id = None
        if program.endswith("]") and "[" in program:
            program, _sep2, record_id = program[:-1].partition("[")
        if program not in decision.programs:
            diffs.append(_("{key}: unknown program '{program}' (known: {programs})",
                           key=key, program=program, programs=', '.join(decision.programs)))
            continue
        pd: Any = decision.programs[program]
        if record_id is not None:
            found = next((r for r in pd.members or () if r.id == record_id or str(r.index) == record_id), None)
            if found is None:
                diffs.append(_("{key}: {program} has no per-member result for '{record_id}'",
                               key=key, program=program, record_id=record_id))
                continue
            pd = found
        if not name or record_id is not None:
            if name:
                diffs.append(_("{key}: per-member results hold eligible, amount and tier only", key=key))
                continue
            if not isinstance(expected, dict):
                expected = {"eligible": expected}
            for field, want in expected.items():
                if field not in ("eligible", "amount", "tier", "unknown"):
                    diffs.append(_("{key}.{field}: expect only eligible, amount, tier and unknown here; write "
                                     "'{program}.{field}: ...' for a rule or computed value",
                                   key=key, field=field, program=program))
                    continue
                got = getattr(pd, field)
                if field == "unknown":  # the unknown facts the outcome waits on, in any order
                    wanted = sorted(str(x) for x in want) if isinstance(want, list) else [str(want)]
                    if wanted != sorted(got):
                        diffs.append(_("{key}.unknown: expected {want}, got {got}", key=key,
                                       want=", ".join(wanted) or _("none"), got=", ".join(sorted(got)) or _("none")))
                        programs_differing.append(program)
                    continue
                if field == "eligible" and want == "unknown":  # undetermined: it waits on unknown facts
                    got = "unknown" if got is None and pd.unknown else got
                if getattr(pd, "error", None) is not None:
                    diffs.append(_("{key}.{field}: expected {want}, but the program could not be decided: {error}",
                                   key=key, field=field, want=_show(want), error=pd.error))
                    continue
                if not _same(want, got):
                    diffs.append(_("{key}.{field}: expected {want}, got {got}",
                                   key=key, field=field, want=_show(want), got=_show(got)))
                    programs_differing.append(program)
            continue
        try:
            got = decision.value(program, name)
        except KeyError:
            diffs.append(_("{key}: program '{program}' has no rule or value '{name}'",
                           key=key, program=program, name=name))
            continue
        except EvaluationError as e:
            diffs.append(_("{key}: could not be evaluated: {e}", key=key, e=e))
            continue
        if not _same(expected, got):
            diffs.append(_("{key}: expected {expected}, got {got}",
                           key=key, expected=_show(expected), got=_show(got)))
            programs_differing.append(program)
    if not diffs:
        return CaseResult(case, True, "")
    msg = "\n".join(diffs)
    for program in dict.fromkeys(programs_differing if not quick else ()):
        sub = engine.decide(case.household, case.on, [program])  # type: ignore[arg-type]
        msg += "\n\n" + _("trace of {program}:", program=program) + "\n" + sub.explain(lang=current_language())
    return CaseResult(case, False, msg)


def _where_case(engine: Engine, case: TestCase) -> CaseResult:
    """Run `Engine.where_to_apply` and compare each `where_to_apply.<program>` expectation."""
    try:
        w = engine.where_to_apply(case.household, case.on)  # type: ignore[arg-type]
    except InputError as e:
        if not case.where_only:
            return CaseResult(case, False, f"where_to_apply: unexpected input error:\n{e}")
        return _expected_error(case, "input", e.problems[0].path if e.problems else None, e,
                               [p.path for p in e.problems])
    except EvaluationError as e:
        if not case.where_only:
            return CaseResult(case, False, f"where_to_apply: unexpected evaluation error:\n{e}")
        return _expected_error(case, "evaluation", e.path, e, [])
    if case.where_only and case.expect_error is not None:
        return CaseResult(case, False, f"expected {_an(case.expect_error.get('kind'))} error, but where_to_apply "
                          "answered:\n" + w.explain("en"))
    diffs = []
    for key, want in case.expect.items():
        if not key.startswith(WHERE_PREFIX):
            continue
        program = key[len(WHERE_PREFIX):]
        got = w.programs.get(program)
        if got is None:
            diffs.append(f"{key}: no where_to_apply rule covers '{program}'")
            continue
        spec: dict[str, Any] = want if isinstance(want, dict) else {"offices": want}
        offices = sorted(o.code if o.kind == "street_office" else f"{o.kind}:{o.code}" for o in got.offices)
        if "offices" in spec and sorted(str(x) for x in spec["offices"] or []) != offices:
            diffs.append(f"{key}: expected offices {_list(spec['offices'])}, got {_list(offices)}")
        status = spec.get("status", None if "offices" not in spec or not isinstance(want, list)
                          else ("determined" if want else "no_office"))
        if status is not None and status != got.status:
            diffs.append(f"{key}: expected {status}, got {got.status}"
                         + (f" (waiting on {', '.join(got.unknown)})" if got.unknown else ""))
        if "unknown" in spec and sorted(str(x) for x in spec["unknown"] or []) != list(got.unknown):
            diffs.append(f"{key}.unknown: expected {_list(spec['unknown'])}, got {_list(got.unknown)}")
    if not diffs:
        return CaseResult(case, True, "")
    return CaseResult(case, False, "\n".join(diffs) + "\n\nwhere to apply:\n" + w.explain("en"))


def _list(items: Any) -> str:
    return ", ".join(sorted(str(x) for x in items or [])) or "none"


def _expected_error(case: TestCase, kind: str, path: str | None, exc: Exception, paths: list[str]) -> CaseResult:
    want = case.expect_error
    if want is None:
        return CaseResult(case, False, _("unexpected {kind} error:\n{exc}", kind=_(_KIND_NAMES[kind]), exc=exc))
    if want.get("kind") != kind:
        return CaseResult(case, False, _("expected {v} error, got {kind} error:\n{exc}",
                                         v=_an(want.get('kind')), kind=_an(kind), exc=exc))
    if "path" in want and want["path"] not in paths and want["path"] != path:
        return CaseResult(case, False, _("expected an error at {want}, got:\n{exc}",
                                         want=want['path'], exc=exc))
    if "message" in want and want["message"] not in str(exc):
        return CaseResult(case, False, _("expected the error to say {want!r}, got:\n{exc}",
                                         want=want['message'], exc=exc))
    return CaseResult(case, True, "")


#: The kinds of error a decision can end with.
_KIND_NAMES = {"input": N_("input"), "evaluation": N_("evaluation")}
#: The kinds of error a case may expect, with their article.
_KINDS = {"input": N_("an input"), "evaluation": N_("an evaluation"), "unknown": N_("an unknown")}


def _an(word: str | None) -> str:
    word = word or "unknown"
    return _(_KINDS[word]) if word in _KINDS else ("an " if word[:1] in "aeiou" else "a ") + word


def _summary(decision: Decision) -> str:
    return "\n".join(f"  {n}: eligible={_show(p.eligible)} amount={_show(p.amount)}"
                     + (f" unknown={', '.join(p.unknown)}" if p.unknown else "")
                     for n, p in decision.programs.items())


def check_households(facts: Facts, cases: Iterable[TestCase]) -> list[Diagnostic]:
    """Validate the household of each case against the facts vocabulary, as `decide` would read it.

    Each problem (an unknown field, a bad value, a missing list) is an error at the case's
    position, naming the case and the field's path. A case that expects an input error
    (`expect_error: {kind: input}`) is not checked: its household is meant to be invalid.
    """
    validator = Validator(facts)
    out: list[Diagnostic] = []
    for case in cases:
        if case.expect_error is not None and case.expect_error.get("kind") == "input":
            continue
        try:
            with decimal.localcontext(ENGINE_CONTEXT):
                validator.read(case.household, complete=case.complete, on=case.on)
        except InputError as e:
            name = readable(case.name, 80)
            out.extend(Diagnostic(case.span, "invalid-household",
                                  _("test case '{name}': household: {path}: {message}",
                                    name=name, path=p.path, message=p.message),
                                  _("fix the household, or expect the error with "
                                    "`expect_error: {{kind: input, path: {path}}}`", path=p.path)) for p in e.problems)
    return out


def run_tests(engine: Engine, name_filter: str | None = None) -> Iterator[CaseResult]:
    """Run every test case of the engine's policy set, in file order."""
    for case in engine.model.tests:
        if name_filter and name_filter not in case.name:
            continue
        yield run_case(engine, case)


def run_folder(path: str | Path | None = None, jurisdiction: str | None = None) -> list[CaseResult]:
    """Load a policy folder, run its test cases and properties; raise PolicyTestFailure on any failure."""
    engine = load(path, jurisdiction=jurisdiction)
    results = list(run_tests(engine))
    failed = [f"{r.where}: {r.case.name}\n{r.message}" for r in results if not r.passed]
    if engine.model.properties:  # hypothesis is needed only when the set declares properties
        from eligibility.testing.properties import run_properties

        failed += [f"{r.where}: {r.prop.name}\n{r.message}" for r in run_properties(engine) if not r.passed]
    if failed:
        raise PolicyTestFailure("\n\n".join(failed))
    return results


__all__ = ["CaseResult", "check_households", "run_case", "run_folder", "run_tests"]
