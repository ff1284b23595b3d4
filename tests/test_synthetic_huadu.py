"""The synthetic Huadu generator: reproducible, and its planted cases are what they claim by the bundled policies."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

import eligibility
from eligibility.discover.join import join, read_joined
from eligibility.discover.mapping import load_mapping
from eligibility.discover.pseudonym import Pseudonymizer, read_key

ROOT = Path(__file__).parent.parent
ON = "2026-11-15"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synthetic_huadu", ROOT / "benchmarks" / "synthetic_huadu.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return _generator()


@pytest.fixture(scope="module")
def district(generator: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("huadu")
    counts = generator.generate(out, households=1000, seed=3)
    join(load_mapping(out / "mapping.yaml"), out / "joined.jsonl", read_key(out / "pseudonym.key"))
    return out, counts


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_same_seed_writes_the_same_files(generator: ModuleType, tmp_path: Path) -> None:
    """Two runs with one seed and size give byte-identical extracts, mapping, key and truth; another seed differs."""
    generator.generate(tmp_path / "a", households=300, seed=5)
    generator.generate(tmp_path / "b", households=300, seed=5)
    generator.generate(tmp_path / "c", households=300, seed=6)
    a, b, c = (_digests(tmp_path / x) for x in "abc")
    assert a == b
    assert a["extracts/hukou.csv"] != c["extracts/hukou.csv"]


def test_sizes_and_enrolment_follow_the_marginals(district: tuple[Path, dict[str, Any]]) -> None:
    """Households as asked, about 3.7 people each; dibao enrolment scaled from Huadu's 2,042 (at least 20)."""
    out, counts = district
    assert counts["households"] == 1000
    assert 3.2 < counts["people"] / counts["households"] < 4.2
    enrolled = {h["id"] for h in read_joined(out / "joined.jsonl")
                if any(e["program"] == "dibao" for e in h["enrolled"])}
    assert len(enrolled) == 20
    assert all(n >= 5 for n in counts["planted"].values())


def test_every_planted_case_is_in_the_joined_file(district: tuple[Path, dict[str, Any]]) -> None:
    """Each line of truth.jsonl names a household of the joined file; the conflict kinds are found by the join."""
    out, _ = district
    joined = {h["id"]: h for h in read_joined(out / "joined.jsonl")}
    truth = [json.loads(line) for line in (out / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    assert truth
    for t in truth:
        h = joined[t["household"]]
        if t["kind"] in ("hukou_residence_split", "enrolled_twice", "values_disagree"):
            assert t["kind"] in {c["kind"] for c in h["conflicts"]}, t


def test_planted_cases_are_what_they_claim_by_the_bundled_policies(district: tuple[Path, dict[str, Any]]) -> None:
    """Missed eligible and wrong tier are dibao-eligible, should-exit are not, by the engine on the joined data."""
    out, _ = district
    joined = {h["id"]: h for h in read_joined(out / "joined.jsonl")}
    engine = eligibility.load()
    truth = [json.loads(line) for line in (out / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    seen = set()
    for t in truth:
        h = joined[t["household"]]
        programs = {e["program"] for e in h["enrolled"]}
        dibao = engine.decide(h["household"], on=ON, programs=["dibao"]).programs["dibao"]
        if t["kind"] == "missed_eligible":
            assert dibao.eligible is True and not programs, t
        elif t["kind"] == "should_exit":
            assert dibao.eligible is False and programs == {"dibao"}, t
        elif t["kind"] == "wrong_tier":
            assert dibao.eligible is True and programs == {"marginal"}, t
        seen.add(t["kind"])
    assert {"missed_eligible", "should_exit", "wrong_tier"} <= seen


def test_no_identity_number_of_the_extracts_is_in_the_outputs(district: tuple[Path, dict[str, Any]]) -> None:
    """Every ID number of every extract is absent from the joined file and the truth file."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    out, _ = district
    numbers: set[str] = set()
    for path in (out / "extracts").iterdir():
        table = pq.read_table(path) if path.suffix == ".parquet" else pcsv.read_csv(
            path, convert_options=pcsv.ConvertOptions(strings_can_be_null=False,
                                                      column_types={c: "string" for c in _header(path)}))
        for name in ("id_number", "taxpayer_id", "owner_id", "applicant_id"):
            if name in table.column_names:
                numbers.update(v for v in table.column(name).to_pylist() if v)
    assert len(numbers) > 3000  # every person of 1,000 households
    text = (out / "joined.jsonl").read_text(encoding="utf-8") + (out / "truth.jsonl").read_text(encoding="utf-8")
    # every run of 15 or more digits (an X may end it) in the outputs, against every number of the inputs
    runs = set(re.findall(r"\d{15,}[Xx]?", text))
    assert not runs & numbers
    assert not any(n in text for n in list(numbers)[:200])  # and plainly, for a sample
    assert (out / "pseudonym.key").read_text(encoding="utf-8").strip() not in text


def _header(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.readline().strip().split(",")


def test_split_households_are_sent_to_their_hukou_place(district: tuple[Path, dict[str, Any]]) -> None:
    """人户分离 planted cases: where_to_apply on the joined household names the hukou district's office for dibao."""
    out, _ = district
    joined = {h["id"]: h for h in read_joined(out / "joined.jsonl")}
    engine = eligibility.load()
    truth = [json.loads(line) for line in (out / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    splits = [t for t in truth if t["kind"] == "hukou_residence_split"]
    assert splits
    for t in splits:
        where = engine.where_to_apply(joined[t["household"]]["household"], on=ON).to_json()
        assert [o["code"] for o in where["programs"]["dibao"]["offices"]] == [t["detail"]["hukou"]], t


def test_no_person_is_born_after_the_extracts_date(generator: ModuleType,
                                                   district: tuple[Path, dict[str, Any]]) -> None:
    """Every birth date of the hukou extract is on or before its as_of date, babies included, at the age drawn."""
    out, _ = district
    as_of = dt.date.fromisoformat(generator.AS_OF)
    with open(out / "extracts" / "hukou.csv", encoding="utf-8") as f:
        births = [dt.datetime.strptime(row["birth_date"], "%Y%m%d").date() for row in csv.DictReader(f)]
    assert len(births) > 3000 and max(births) <= as_of
    people = generator._District(10, seed=11)
    for age in (0, 0, 0, 1, 17, 60) * 50:  # a baby drawn 150 times: the old generator put 1 in 6 after as_of
        _, born = people.person(age, "1", generator.DISTRICT)
        years = as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
        assert born <= as_of and years == age, (age, born)


def test_every_planted_wrong_tier_household_is_found(district: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """Discovery on the small district finds each household planted as enrolled marginal while dibao-eligible."""
    from eligibility.discover.report import run_discover

    out, _ = district
    run_discover(out / "joined.jsonl", tmp_path / "report", on=ON, programs=["dibao", "marginal"])
    kinds: dict[str, set[str]] = {}
    for line in (tmp_path / "report" / "findings.jsonl").read_text(encoding="utf-8").splitlines():
        finding = json.loads(line)
        kinds.setdefault(finding["household"], set()).add(finding["kind"])
    truth = [json.loads(line) for line in (out / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    wrong = [t["household"] for t in truth if t["kind"] == "wrong_tier"]
    assert len(wrong) >= 5
    assert [h for h in wrong if not kinds.get(h, set()) & {"wrong_program", "wrong_tier"}] == []


def test_residence_permits_and_hukou_province_reach_where_to_apply(district: tuple[Path, dict[str, Any]]) -> None:
    """Each row of the permit register is a residence_permits record of its holder's household (holder by
    pseudonym), with the holder's hukou_province; where_to_apply sends temporary assistance to a valid permit's
    district for that holder, and not for an expired one."""
    out, _ = district
    pseudo = Pseudonymizer(read_key(out / "pseudonym.key"))
    with open(out / "extracts" / "hukou.csv", encoding="utf-8") as f:
        booklet = {row["id_number"]: row["booklet_no"] for row in csv.DictReader(f)}
    with open(out / "extracts" / "residence_permits.csv", encoding="utf-8") as f:
        permits = list(csv.DictReader(f))
    assert len(permits) > 20
    joined = {h["id"]: h["household"] for h in read_joined(out / "joined.jsonl")}
    engine = eligibility.load()
    on = dt.date.fromisoformat(ON)
    valid = expired = 0
    for row in permits:
        household = joined[pseudo.household(booklet[row["id_number"]])]
        holder = pseudo.person(row["id_number"])
        (record,) = [r for r in household["residence_permits"] if r["holder"]["value"] == holder]
        assert (record["district"]["value"], record["valid_until"]["value"]) == (row["permit_district"],
                                                                                 row["valid_until"])
        assert record["holder"]["source"] == "公安 residence permit register"
        (member,) = [m for m in household["members"] if m["id"] == holder]
        assert member["hukou_province"]["value"] == row["hukou_province"]
        offices = engine.where_to_apply(household, on=ON).programs["temporary"].offices
        by_permit = {o.code for o in offices for r in o.reasons
                     if r.rule == "temporary_residence_permit" and r.record_id == holder}
        if dt.date.fromisoformat(row["valid_until"]) >= on:
            assert by_permit == {row["permit_district"]}, row
            valid += 1
        else:
            assert by_permit == set(), row
            expired += 1
    assert valid and expired
