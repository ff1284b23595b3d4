"""The DuckDB join: households from department extracts, pseudonymous ids, conflicts reported, never resolved."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

duckdb = pytest.importorskip("duckdb")

from eligibility.cli import main  # noqa: E402
from eligibility.discover.join import join, read_joined  # noqa: E402
from eligibility.discover.mapping import MappingError, load_mapping  # noqa: E402
from eligibility.discover.pseudonym import Pseudonymizer  # noqa: E402

KEY = b"a test key of enough length 0123456789"
ON = "2026-11-15"

HUKOU = [
    # id_number, booklet, relation, sex, birth, hukou district, residence district
    ("440114198001010011", "B1", "户主", "1", "19800101", "440114", "440114"),
    ("440114198203040022", "B1", "配偶", "2", "19820304", "440114", "440114"),
    ("440114201005050033", "B1", "子", "1", "20100505", "440114", "440114"),
    ("440114195002020044", "B2", "户主", "2", "19500202", "440114", "440111"),
    # the same person in a second booklet
    ("440114201005050033", "B3", "户主", "1", "20100505", "440114", "440114"),
]
WAGES = [("440114198001010011", "3000.00"), ("440114198203040022", "abc")]
TAX = [("440114198001010011", "4500.00"), ("440114198203040022", "")]
PROPERTY = [("440114198001010011", "住宅"), ("440114198203040022", "住宅"), ("440114195002020044", "商铺")]
CHECK = [("440114198001010011", "2400.00", "12000.00")]
ENROL = [("440114195002020044", "低保", "440114001", "2024-01-01", "800.00"),
         ("440114195002020044", "低保", "440114002", "2025-01-01", "")]

MAPPING = """\
mapping: 1
district: "440114"
extracts:
  hukou:
    department: 公安
    source: 公安 hukou extract
    files: hukou.csv
    format: csv
    as_of: 2026-10-31
    person: id_number
    household: booklet_no
    area: {district: residence_district}
    split: {hukou: hukou_district, residence: residence_district}
    members:
      birth_date: {column: birth_date, date_format: "%Y%m%d"}
      sex: {column: sex, values: {"1": male, "2": female}}
      relation: {column: relation, values: {户主: applicant, 配偶: spouse, 子: child}}
      hukou_local: {column: hukou_district, equals: "440114"}
      guangdong_hukou: {column: hukou_district, prefix: "44"}
  wages:
    department: 人社
    source: 人社 wage record
    files: wages.csv
    format: csv
    as_of: 2026-10-31
    person: id_number
    members:
      personal_monthly_income: monthly_wage
  tax:
    department: 税务
    source: 税务 income record
    files: tax.csv
    format: csv
    as_of: 2026-09-30
    person: taxpayer_id
    members:
      personal_monthly_income: monthly_income
  property:
    department: 不动产登记
    source: 不动产登记 register
    files: property.csv
    format: csv
    as_of: 2026-10-31
    person: owner_id
    complete: true
    household_facts:
      residential_units: {aggregate: count, where: {usage: [住宅]}}
      nonresidential_units: {aggregate: count, where: {usage: [商铺]}}
  check:
    department: 民政
    source: 民政 economic check
    files: check.csv
    format: csv
    as_of: 2026-10-20
    person: applicant_id
    household_facts:
      assessed_monthly_income: assessed_income
      financial_assets: financial_assets
  enrolment:
    department: 民政
    source: 民政 enrolment list
    files: enrolment.csv
    format: csv
    as_of: 2026-10-31
    person: id_number
    enrolment:
      program: {column: program, values: {低保: dibao}}
      office: office
      since: since
      amount: amount
"""


def _csv(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def extracts(tmp_path: Path) -> Path:
    _csv(tmp_path / "hukou.csv", ("id_number", "booklet_no", "relation", "sex", "birth_date", "hukou_district",
                                  "residence_district"), HUKOU)
    _csv(tmp_path / "wages.csv", ("id_number", "monthly_wage"), WAGES)
    _csv(tmp_path / "tax.csv", ("taxpayer_id", "monthly_income"), TAX)
    _csv(tmp_path / "property.csv", ("owner_id", "usage"), PROPERTY)
    _csv(tmp_path / "check.csv", ("applicant_id", "assessed_income", "financial_assets"), CHECK)
    _csv(tmp_path / "enrolment.csv", ("id_number", "program", "office", "since", "amount"), ENROL)
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    return tmp_path


def _joined(extracts: Path, key: bytes = KEY) -> tuple[dict[str, dict[str, Any]], Any]:
    summary = join(load_mapping(extracts / "mapping.yaml"), extracts / "out" / "joined.jsonl", key)
    return {h["id"]: h for h in read_joined(extracts / "out" / "joined.jsonl")}, summary


P = Pseudonymizer(KEY)


def test_households_are_keyed_by_pseudonymous_ids(extracts: Path) -> None:
    """Each booklet is one household under its keyed-hash id; each member is known by a keyed-hash person id."""
    joined, summary = _joined(extracts)
    assert set(joined) == {P.household("B1"), P.household("B2"), P.household("B3")}
    b1 = joined[P.household("B1")]
    assert b1["household"]["members"][0]["id"] == P.person("440114198001010011")  # the applicant first
    assert {m["id"] for m in b1["household"]["members"]} == {P.person(r[0]) for r in HUKOU[:3]}
    assert summary.households == 3 and summary.persons == 4


def test_no_identity_number_or_key_reaches_the_output(extracts: Path) -> None:
    """No ID number, booklet number or key appears in the joined file or the summary."""
    _, summary = _joined(extracts)
    text = (extracts / "out" / "joined.jsonl").read_text(encoding="utf-8") + json.dumps(summary.to_json())
    for secret in {r[0] for r in HUKOU} | {KEY.decode()}:
        assert secret not in text
    for booklet in ("B1", "B2", "B3"):
        assert f'"{booklet}"' not in text


def test_another_key_gives_other_ids(extracts: Path) -> None:
    """The ids depend on the key: without it, they cannot be recomputed from ID numbers."""
    first, _ = _joined(extracts)
    second, _ = _joined(extracts, b"another key, also long enough")
    assert not set(first) & set(second)


def test_facts_carry_their_provenance(extracts: Path) -> None:
    """A fact from an extract names the department's source, the extract's date and the extract."""
    joined, _ = _joined(extracts)
    applicant = joined[P.household("B1")]["household"]["members"][0]
    assert applicant["birth_date"] == {"value": "1980-01-01", "source": "公安 hukou extract", "as_of": "2026-10-31",
                                       "reference": "hukou"}
    assert applicant["relation"]["value"] == "applicant" and applicant["sex"]["value"] == "male"
    assert applicant["hukou_local"]["value"] is True
    income = joined[P.household("B1")]["household"]["assessed_monthly_income"]
    assert income == {"value": "2400.00", "source": "民政 economic check", "as_of": "2026-10-20", "reference": "check"}


def test_departments_that_disagree_leave_the_fact_unknown(extracts: Path) -> None:
    """人社 3000.00 against 税务 4500.00: no income is chosen; the conflict lists both values and sources."""
    joined, summary = _joined(extracts)
    b1 = joined[P.household("B1")]
    applicant = b1["household"]["members"][0]
    assert "personal_monthly_income" not in applicant
    conflict = next(c for c in b1["conflicts"] if c["kind"] == "values_disagree")
    assert conflict["person"] == applicant["id"]
    assert conflict["detail"] == {"fact": "personal_monthly_income", "values": [
        {"value": "3000.00", "source": "人社 wage record"}, {"value": "4500.00", "source": "税务 income record"}]}
    assert conflict["sources"] == ["人社 wage record", "税务 income record"]
    assert summary.conflicts["values_disagree"] == 1


def test_an_unreadable_value_is_unknown_and_reported(extracts: Path) -> None:
    """'abc' in a money column is no income at all: the fact is left out and the summary names the column."""
    joined, summary = _joined(extracts)
    spouse = joined[P.household("B1")]["household"]["members"][1]
    assert spouse["relation"]["value"] == "spouse"
    assert "personal_monthly_income" not in spouse
    [problem] = summary.problems
    assert (problem.extract, problem.column, problem.fact, problem.count, problem.example) == (
        "wages", "monthly_wage", "personal_monthly_income", 1, "abc")
    assert "wages.monthly_wage" in summary.render()


def test_person_in_two_households_is_reported_in_both(extracts: Path) -> None:
    """A person under two booklets is a member of both, and each household carries the conflict."""
    joined, summary = _joined(extracts)
    child = P.person("440114201005050033")
    for booklet in ("B1", "B3"):
        h = joined[P.household(booklet)]
        assert child in {m["id"] for m in h["household"]["members"]}
        [c] = [c for c in h["conflicts"] if c["kind"] == "two_households"]
        assert c["person"] == child
        assert c["detail"]["households"] == sorted([P.household("B1"), P.household("B3")])
    # what the hukou register says of the child holds in each booklet: 子 in one, 户主 in the other
    relation = {b: next(m for m in joined[P.household(b)]["household"]["members"] if m["id"] == child)["relation"]
                for b in ("B1", "B3")}
    assert (relation["B1"]["value"], relation["B3"]["value"]) == ("child", "applicant")
    assert summary.conflicts["two_households"] == 2


def test_hukou_residence_split_and_double_enrolment(extracts: Path) -> None:
    """人户分离 and one person enrolled by two offices are conflicts of that household; enrolment is listed."""
    joined, _ = _joined(extracts)
    b2 = joined[P.household("B2")]
    person = P.person("440114195002020044")
    kinds = {c["kind"]: c for c in b2["conflicts"]}
    assert kinds["hukou_residence_split"]["detail"] == {"hukou": "440114", "residence": "440111"}
    assert kinds["enrolled_twice"]["detail"] == {"program": "dibao", "offices": ["440114001", "440114002"]}
    assert b2["enrolled"] == [
        {"program": "dibao", "tier": None, "amount": "800.00", "office": "440114001", "since": "2024-01-01",
         "person": person},
        {"program": "dibao", "tier": None, "amount": None, "office": "440114002", "since": "2025-01-01",
         "person": person}]
    assert b2["area"] == {"district": "440111"}


def test_a_complete_register_says_none_for_households_without_rows(extracts: Path) -> None:
    """The real-estate register is complete: B3 owns nothing (0, known); B1's two homes are counted."""
    joined, _ = _joined(extracts)
    assert joined[P.household("B1")]["household"]["residential_units"]["value"] == 2
    assert joined[P.household("B1")]["household"]["nonresidential_units"]["value"] == 0
    assert joined[P.household("B3")]["household"]["residential_units"]["value"] == 0
    assert joined[P.household("B2")]["household"]["nonresidential_units"]["value"] == 1
    # the economic check is not complete: B3 has no assessed income, which stays unknown
    assert "assessed_monthly_income" not in joined[P.household("B3")]["household"]


def test_joined_households_are_decided_by_the_engine(extracts: Path) -> None:
    """The joined household is what Engine.decide takes; a fact in conflict makes no program confident."""
    import eligibility

    joined, _ = _joined(extracts)
    engine = eligibility.load()
    decision = engine.decide(joined[P.household("B1")]["household"], on=ON, programs=["dibao"])
    assert decision.programs["dibao"].eligible is False  # two homes: the housing test fails
    unknown = engine.decide(joined[P.household("B3")]["household"], on=ON, programs=["dibao"])
    assert unknown.programs["dibao"].eligible is None
    assert "assessed_monthly_income" in unknown.programs["dibao"].unknown


def test_a_column_not_in_the_extract_is_reported_at_its_place(extracts: Path) -> None:
    """A mapped column missing from the file is an error at the mapping's line and column, with a suggestion."""
    text = MAPPING.replace("personal_monthly_income: monthly_wage", "personal_monthly_income: monthly_wages")
    (extracts / "mapping.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as e:
        join(load_mapping(extracts / "mapping.yaml"), extracts / "j.jsonl", KEY)
    line = text.splitlines().index("      personal_monthly_income: monthly_wages") + 1
    assert (e.value.line, e.value.col) == (line, 32)
    assert "did you mean 'monthly_wage'?" in e.value.render()
    assert not (extracts / "j.jsonl").exists()


def test_cli_join_writes_the_households_and_a_summary(extracts: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`eligibility join` with the key in an environment variable writes JSONL and the summary JSON; exit 0."""
    monkeypatch.setenv("TEST_PSEUDONYM_KEY", KEY.decode())
    out = extracts / "joined.jsonl"
    code = main(["join", str(extracts / "mapping.yaml"), "-o", str(out), "--key-env", "TEST_PSEUDONYM_KEY",
                 "--summary", str(extracts / "summary.json")])
    assert code == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3
    summary = json.loads((extracts / "summary.json").read_text(encoding="utf-8"))
    assert summary["conflicts"]["two_households"] == 2
    assert "joined 3 households, 4 persons" in capsys.readouterr().out


def test_cli_join_needs_a_key(extracts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without a key, or with a short one, the command line is wrong (exit 2) and nothing is written."""
    out = extracts / "joined.jsonl"
    assert main(["join", str(extracts / "mapping.yaml"), "-o", str(out)]) == 2
    (extracts / "short.key").write_text("short\n", encoding="utf-8")
    assert main(["join", str(extracts / "mapping.yaml"), "-o", str(out), "--key-file",
                 str(extracts / "short.key")]) == 2
    assert "at least 16" in capsys.readouterr().err
    assert not out.exists()


def test_cli_join_to_a_place_it_cannot_write_is_a_usage_error(extracts: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """An output below a file (not a folder): exit 2 saying it cannot write there, as `discover --mapping` does."""
    (extracts / "k").write_text(KEY.decode(), encoding="utf-8")
    out = extracts / "k" / "joined.jsonl"
    assert main(["join", str(extracts / "mapping.yaml"), "-o", str(out), "--key-file", str(extracts / "k")]) == 2
    assert f"cannot write {out}" in capsys.readouterr().err


def test_cli_join_lists_mapping_problems(extracts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mapping with problems: exit 1, each problem at file:line:col on standard error."""
    (extracts / "k").write_text(KEY.decode(), encoding="utf-8")
    (extracts / "mapping.yaml").write_text(MAPPING.replace("birth_date: {", "birth_dat: {"), encoding="utf-8")
    assert main(["join", str(extracts / "mapping.yaml"), "-o", str(extracts / "j.jsonl"), "--key-file",
                 str(extracts / "k")]) == 1
    err = capsys.readouterr().err
    assert "mapping.yaml:15:7: error[unknown-fact]" in err and "did you mean 'birth_date'?" in err


def test_a_malformed_csv_line_is_named_without_its_content(extracts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A row with too many fields: exit 1 naming the extract, the file and the line, never the row's ID number."""
    (extracts / "k").write_text(KEY.decode(), encoding="utf-8")
    with open(extracts / "tax.csv", "a", encoding="utf-8") as f:
        f.write("440114195002020044,100.00,extra\r\n")
    assert main(["join", str(extracts / "mapping.yaml"), "-o", str(extracts / "j.jsonl"), "--key-file",
                 str(extracts / "k")]) == 1
    err = capsys.readouterr().err
    assert "tax: " in err and "tax.csv" in err and "CSV Error on Line: 4" in err
    assert "440114195002020044" not in err
