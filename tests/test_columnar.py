"""The columnar backend decides every household exactly as the row engine does (differential tests)."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("numpy")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eligibility
from eligibility.engine.columnar import _outcome, backend, decide_columns
from eligibility.scale.stream import decide_many
from eligibility.strategies import households

ON = dt.date(2026, 3, 1)
ROOT_EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


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
    assert "columnar code failed" not in res.fallback  # the safety net is not what made them equal
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


def test_an_amount_rounded_to_the_yuan_is_the_same(tmp_path: Any) -> None:
    """An amount with its own rounding (to 1 yuan) reaches fen as the row engine's `_money` makes it."""
    import shutil
    root = tmp_path / "policies"
    shutil.copytree(eligibility.load().root, root)  # type: ignore[arg-type]
    path = root / "national" / "tekun.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.endswith("amount:\n  expr: basic_living_standard\n")
    path.write_text(text.replace("amount:\n  expr: basic_living_standard\n",
                                 "amount:\n  expr: basic_living_standard * 1.015\n  round: {to: 1, mode: half_up}\n"),
                    encoding="utf-8")
    engine = eligibility.load(root)
    cases = [c.household for c in _cases(engine) if c.on == ON]
    res = _same(engine, cases, ON, ("tekun",))
    assert res.columnar == len(cases)


def test_batch_columnar_backend_writes_the_same_results(engine: eligibility.Engine) -> None:
    records: list[Any] = [{"id": str(i), "household": c.household, "on": c.on.isoformat()}
                          for i, c in enumerate(_cases(engine)[:60])]
    records += ["not json", {"household": {"members": "x"}}, {"id": "x"}]
    row = [r.to_json() for r in decide_many(engine, records, on=ON)]
    col = [r.to_json() for r in decide_many(engine, records, on=ON, backend="columnar")]
    assert col == row


def _typed(engine: eligibility.Engine, h: dict[str, Any]) -> dict[str, Any]:
    """A household as Parquet holds it: money and decimals as decimals, dates as dates."""
    from eligibility.scale.columnar import nested_row
    return nested_row(engine, h)


def _table_same(engine: eligibility.Engine, rows: list[dict[str, Any]], on: dt.date,
                names: tuple[str, ...] | None = None) -> Any:
    """Decide an Arrow table and each of its rows as batch reads it: the same outcome or the same input error."""
    pa = pytest.importorskip("pyarrow")
    from eligibility.scale.columnar import decide_table
    from eligibility.scale.results import flat_record
    names = names or engine.programs
    table = pa.Table.from_struct_array(pa.array(rows))
    res = decide_table(engine, table, on, names)
    for i, row in enumerate(table.to_pylist()):
        h = flat_record(row, engine.model.facts)["household"]
        want = _row(engine, h, on, names)
        assert res.outcomes[i] == want, (i, row)
        assert (i in res.errors) == (want is None)
    assert "columnar code failed" not in res.fallback
    return res


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_arrow_tables_decide_the_same(engine: eligibility.Engine, data: Any) -> None:
    """Typed columns (decimal128, date32, list<struct>) are read by columns, and decided as the row engine does."""
    hs = data.draw(st.lists(households(engine, on=ON, near={"dibao": "standard"}), min_size=2, max_size=10))
    _table_same(engine, [_typed(engine, h) for h in hs], ON)


def test_arrow_tables_of_the_cases_are_read_by_columns(engine: eligibility.Engine) -> None:
    rows = [_typed(engine, c.household) for c in _cases(engine) if c.on == ON]
    res = _table_same(engine, rows, ON)
    assert res.fallback["rows read as mappings"] <= len(rows) // 10  # typed columns: read by columns


def test_arrow_rows_that_are_not_plain_are_read_as_batch_reads_them(engine: eligibility.Engine) -> None:
    from decimal import Decimal
    base = _typed(engine, copy.deepcopy(next(c.household for c in _cases(engine) if c.on == ON)))
    rows = [copy.deepcopy(base) for _ in range(7)]
    rows[1]["financial_assets"] = Decimal("12.345")  # more than fen: an input error
    rows[2]["assessed_monthly_income"] = None  # required, absent: unknown
    rows[3]["members"] = rows[3]["members"] + [copy.deepcopy(rows[3]["members"][0])]  # two with one id
    rows[4]["residential_units"] = -1  # below its minimum
    rows[5]["members"][0]["relation"] = "not a relation"  # not a value of the enum
    res = _table_same(engine, rows, ON)
    assert res.fallback["rows read as mappings"] == 5
    assert {1, 3, 4, 5} <= set(res.errors)
    assert res.outcomes[2] is not None and any(o.unknown for o in res.outcomes[2].values())


def test_fields_the_asked_programs_do_not_read_are_still_checked(engine: eligibility.Engine) -> None:
    """Only the fields dibao, marginal and tekun read are converted, but an invalid value anywhere is found."""
    from decimal import Decimal
    names = ("dibao", "marginal", "tekun")
    read = backend(engine).reads(names)
    unread = [(None, "persons_helped"), (None, "annual_income"), (None, "hardship_kind"),
              ("members", "mente_category"), ("members", "medical_costs_after_insurance")]
    assert not set(unread) & read  # else this test would not test what it says
    assert (None, "financial_assets") in read and ("members", "birth_date") in read
    base = _typed(engine, copy.deepcopy(next(c.household for c in _cases(engine) if c.on == ON)))
    rows = [copy.deepcopy(base) for _ in range(6)]
    rows[1]["persons_helped"] = 0  # below its minimum (1)
    rows[2]["annual_income"] = Decimal("-5.00")  # money below zero
    rows[3]["hardship_kind"] = "not a kind"  # not a value of the enum
    rows[4]["members"][0]["mente_category"] = "not a category"
    rows[5]["members"][0]["medical_costs_after_insurance"] = Decimal("1.234")  # more than fen
    res = _table_same(engine, rows, ON, names)
    assert set(res.errors) == {1, 2, 3, 4, 5}  # the row engine's own input errors, each naming its field
    assert res.columnar == 1 and res.fallback["rows read as mappings"] == 5


def test_numbers_at_their_bounds_are_read_by_columns_and_beyond_them_by_the_row_engine(
        engine: eligibility.Engine) -> None:
    """A numeric column whose extremes are valid is checked by one min/max; any other by each value."""
    from decimal import Decimal
    base = _typed(engine, copy.deepcopy(next(c.household for c in _cases(engine) if c.on == ON)))
    rows = [copy.deepcopy(base) for _ in range(6)]
    rows[0]["residential_units"] = 0  # its minimum
    rows[1]["financial_assets"] = Decimal("999999999999999.99")  # the largest amount of money
    rows[2]["persons_helped"] = None  # not given: its default
    rows[3]["financial_assets"] = Decimal("1000000000000000.00")  # too large: an input error
    rows[4]["residential_units"] = -1  # below its minimum
    res = _table_same(engine, rows, ON)
    assert {3, 4} <= set(res.errors)
    assert res.fallback["rows read as mappings"] == 2  # the others, in the same columns, by columns
    res = _table_same(engine, rows[:3] + rows[5:], ON)  # the same columns, every value valid
    assert not res.errors and res.fallback["rows read as mappings"] == 0


def test_parquet_text_read_as_dictionaries_decides_the_same(engine: eligibility.Engine, tmp_path: Any) -> None:
    """`read_parquet` reads text columns as dictionary arrays: each word is checked once, the results unchanged."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from eligibility.scale.columnar import read_households, read_parquet
    from eligibility.scale.results import flat_record
    base = _typed(engine, copy.deepcopy(next(c.household for c in _cases(engine) if c.on == ON)))
    rows = [copy.deepcopy(base) for _ in range(5)]
    rows[1]["members"][0]["relation"] = "not a relation"  # not a value of the enum
    rows[2]["hardship_kind"] = ""  # an empty cell: not given, its default
    rows[3]["hardship_kind"] = "not a kind"
    rows[4]["members"][0]["id"] = rows[4]["members"][1]["id"] if len(rows[4]["members"]) > 1 else ""
    table = pa.Table.from_struct_array(pa.array(rows))
    path = tmp_path / "households.parquet"
    pq.write_table(table, path)
    assert pa.types.is_dictionary(read_households(str(path)).column("hardship_kind").type)
    res = read_parquet(engine, str(path), ON)
    for i, row in enumerate(table.to_pylist()):
        want = _row(engine, flat_record(row, engine.model.facts)["household"], ON, engine.programs)
        assert res.outcomes[i] == want, (i, row)
        assert (i in res.errors) == (want is None)
    assert {1, 3, 4} <= set(res.errors)
    assert res.fallback["rows read as mappings"] == 3  # the empty cell is read by columns


def test_batch_columnar_backend_reads_flat_rows_and_cells_as_the_row_backend(engine: eligibility.Engine) -> None:
    """CSV/Parquet rows (flat cells) and Spark cells (JSON text and a date) give the row backend's results."""
    import json

    from eligibility.scale.stream import columnar_stream, decide_item, make_job
    job, _, _ = make_job(engine, ON, None, False, 1, 1)
    cases = _cases(engine)[:30]
    items: list[Any] = []
    for i, c in enumerate(cases):
        flat = {k: (json.dumps(v) if isinstance(v, list) else v) for k, v in c.household.items()}
        items.append((2 * i, "csv", {"id": str(i), "on": c.on.isoformat(), **flat}, i + 2))
        items.append((2 * i + 1, "cell", (json.dumps(c.household), c.on.isoformat() if i % 2 else None), None))
    items += [(len(items), "cell", (None, None), None), (len(items) + 1, "cell", ("{", None), None),
              (len(items) + 2, "csv", {"members": "not json"}, 99)]
    got = [r.to_json() for r in columnar_stream(engine, job, items)]
    assert got == [decide_item(engine, job, item).to_json() for item in items]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_batch_files_are_byte_identical_with_either_backend(engine: eligibility.Engine, tmp_path: Any,
                                                            suffix: str) -> None:
    """`eligibility batch --backend columnar` (run_file): the same output file, byte for byte."""
    import csv
    import json

    from eligibility.scale.files import run_file
    source = tmp_path / f"in{suffix}"
    cases = _cases(engine)[:40]
    if suffix == ".jsonl":
        lines = [json.dumps({"id": str(i), "on": c.on.isoformat(), "household": c.household})
                 for i, c in enumerate(cases)]
        source.write_text("\n".join([*lines, "{not json"]) + "\n", encoding="utf-8")
    else:
        fields = sorted({k for c in cases for k in c.household})
        with source.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, ["id", "on", *fields])
            w.writeheader()
            for i, c in enumerate(cases):
                w.writerow({"id": str(i), "on": c.on.isoformat(),
                            **{k: json.dumps(v) if isinstance(v, list) else v for k, v in c.household.items()}})
    outs = {}
    for kind in ("row", "columnar"):
        out = tmp_path / f"out-{kind}{suffix}"
        summary = run_file(source, out, engine, on=ON, backend=kind)
        outs[kind] = (out.read_bytes(), summary.to_json())
    assert outs["columnar"] == outs["row"]
    assert outs["row"][1]["records"] == len(cases) + (suffix == ".jsonl")


def test_cli_batch_backend_columnar_writes_the_row_backends_file(tmp_path: Any) -> None:
    """`eligibility batch --backend columnar`: the same file as `--backend row`, and the same exit code."""
    from click.testing import CliRunner

    from eligibility.cli import build

    source = tmp_path / "in.jsonl"
    import json

    family = json.dumps(json.loads((ROOT_EXAMPLES / "huadu-family.json").read_text(encoding="utf-8")))
    source.write_text(f'{{"id": "a", "household": {family}}}\n{{"id": "b", "household": {{}}}}\n', encoding="utf-8")
    outs = {}
    for kind in ("row", "columnar"):
        out = tmp_path / f"{kind}.jsonl"
        result = CliRunner().invoke(build(), ["batch", str(source), "-o", str(out), "--on", "2024-09-01",
                                              "--backend", kind])
        assert result.exit_code == 1, result.output  # record b is not a household: its line says why
        outs[kind] = out.read_bytes()
    assert outs["columnar"] == outs["row"] and outs["row"].count(b"\n") == 2
    assert b"\"dibao\"" in outs["row"].splitlines()[0]  # household a is decided, not an error


def test_the_columnar_backend_without_numpy_is_a_clear_error(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without numpy, asking for the columnar backend says which extra to install; nothing is written."""
    import importlib.util

    from eligibility.base.errors import InputError
    from eligibility.scale.files import run_file

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "numpy" else real(name, *a))
    source = tmp_path / "in.jsonl"
    source.write_text("{}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"eligibility\[columnar\]"):
        run_file(source, tmp_path / "out.jsonl", eligibility.load(), on=ON, backend="columnar")
    assert not (tmp_path / "out.jsonl").exists()


def _nested_parquet(engine: eligibility.Engine, path: Path) -> int:
    """Write the YAML cases (typed, nested layout, with id and date) and rows the columns cannot decide; return
    the number of those rows (each read and decided by the row backend)."""
    from decimal import Decimal
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows: list[dict[str, Any]] = [{"id": str(i), "on": c.on, **_typed(engine, copy.deepcopy(c.household))}
                                  for i, c in enumerate(_cases(engine)[:60])]
    base = next(r for r in rows if r["on"] == ON and r.get("members"))
    odd = [copy.deepcopy(base) for _ in range(5)]
    odd[0]["members"][0]["relation"] = "not a relation"  # invalid: an error record
    odd[1]["members"][0]["birth_date"] = None  # a null where a fact is required
    odd[2]["assessed_monthly_income"] = Decimal("1234.567")  # money with 3 decimals
    odd[3]["on"] = None  # no date of its own: the batch's
    odd[4]["id"] = "x"
    odd[4]["members"][0]["sex"] = None
    rows[10:10] = odd[:3]
    rows += odd[3:]
    pq.write_table(pa.Table.from_struct_array(pa.array(rows)), path)
    return 3


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_batch_of_nested_parquet_is_decided_by_columns_and_writes_the_row_backends_file(
        engine: eligibility.Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    """A nested-layout Parquet input through `--backend columnar`: the row backend's output, with only the rows
    the columns cannot decide read as rows (counted by the calls of `decide_item`)."""
    pq = pytest.importorskip("pyarrow.parquet")
    import eligibility.scale.columnar as scol
    from eligibility.scale.files import run_file
    source = tmp_path / "in.parquet"
    _nested_parquet(engine, source)
    n = pq.ParquetFile(source).metadata.num_rows
    calls = []
    real = scol.decide_item

    def counted(*args: Any) -> Any:
        calls.append(args[2][0])
        return real(*args)

    monkeypatch.setattr(scol, "decide_item", counted)
    outs = {}
    for kind in ("row", "columnar"):
        out = tmp_path / f"out-{kind}{suffix}"
        summary = run_file(source, out, engine, on=ON, backend=kind)
        outs[kind] = (pq.read_table(out) if suffix == ".parquet" else out.read_bytes(), summary.to_json())
    assert outs["columnar"][1] == outs["row"][1] and outs["row"][1]["records"] == n
    if suffix == ".parquet":  # row groups follow the flush clock; the rows are the same
        assert outs["columnar"][0].equals(outs["row"][0])
    else:
        assert outs["columnar"][0] == outs["row"][0]
    assert calls == [10, 11, 12, n - 1]  # only the rows the columns cannot read are read as rows


def test_batch_of_nested_parquet_resumes_after_a_half_written_output(engine: eligibility.Engine,
                                                                      tmp_path: Any) -> None:
    """`--resume` with the columnar backend skips the records the output holds and writes the rest as the row
    backend does."""
    from eligibility.scale.files import run_file
    source = tmp_path / "in.parquet"
    _nested_parquet(engine, source)
    full = tmp_path / "row.jsonl"
    run_file(source, full, engine, on=ON, backend="row")
    lines = full.read_bytes().splitlines(keepends=True)
    half = tmp_path / "half.jsonl"
    run_file(source, half, engine, on=ON, backend="row")
    half.write_bytes(b"".join(lines[:23]))
    summary = run_file(source, half, engine, on=ON, backend="columnar", resume=True)
    assert summary.skipped == 23 and summary.records == len(lines) - 23
    assert half.read_bytes() == full.read_bytes()


def test_parquet_batches_give_each_rows_row_backend_result(engine: eligibility.Engine, tmp_path: Any) -> None:
    """`batch_results` over small record batches, from a row inside one: each row's `decide_item` result, most
    rows decided by columns."""
    import collections

    pq = pytest.importorskip("pyarrow.parquet")
    from eligibility.scale.columnar import batch_results
    from eligibility.scale.stream import decide_item, make_job
    source = tmp_path / "in.parquet"
    _nested_parquet(engine, source)
    job, _, _ = make_job(engine, ON, None, False, 1, 1)
    rows = pq.read_table(source).to_pylist()
    counts: collections.Counter[str] = collections.Counter()
    got = [r.to_json() for r in batch_results(engine, job, str(source), skip=9, counts=counts, batch_rows=7)]
    assert got == [decide_item(engine, job, (i, "row", row, None)).to_json() for i, row in enumerate(rows)][9:]
    assert counts["columns"] + counts["rows"] == len(rows) - 9
    assert counts["rows"] == 4 and counts["columns"] == len(rows) - 9 - 4  # after row 9, rows 10-12 and the last
    assert 0 < counts["programs by the row engine"] < counts["columns"]


def test_batch_of_flat_parquet_with_the_columnar_backend_reads_rows(engine: eligibility.Engine,
                                                                     tmp_path: Any) -> None:
    """A Parquet file in the flat layout (a list field's JSON in a text cell) is not the nested layout, and
    `--backend columnar` writes the row backend's file from it."""
    import json

    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from eligibility.scale.columnar import nested_layout
    from eligibility.scale.files import run_file
    cases = _cases(engine)[:20]
    fields = sorted({k for c in cases for k in c.household})
    rows = [{"id": str(i), "on": c.on.isoformat(),
             **{k: (json.dumps(v) if isinstance(v, list | dict) else None if v is None else str(v))
                for k, v in ((f, c.household.get(f)) for f in fields)}} for i, c in enumerate(cases)]
    source = tmp_path / "flat.parquet"
    pq.write_table(pa.Table.from_pylist(rows), source)
    assert not nested_layout(engine, pq.read_schema(source))
    outs = {}
    for kind in ("row", "columnar"):
        out = tmp_path / f"{kind}.jsonl"
        run_file(source, out, engine, on=ON, backend=kind)
        outs[kind] = out.read_bytes()
    assert outs["columnar"] == outs["row"] and outs["row"].count(b"\n") == len(cases)


def test_parquet_batches_read_ids_and_dates_as_the_row_backend(engine: eligibility.Engine, tmp_path: Any) -> None:
    """Whole-number ids and text dates (empty: the batch's date; not a date: an error record) are read from the
    columns as the row backend reads them from the row."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from eligibility.scale.columnar import batch_results
    from eligibility.scale.stream import decide_item, make_job
    cases = [c for c in _cases(engine) if c.on == ON][:6]
    days = ["2026-03-01", "", None, "2026-3-1", "2024-09-01", "2026-03-01T00:00"]
    rows = [{"id": 100 + i, "on": day, **_typed(engine, copy.deepcopy(c.household))}
            for i, (c, day) in enumerate(zip(cases, days, strict=False))]
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_struct_array(pa.array(rows)), source)
    for on in (ON, None):
        job, _, _ = make_job(engine, on, None, False, 1, 1)
        got = [r.to_json() for r in batch_results(engine, job, str(source))]
        want = [decide_item(engine, job, (i, "row", row, None)).to_json()
                for i, row in enumerate(pq.read_table(source).to_pylist())]
        assert got == want
        assert got[0]["id"] == "100" and ("error" in got[3]) and (("error" in got[1]) == (on is None))
