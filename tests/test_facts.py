"""Household facts are validated before evaluation: every problem with its field path and kind."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import eligibility
from eligibility import InputError

ROOT = Path(__file__).parent.parent
FAMILY = json.loads((ROOT / "examples" / "huadu-family.json").read_text(encoding="utf-8"))
ON = "2024-09-01"
KINDS = {"missing", "type", "format", "range", "precision", "limit", "duplicate", "unknown"}


def family(**changes: Any) -> dict[str, Any]:
    """Return a fresh copy of the README family with top-level fields replaced."""
    h = copy.deepcopy(FAMILY)
    h.update(changes)
    return h


def rejected(engine: eligibility.Engine, household: object) -> InputError:
    """Decide and return the InputError that must be raised."""
    with pytest.raises(InputError) as info:
        engine.decide(household, on=ON, complete=True)  # type: ignore[arg-type]
    err = info.value
    assert err.problems, "an InputError lists at least one problem"
    for p in err.problems:
        assert p.kind in KINDS, f"undocumented kind {p.kind!r}"
    return err


def problem_at(err: InputError, path: str) -> eligibility.InputProblem:
    """Return the problem reported at `path`."""
    found = [p for p in err.problems if p.path == path]
    assert found, f"no problem at {path}; got {[str(p) for p in err.problems]}"
    return found[0]


def input_value(decision: eligibility.Decision, path: str) -> Any:
    """Return the traced value of the fact at `path` (e.g. household.assessed_monthly_income)."""
    for step in decision.to_json()["programs"]["dibao"]["steps"]:
        for inp in step["inputs"]:
            if inp.get("path") == path:
                return inp["value"]
    raise AssertionError(f"{path} is not in the trace")


# ------------------------------------------------------------------ money


@pytest.mark.parametrize("text", ["abc", "1,000", "¥100", "100元", "1 000", "1e3", "+100", ""])
def test_money_as_free_text_is_a_format_error(engine: eligibility.Engine, text: str) -> None:
    """An amount written with letters, separators, currency signs or units is refused at its path."""
    err = rejected(engine, family(assessed_monthly_income=text))
    p = problem_at(err, "assessed_monthly_income")
    assert p.kind == "format"
    assert "1234.50" in p.message, "the message shows the accepted form"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), Decimal("NaN"),
                                   Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity"),
                                   "Infinity", "NaN", "-inf"],
                         ids=repr)
def test_non_finite_money_is_refused(engine: eligibility.Engine, value: object) -> None:
    """NaN, sNaN and infinities in any representation are refused, never compared."""
    err = rejected(engine, family(assessed_monthly_income=value))
    assert problem_at(err, "assessed_monthly_income").kind in ("range", "format")


@pytest.mark.parametrize("value", [-1, Decimal("-0.01"), -0.5], ids=repr)
def test_negative_income_is_a_range_error(engine: eligibility.Engine, value: object) -> None:
    """A negative income is refused as out of range and the message says it is negative."""
    err = rejected(engine, family(assessed_monthly_income=value))
    p = problem_at(err, "assessed_monthly_income")
    assert p.kind == "range"
    assert "negative" in p.message


@pytest.mark.parametrize("value", [Decimal("2400.001"), 2400.001], ids=repr)
def test_three_decimals_is_a_precision_error(engine: eligibility.Engine, value: object) -> None:
    """An amount with fractions of a fen is refused, not rounded."""
    err = rejected(engine, family(assessed_monthly_income=value))
    assert problem_at(err, "assessed_monthly_income").kind == "precision"


@pytest.mark.parametrize("value", [10**15, Decimal("1E+15"), 1e15, 1e300, 10**400], ids=repr)
def test_amounts_from_ten_to_the_fifteen_are_refused(engine: eligibility.Engine, value: object) -> None:
    """Amounts of 10^15 yuan or more are refused as over the limit."""
    err = rejected(engine, family(assessed_monthly_income=value))
    assert problem_at(err, "assessed_monthly_income").kind == "limit"


def test_largest_amount_below_the_limit_is_accepted(engine: eligibility.Engine) -> None:
    """999,999,999,999,999.99 yuan is still an amount (and makes the family not eligible)."""
    d = engine.decide(family(assessed_monthly_income="999999999999999.99"), on=ON)
    assert d.programs["dibao"].eligible is False


@pytest.mark.parametrize("value", [True, False])
def test_bool_as_money_is_a_type_error(engine: eligibility.Engine, value: bool) -> None:
    """true/false is not an amount, although bool is an int in Python."""
    err = rejected(engine, family(financial_assets=value))
    assert problem_at(err, "financial_assets").kind == "type"


@pytest.mark.parametrize(("text", "kind", "says"), [
    ("-1.00", "range", "negative"),
    ("2400.001", "precision", "decimal places"),
    ("1000000000000000", "limit", "10^15"),
])
def test_money_strings_say_what_is_wrong(engine: eligibility.Engine, text: str, kind: str, says: str) -> None:
    """A negative, over-precise or too large amount written as text gets a message naming that problem."""
    err = rejected(engine, family(assessed_monthly_income=text))
    p = problem_at(err, "assessed_monthly_income")
    assert p.kind == kind
    assert says in p.message


@pytest.mark.parametrize("text", ["１２３", "١٢٣", "１２３.４５"])
def test_money_string_digits_are_ascii(engine: eligibility.Engine, text: str) -> None:
    """Only the canonical ASCII form "1234.50" is read as money; other digit scripts are refused."""
    err = rejected(engine, family(assessed_monthly_income=text))
    assert problem_at(err, "assessed_monthly_income").kind == "format"


@pytest.mark.parametrize(("value", "traced"), [
    (2400, "2400.00"),
    (Decimal("2400.5"), "2400.50"),
    ("1234.50", "1234.50"),
    ("1234", "1234.00"),
    (1234.5, "1234.50"),
    (1234.56, "1234.56"),
    (0.1, "0.10"),
    (0, "0.00"),
], ids=repr)
def test_accepted_money_forms_keep_their_exact_value(engine: eligibility.Engine, value: object,
                                                     traced: str) -> None:
    """int, Decimal, canonical strings and floats (by their exact repr) are read as the amount they show."""
    d = engine.decide(family(assessed_monthly_income=value), on=ON)
    assert input_value(d, "household.assessed_monthly_income") == traced


def test_float_money_is_read_by_repr_not_binary_value(engine: eligibility.Engine) -> None:
    """0.1 + 0.2 (0.30000000000000004) has too many decimals and is refused, not silently rounded."""
    err = rejected(engine, family(financial_assets=0.1 + 0.2))
    assert problem_at(err, "financial_assets").kind == "precision"


# ------------------------------------------------------------------ required, unknown, lists


def test_missing_birth_date_is_reported_at_its_member(engine: eligibility.Engine) -> None:
    """A member without a birth date gives `members[1].birth_date: missing`; it is never defaulted."""
    h = family()
    del h["members"][1]["birth_date"]
    err = rejected(engine, h)
    assert problem_at(err, "members[1].birth_date").kind == "missing"
    assert "members[1].birth_date: missing" in str(err)


@pytest.mark.parametrize("field", ["assessed_monthly_income", "financial_assets"])
def test_required_money_null_or_absent_is_missing(engine: eligibility.Engine, field: str) -> None:
    """Required assessment results are never defaulted, whether absent or null."""
    for h in (family(**{field: None}), {k: v for k, v in family().items() if k != field}):
        err = rejected(engine, h)
        assert problem_at(err, field).kind == "missing"


def test_unknown_field_is_rejected_with_a_suggestion(engine: eligibility.Engine) -> None:
    """A misspelt field name is an `unknown` problem that suggests the right name."""
    h = family()
    h["assesed_monthly_income"] = h.pop("assessed_monthly_income")
    err = rejected(engine, h)
    p = problem_at(err, "assesed_monthly_income")
    assert p.kind == "unknown"
    assert "did you mean 'assessed_monthly_income'" in p.message


def test_unknown_member_field_is_rejected_with_a_suggestion(engine: eligibility.Engine) -> None:
    """A misspelt member field is reported at the member with a suggestion."""
    h = family()
    h["members"][0]["guangdong_hukuo"] = h["members"][0].pop("guangdong_hukou")
    err = rejected(engine, h)
    p = problem_at(err, "members[0].guangdong_hukuo")
    assert p.kind == "unknown"
    assert "did you mean 'guangdong_hukou'" in p.message


def test_empty_members_list_is_refused(engine: eligibility.Engine) -> None:
    """A household with no members cannot be decided."""
    err = rejected(engine, family(members=[]))
    assert problem_at(err, "members").kind in ("missing", "limit")


@pytest.mark.parametrize("members", [{"id": "m1"}, "m1,m2", 3], ids=["mapping", "text", "number"])
def test_members_that_are_not_a_list_are_a_type_error(engine: eligibility.Engine, members: object) -> None:
    """`members` must be a list of member objects."""
    err = rejected(engine, family(members=members))
    assert problem_at(err, "members").kind == "type"


@pytest.mark.parametrize("member", ["m2", ["m2"], 2, None], ids=repr)
def test_member_that_is_not_an_object_is_a_type_error(engine: eligibility.Engine, member: object) -> None:
    """Each member must be an object; the error names its index."""
    h = family()
    h["members"][1] = member
    err = rejected(engine, h)
    assert problem_at(err, "members[1]").kind == "type"


def test_duplicate_member_ids_are_refused(engine: eligibility.Engine) -> None:
    """Two members with one id give a `duplicate` problem naming both positions."""
    h = family()
    h["members"][2]["id"] = "m1"
    err = rejected(engine, h)
    p = problem_at(err, "members[2].id")
    assert p.kind == "duplicate"
    assert "members[0]" in p.message


def test_empty_member_id_is_refused(engine: eligibility.Engine) -> None:
    """A member id must not be empty."""
    h = family()
    h["members"][0]["id"] = ""
    err = rejected(engine, h)
    assert problem_at(err, "members[0].id").kind == "format"


# ------------------------------------------------------------------ bool, date, enum, text


@pytest.mark.parametrize("value", ["false", "true", 0, 1, "否", "是", None], ids=repr)
def test_bool_field_accepts_only_true_or_false(engine: eligibility.Engine, value: object) -> None:
    """`"false"`, 0 or "否" are never read as false: only JSON true/false are booleans."""
    h = family()
    h["members"][0]["guangdong_hukou"] = value
    err = rejected(engine, h)
    assert problem_at(err, "members[0].guangdong_hukou").kind in (("missing",) if value is None else ("type",))


def test_bool_in_a_vehicle_accepts_only_true_or_false(engine: eligibility.Engine) -> None:
    """An optional bool in a list record is checked the same way."""
    h = family(vehicles=[{"kind": "car", "sole_livelihood": "否"}])
    err = rejected(engine, h)
    assert problem_at(err, "vehicles[0].sole_livelihood").kind == "type"


@pytest.mark.parametrize("value", ["2024-02-30", "2023-02-29", "1984-13-01", "1984-00-10"])
def test_impossible_calendar_date_is_a_format_error(engine: eligibility.Engine, value: str) -> None:
    """A birth date that is not on the calendar is refused at its path."""
    h = family()
    h["members"][0]["birth_date"] = value
    err = rejected(engine, h)
    assert problem_at(err, "members[0].birth_date").kind == "format"


@pytest.mark.parametrize("value", ["12/03/1984", "1984-3-12", "19840312", 19840312, "1984-03-12T00:00:00"], ids=repr)
def test_date_in_another_form_is_refused(engine: eligibility.Engine, value: object) -> None:
    """Dates are `YYYY-MM-DD` only."""
    h = family()
    h["members"][0]["birth_date"] = value
    err = rejected(engine, h)
    assert problem_at(err, "members[0].birth_date").kind in ("format", "type")


def test_datetime_instead_of_date_is_a_type_error(engine: eligibility.Engine) -> None:
    """A datetime is not silently truncated to a date."""
    h = family()
    h["members"][0]["birth_date"] = dt.datetime(1984, 3, 12, 8, 30)
    err = rejected(engine, h)
    assert problem_at(err, "members[0].birth_date").kind == "type"


def test_date_object_is_accepted(engine: eligibility.Engine) -> None:
    """A datetime.date is as good as its ISO string."""
    h = family()
    h["members"][0]["birth_date"] = dt.date(1984, 3, 12)
    assert engine.decide(h, on=ON).programs["dibao"].amount == Decimal("1446.00")


@pytest.mark.parametrize(("field", "typo", "meant"), [("sex", "femal", "female"), ("relation", "spose", "spouse")])
def test_enum_typo_suggests_the_value(engine: eligibility.Engine, field: str, typo: str, meant: str) -> None:
    """A misspelt enum value is refused with a did-you-mean suggestion."""
    h = family()
    h["members"][0][field] = typo
    err = rejected(engine, h)
    p = problem_at(err, f"members[0].{field}")
    assert p.kind == "format"
    assert f"did you mean '{meant}'" in p.message


def test_enum_value_of_wrong_type_is_a_type_error(engine: eligibility.Engine) -> None:
    """An enum given as a number is a type error that lists the values."""
    h = family(vehicles=[{"kind": 1}])
    err = rejected(engine, h)
    p = problem_at(err, "vehicles[0].kind")
    assert p.kind == "type"
    assert "car" in p.message


def test_text_over_256_characters_is_over_the_limit(engine: eligibility.Engine) -> None:
    """A 257-character member id is refused; 256 characters are accepted."""
    h = family()
    h["members"][0]["id"] = "x" * 257
    err = rejected(engine, h)
    assert problem_at(err, "members[0].id").kind == "limit"
    h["members"][0]["id"] = "x" * 256
    assert engine.decide(h, on=ON).programs["dibao"].eligible is True


# ------------------------------------------------------------------ integers


@pytest.mark.parametrize(("value", "kind"), [(True, "type"), (1.0, "type"), ("2", "type"), (5, "range"),
                                             (-1, "range"), (10**5000, "limit")],
                         ids=["true", "1.0", "'2'", "5", "-1", "10**5000"])
def test_disability_grade_is_an_int_from_0_to_4(engine: eligibility.Engine, value: object, kind: str) -> None:
    """disability_grade accepts a whole number 0-4, never a bool, float or text."""
    h = family()
    h["members"][0]["disability_grade"] = value
    err = rejected(engine, h)
    assert problem_at(err, "members[0].disability_grade").kind == kind


def test_negative_housing_units_are_out_of_range(engine: eligibility.Engine) -> None:
    """A negative count of residential units is refused."""
    err = rejected(engine, family(residential_units=-1))
    assert problem_at(err, "residential_units").kind == "range"


# ------------------------------------------------------------------ limits and garbage


def test_1001_members_are_over_the_limit(engine: eligibility.Engine) -> None:
    """More than 1,000 members is refused with the limit in the message."""
    member = FAMILY["members"][0]
    err = rejected(engine, family(members=[dict(member, id=f"m{i}") for i in range(1001)]))
    p = problem_at(err, "members")
    assert p.kind == "limit"
    assert "1000" in p.message


def test_1000_members_are_accepted(engine: eligibility.Engine) -> None:
    """The documented limit itself, 1,000 members, is accepted."""
    member = FAMILY["members"][0]
    d = engine.decide(family(members=[dict(member, id=f"m{i}") for i in range(1000)]), on=ON)
    assert d.programs["dibao"].eligible is True


@pytest.mark.parametrize("where", ["money", "id", "key"])
def test_one_megabyte_string_gives_a_short_error(engine: eligibility.Engine, where: str) -> None:
    """A 1 MB string in a value or as a key is refused with a message of at most 2,000 characters."""
    big = "1" * 1_000_000
    h = family()
    if where == "money":
        h["assessed_monthly_income"] = big
    elif where == "id":
        h["members"][0]["id"] = big
    else:
        h[big] = 1
    err = rejected(engine, h)
    assert len(str(err)) <= 2000
    assert all(len(p.path) <= 300 and len(p.message) <= 2000 for p in err.problems)


@pytest.mark.parametrize("value", [[{"a": 1}], 42, "household", None], ids=repr)
def test_household_that_is_not_an_object_is_refused(engine: eligibility.Engine, value: object) -> None:
    """A household given as a list, number, text or null is a `household: type` problem."""
    err = rejected(engine, value)
    assert problem_at(err, "household").kind == "type"


def _deep_list(depth: int) -> list[Any]:
    root: list[Any] = []
    cur = root
    for _ in range(depth):
        nxt: list[Any] = []
        cur.append(nxt)
        cur = nxt
    return root


def _deep_dict(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    cur = root
    for _ in range(depth):
        cur["a"] = {}
        cur = cur["a"]
    return root


def _cycle() -> list[Any]:
    c: list[Any] = []
    c.append(c)
    return c


@pytest.mark.parametrize(("path", "put"), [
    ("assessed_monthly_income", lambda h, g: h.__setitem__("assessed_monthly_income", g)),
    ("vehicles[0]", lambda h, g: h.__setitem__("vehicles", g)),
    ("members[0].id", lambda h, g: h["members"][0].__setitem__("id", g)),
    ("members[1]", lambda h, g: h["members"].__setitem__(1, g)),
], ids=["money", "vehicles", "member-id", "member"])
@pytest.mark.parametrize("garbage", [_deep_list, _deep_dict, lambda _: _cycle()], ids=["list", "dict", "cycle"])
def test_deep_garbage_in_a_field_is_a_clean_input_error(
        engine: eligibility.Engine, path: str, put: Callable[[Any, Any], None],
        garbage: Callable[[int], Any]) -> None:
    """10,000-deep nesting or a cycle in a field gives an InputError, never a RecursionError."""
    g = garbage(10_000)
    if path == "vehicles[0]" and isinstance(g, dict):
        path = "vehicles"
    h = family()
    put(h, g)
    err = rejected(engine, h)
    assert any(p.path == path or p.path.startswith(path) for p in err.problems), [str(p) for p in err.problems]


def test_deep_garbage_under_an_unknown_key_is_a_clean_input_error(engine: eligibility.Engine) -> None:
    """An unknown key holding 10,000-deep nesting is reported as unknown, without recursion."""
    err = rejected(engine, family(attachments=_deep_dict(10_000)))
    assert problem_at(err, "attachments").kind == "unknown"


# ------------------------------------------------------------------ all at once, error type


def test_every_problem_is_listed_in_one_error(engine: eligibility.Engine) -> None:
    """A household with four problems gets one InputError listing all four."""
    h = family(assessed_monthly_income="abc", colour="red")
    del h["members"][1]["birth_date"]
    h["members"][0]["guangdong_hukou"] = "否"
    err = rejected(engine, h)
    got = {(p.path, p.kind) for p in err.problems}
    assert got == {("assessed_monthly_income", "format"), ("colour", "unknown"),
                   ("members[1].birth_date", "missing"), ("members[0].guangdong_hukou", "type")}
    assert "4 problems" in str(err)
    for p in err.problems:
        assert p.path in str(err)


def test_input_error_is_a_value_error_with_path_and_kind(engine: eligibility.Engine) -> None:
    """InputError can be caught as ValueError and carries the first problem's path and kind."""
    assert issubclass(InputError, ValueError)
    assert issubclass(InputError, eligibility.EligibilityError)
    with pytest.raises(ValueError) as info:
        engine.decide(family(assessed_monthly_income=-5), on=ON)
    err = info.value
    assert isinstance(err, InputError)
    assert (err.path, err.kind) == ("assessed_monthly_income", "range")
    assert err.to_json() == [{"path": p.path, "kind": p.kind, "message": p.message} for p in err.problems]


def test_invalid_household_never_yields_not_eligible(engine: eligibility.Engine) -> None:
    """Bad data raises; it is never turned into a 'not eligible' decision."""
    h = family()
    h["members"][0]["guangdong_hukou"] = "false"
    for m in h["members"][1:]:
        m["guangdong_hukou"] = False
    rejected(engine, h)


# ------------------------------------------------------------------ defaults


def test_optional_fields_take_their_declared_default_and_are_listed(engine: eligibility.Engine) -> None:
    """Absent optional scalar fields take the facts default and are listed in `defaulted`."""
    d = engine.decide(family(), on=ON)
    trace = d.to_json()
    defaulted = trace["defaulted"]
    for path in ("exempt_inherited_houses", "nonresidential_units", "members[0].disability_grade",
                 "members[0].disability_type", "members[2].mente_category"):
        assert path in defaulted
    assert "residential_units" not in defaulted  # given by the family
    assert "members[1].disability_grade" not in defaulted
    assert input_value(d, "household.exempt_inherited_houses") == 0
    steps = {s["name"]: s for s in trace["programs"]["dibao"]["steps"]}
    flags = {i["path"]: i["defaulted"] for i in steps["counted_residential_units"]["inputs"]}
    assert flags == {"household.residential_units": False, "household.exempt_inherited_houses": True}


def test_null_optional_field_takes_its_default(engine: eligibility.Engine) -> None:
    """An optional field given as null is treated as absent and listed in `defaulted`."""
    d = engine.decide(family(residential_units=None), on=ON)
    assert "residential_units" in d.to_json()["defaulted"]
    assert input_value(d, "household.residential_units") == 0


def test_absent_optional_list_is_listed_as_defaulted(engine: eligibility.Engine) -> None:
    """An absent list such as business_registrations is taken as empty and the trace says so."""
    h = family()
    assert "business_registrations" not in h
    assert "business_registrations" in engine.decide(h, on=ON).to_json()["defaulted"]


def test_required_field_is_never_listed_as_defaulted(engine: eligibility.Engine) -> None:
    """Required facts are never in `defaulted`: they were given, or the household was refused."""
    defaulted = engine.decide(family(), on=ON).to_json()["defaulted"]
    assert not {"assessed_monthly_income", "financial_assets", "members"} & set(defaulted)
    assert not [p for p in defaulted if p.endswith((".birth_date", ".id", ".sex", ".guangdong_hukou"))]


@pytest.mark.parametrize("amount", [2400.0, 2400.5, 0.07, 1282.01])
def test_money_as_a_float_takes_the_fast_path_and_decides_as_the_text(engine: eligibility.Engine,
                                                                      amount: float) -> None:
    """A float whose repr is a plain amount is read by the fast validator, exactly as the same amount in text."""
    as_float = family()
    as_float["assessed_monthly_income"] = amount
    as_text = family()
    as_text["assessed_monthly_income"] = repr(amount)
    miss: list[object] = []
    values = engine.validator.fast(as_float, miss)  # raises the fast path's miss on any doubt
    assert values["assessed_monthly_income"] == Decimal(repr(amount))
    a, b = engine.decide(as_float, on=ON).to_json(), engine.decide(as_text, on=ON).to_json()
    assert a == b


@pytest.mark.parametrize("amount", [1e-05, 12.345, -5.0, float("nan"), 1e16])
def test_a_float_that_is_not_a_plain_amount_is_refused_with_its_path(engine: eligibility.Engine,
                                                                    amount: float) -> None:
    """Floats with more than two decimals, negative, not finite or too large are input errors, never rounded."""
    h = family()
    h["assessed_monthly_income"] = amount
    err = rejected(engine, h)
    assert problem_at(err, "assessed_monthly_income") is not None


@pytest.mark.parametrize("amount", [Decimal("2400"), Decimal("2400.50"), Decimal("0.07"), Decimal("-0"), 2400])
def test_money_as_a_decimal_or_int_takes_the_fast_path_and_decides_as_the_text(engine: eligibility.Engine,
                                                                              amount: object) -> None:
    """A Decimal or int amount is read by the fast validator, exactly as the same amount in text."""
    given = family()
    given["assessed_monthly_income"] = amount
    as_text = family()
    as_text["assessed_monthly_income"] = str(Decimal(amount) + 0)
    values = engine.validator.fast(given, [])  # raises the fast path's miss on any doubt
    assert str(values["assessed_monthly_income"]) == as_text["assessed_monthly_income"]
    assert engine.decide(given, on=ON).to_json() == engine.decide(as_text, on=ON).to_json()


def test_defaulted_paths_follow_the_vocabulary_whatever_the_order_given(engine: eligibility.Engine) -> None:
    """The defaulted facts are listed in the vocabulary's order, a list's records at the list's place."""
    h = family()
    h["members"][0]["disability_type"] = None  # given as null: defaulted like an absent one
    shuffled = {k: h[k] for k in reversed(list(h))}
    a = engine.decide(h, on=ON, trace=False).defaulted
    b = engine.decide(shuffled, on=ON, trace=False).defaulted
    full = engine.validator.read(h, complete=False).defaulted
    assert list(a) == list(b) == list(full)
    assert "members[0].disability_type" in a
