"""The columnar backend decides every household exactly as the row engine does (differential tests)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

pytest.importorskip("numpy")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import eligibility  # noqa: E402
from eligibility.engine.columnar import _outcome, backend, decide_columns  # noqa: E402
from eligibility.scale.stream import decide_many  # noqa: E402
from eligibility.strategies import households  # noqa: E402

ON = dt.date(2026, 3, 1)


@pytest.fixture(scope="module")
def engine() -> eligibility.Engine:
    return eligibility.load()


def _row(engine: eligibility.Engine, h: Any, on: dt.date, names: tuple[str, ...]) -> dict[str, Any] | None:
    try:
        d = engine.decide(h, on, names, trace=False)
    except eligibility.InputError:
        return None
    return {n: _outcome(p) for n, p in d.programs.items()}


def _same(engine: eligibility.Engine, hs: list[Any], on: dt.date, names: tuple[str, ...] | None = None) -> Any:
    names = names or engine.programs
    res = decide_columns(engine, hs, on, names)
    for i, h in enumerate(hs):
        assert res.outcomes[i] == _row(engine, h, on, names), (i, h)
    return res


def _cases(engine: eligibility.Engine) -> list[Any]:
    return [c for c in engine.model.tests if not c.where_only and not c.complete]


def test_every_bundled_program_is_columnar_or_says_why(engine: eligibility.Engine) -> None:
    b = backend(engine)
    assert {"dibao", "marginal", "tekun"} <= set(b.supported)
    assert set(b.supported) | set(b.unsupported) == set(engine.programs)
    for reason in b.unsupported.values():  # the construct and the policy file:line
        assert ".yaml:" in reason


def test_yaml_cases_decide_the_same(engine: eligibility.Engine) -> None:
    """Every case of policies/tests (the boundary cases), grouped by date, all programs."""
    by_day: dict[dt.date, list[Any]] = {}
    for case in _cases(engine):
        by_day.setdefault(case.on, []).append(case.household)
    columnar = 0
    for on, hs in by_day.items():
        _same(engine, hs, on)
        columnar += _same(engine, hs, on, ("dibao", "marginal", "tekun")).columnar
    assert columnar > len(_cases(engine)) * 9 // 10  # the columns decided them, not the fallback


@pytest.mark.parametrize("jurisdiction", ["440105", "440114"])
def test_other_jurisdictions_decide_the_same(jurisdiction: str) -> None:
    engine = eligibility.load(jurisdiction=jurisdiction)
    cases = [c for c in _cases(engine) if c.on == ON][:40] or _cases(engine)[:40]
    for case in cases:
        _same(engine, [case.household], case.on)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_generated_households_near_thresholds_decide_the_same(engine: eligibility.Engine, data: Any) -> None:
    on = data.draw(st.sampled_from([ON, dt.date(2025, 7, 1), dt.date(2024, 2, 29)]))
    near = data.draw(st.sampled_from([{"dibao": "standard"}, {"tekun": "published_basic_living_standard"}, {}]))
    hs = data.draw(st.lists(households(engine, on=on, near=near), min_size=1, max_size=12))
    _same(engine, hs, on)


def test_unknown_and_invalid_households_fall_back_and_match(engine: eligibility.Engine) -> None:
    base = copy.deepcopy(_cases(engine)[0].household)
    on = _cases(engine)[0].on
    unknown = copy.deepcopy(base)
    unknown["assessed_monthly_income"] = {"unknown": True}
    missing = copy.deepcopy(base)
    missing.pop("assessed_monthly_income", None)
    invalid = copy.deepcopy(base)
    invalid["financial_assets"] = "12.345"
    res = decide_columns(engine, [base, unknown, missing, invalid], on)
    assert res.fallback["unknown facts"] == 2
    assert res.fallback["input error"] == 1
    assert 3 in res.errors and res.outcomes[3] is None
    for i, h in enumerate([base, unknown, missing]):
        assert res.outcomes[i] == _row(engine, h, on, engine.programs)
    assert any(o.unknown for o in (res.outcomes[1] or {}).values())


def test_an_unsupported_construct_is_reported_and_decided_by_the_row_engine(tmp_path: Any) -> None:
    """A text function the columns do not have: the program falls back, with the construct and file:line."""
    import shutil
    root = tmp_path / "policies"
    shutil.copytree(eligibility.load().root, root)  # type: ignore[arg-type]
    path = root / "national" / "tekun.yaml"
    text = path.read_text(encoding="utf-8")
    marker = "    expr: age(member.birth_date)\n"
    assert marker in text
    # Two `for` clauses in one generator: the columns do not have them (the answer does not change).
    patched = text.replace(marker, "    expr: age(member.birth_date) + count(a for a in household.members "
                           "for b in household.members) * 0\n", 1)
    path.write_text(patched, encoding="utf-8")
    engine = eligibility.load(root)
    b = backend(engine)
    assert "tekun" in b.unsupported
    assert "more than one `for`" in b.unsupported["tekun"] and "tekun.yaml:" in b.unsupported["tekun"]
    cases = [c.household for c in _cases(engine) if c.on == ON][:20]
    res = _same(engine, cases, ON, ("dibao", "tekun"))
    assert any(k.startswith("programs not supported") for k in res.fallback)


def test_batch_columnar_backend_writes_the_same_results(engine: eligibility.Engine) -> None:
    records: list[Any] = [{"id": str(i), "household": c.household, "on": c.on.isoformat()}
                          for i, c in enumerate(_cases(engine)[:60])]
    records += ["not json", {"household": {"members": "x"}}, {"id": "x"}]
    row = [r.to_json() for r in decide_many(engine, records, on=ON)]
    col = [r.to_json() for r in decide_many(engine, records, on=ON, backend="columnar")]
    assert col == row
