"""A synthetic Huadu: department extracts of a district, a mapping file, the enrolment list and planted cases.

    python benchmarks/synthetic_huadu.py OUT_DIR [--households 300000] [--seed 1]

writes, under OUT_DIR:

- `extracts/`: twelve department extracts, CSV and Parquet, as the departments would send them
  (ID-card numbers, hukou booklet numbers, codes and words of their own);
- `mapping.yaml`: the mapping file that joins them (`eligibility join OUT_DIR/mapping.yaml ...`);
- `pseudonym.key`: the pseudonym key of this synthetic district (derived from the seed, so that
  runs repeat; a real key is random and kept apart from the data);
- `truth.jsonl`: the planted cases, one a line: `kind`, `household` (its pseudonymous id under that
  key), `person` (or null), `detail`; for measuring the recall of `eligibility discover`.

Every figure is drawn from a seeded `random.Random`: the same seed and size give the same files.

Marginals and assumptions (scaled to the number of households asked for; the full size is
Huadu's):
- 300,000 households and about 1.1 million people (Huadu's resident population is about 1.1
  million); household sizes 1-7 with shares 8/16/24/23/15/9/5 % (mean 3.7), a census-like shape
  assumed, not published for Huadu.
- Enrolled (published figures for Huadu): 2,042 dibao households with 4,293 people (sizes 1-5
  with shares 38/32/18/8/4 %, mean 2.1 as 4,293 / 2,042), 189 marginal households with 514
  people (shares 15/30/30/18/7 %, mean 2.7), 615 tekun people (single-person households, aged
  60-95, no legal obligor). The people are drawn, so their totals match on average.
- Ages: heads 25-85; spouses within 5 years; children 22-38 years younger than the head;
  parents 22-32 years older, living with 1 in 3 households of five or more.
- Hukou: about 95 % of households hold Huadu hukou (440114); 4 % hold hukou elsewhere (another
  Guangzhou district, another Guangdong city or another province) and live in Huadu, 1 % hold
  Huadu hukou and live in another Guangzhou district (a background of 人户分离 beside the
  planted cases).
- Wages (人社): 65 % of people aged 18-59 have a wage record, 2,300-15,000 yuan a month; 3 % of
  the others of that age are registered unemployed. Tax (税务) records exist for 60 % of the wage records, with the
  same monthly income except where a disagreement is planted.
- Real estate: 60 % of households own one home, 15 % two, 5 % a shop or parking space; cars
  in 35 % of households, e-bikes in 20 %, business registrations in 6 %.
- Medical insurance: 10 % of people have self-paid costs; disability certificates: 2.5 %;
  students: every child aged 6-22 in school at the stage of the age.
- The civil-affairs economic check (核对, assessed income and financial assets) covers the
  low-income monitoring population only: every enrolled household, every planted case and a
  background of 1 % of households (per-capita income 2,500-6,000: not eligible). Other
  households have no assessed income: their dibao is undetermined, as it would be.
- Residence permits (居住证, 公安's register of permits issued in Huadu): 70 % of the people aged
  16 or more of a household with hukou elsewhere living in Huadu hold one, valid until a day
  from two months before the extracts' date to three years after it (so a few have expired);
  the register also gives the holder's hukou province (first two digits of the code).
- All extracts are as of 2026-10-31 (decide on or after that date, within six months); every
  person is born on or before that date, aged as drawn on it.

Planted cases (300 of each kind at full size, about 0.1 % of households, scaled, at least 5
each at any size; wrong_tier 50 at full size, at most half the marginal households):
missed_eligible (not enrolled, eligible for dibao by the bundled policies), should_exit
(enrolled in dibao, income now above the standard), wrong_tier (enrolled as marginal while
dibao-eligible), hukou_residence_split (an eligible-looking household with hukou elsewhere in
Guangdong, living in Huadu), enrolled_twice (a dibao person enrolled by two street offices),
values_disagree (人社 and 税务 give different monthly incomes for one person).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import sys
import time
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from eligibility.discover.pseudonym import Pseudonymizer

DISTRICT = "440114"
AS_OF = "2026-10-31"
AS_OF_DATE = dt.date.fromisoformat(AS_OF)
STANDARD = Decimal("1282.00")  # the Guangzhou dibao standard in force (from 2024-06-01)
FULL_HOUSEHOLDS = 300_000
TOWNS = ("新华街道", "新雅街道", "秀全街道", "花城街道", "花东镇", "花山镇", "炭步镇", "赤坭镇", "狮岭镇", "梯面镇")
#: Other hukou places: Guangzhou districts, other Guangdong cities, other provinces.
ELSEWHERE_GZ = ("440111", "440106", "440105", "440113", "440112")
ELSEWHERE_GD = ("441802", "440303", "445102", "440507")
ELSEWHERE_CN = ("431023", "450102", "360111", "511702")
KINDS = ("missed_eligible", "should_exit", "wrong_tier", "hukou_residence_split", "enrolled_twice",
         "values_disagree")


def id_number(region: str, birth: dt.date, seq: int) -> str:
    """An 18-digit resident ID number with its ISO 7064 MOD 11-2 check character."""
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    total = sum(int(c) * w for c, w in zip(body, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    return body + "10X98765432"[total % 11]


class _District:
    """The people and households being generated, and the rows of each extract."""

    def __init__(self, households: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n = households
        self.scale = households / FULL_HOUSEHOLDS
        self.seqs: dict[tuple[str, dt.date], int] = {}
        self.booklets = 0
        self.rows: dict[str, list[dict[str, Any]]] = {k: [] for k in (
            "hukou", "wages", "tax", "property", "vehicles", "business", "medical", "disability", "students",
            "check", "enrolment", "permits")}
        #: The permits are drawn from a stream of their own: adding them changed no other figure.
        self.permit_rng = random.Random(f"permits-{seed}")
        self.truth: list[dict[str, Any]] = []

    # ------------------------------------------------------------ people
    def person(self, age: int, sex: str, region: str) -> tuple[str, dt.date]:
        # `age` years old on the extracts' date, so never born after it
        born = AS_OF_DATE.replace(year=AS_OF_DATE.year - age) - dt.timedelta(days=self.rng.randrange(365))
        k = (region, born)
        seq = self.seqs.get(k, 0)
        self.seqs[k] = seq + 1
        if seq >= 500:
            return self.person(age, sex, region)
        # the 17th digit is odd for men, even for women
        return id_number(region, born, seq * 2 + (1 if sex == "1" else 0)), born

    def household(self, size: int, *, head_age: tuple[int, int] = (25, 85), hukou: str = DISTRICT,
                  residence: str = DISTRICT) -> dict[str, Any]:
        """Draw a household's members and write its hukou rows."""
        rng = self.rng
        self.booklets += 1
        booklet = f"HJ{self.booklets:09d}"
        town = rng.randrange(len(TOWNS))
        community = f"{TOWNS[town]}第{rng.randrange(1, 13)}社区"
        age = rng.randint(*head_age)
        head_sex = rng.choice("12")
        people = [("户主", head_sex, age)]
        if size >= 2 and rng.random() < 0.9:
            people.append(("配偶", "2" if head_sex == "1" else "1", max(18, age + rng.randint(-5, 5))))
        parents = size >= 5 and rng.random() < 1 / 3 and age + 22 <= 95
        room_for_children = size - len(people) - (2 if parents else 0)
        for _ in range(max(0, room_for_children)):
            child_age = age - rng.randint(22, 38)
            if child_age < 0:
                child_age = rng.randint(0, max(0, age - 18))
            sex = rng.choice("12")
            people.append(("子" if sex == "1" else "女", sex, child_age))
        if parents:
            p_age = min(age + rng.randint(22, 32), 100)
            people.append(("父亲", "1", p_age))
            people.append(("母亲", "2", min(p_age + rng.randint(-4, 2), 100)))
        while len(people) < size:
            sex = rng.choice("12")
            people.append(("孙子" if sex == "1" else "孙女", sex, rng.randint(0, 10)))
        members = []
        for relation, sex, a in people[:size]:
            idn, born = self.person(a, sex, hukou)
            members.append({"id": idn, "relation": relation, "sex": sex, "age": a, "born": born})
            self.rows["hukou"].append({
                "id_number": idn, "booklet_no": booklet, "relation": relation, "sex": sex,
                "birth_date": f"{born:%Y%m%d}", "hukou_district": hukou, "residence_district": residence,
                "town": TOWNS[town], "community": community})
            if hukou != DISTRICT and residence == DISTRICT and a >= 16 and self.permit_rng.random() < 0.7:
                until = AS_OF_DATE + dt.timedelta(days=self.permit_rng.randint(-60, 3 * 365))
                self.rows["permits"].append({"id_number": idn, "permit_district": DISTRICT,
                                             "valid_until": until.isoformat(), "hukou_province": hukou[:2]})
        return {"booklet": booklet, "members": members, "town": town}

    # ------------------------------------------------------------ department records
    def records(self, h: dict[str, Any], *, poor: bool = False) -> None:
        """Write the wage, tax, property, vehicle, business, medical, disability and student rows."""
        rng = self.rng
        head = h["members"][0]["id"]
        for m in h["members"]:
            a = m["age"]
            if 18 <= a < 60 and not poor and rng.random() < 0.65:
                wage = Decimal(rng.randint(2300, 15000))
                self.rows["wages"].append({"id_number": m["id"], "monthly_wage": f"{wage:.2f}", "status": "在职"})
                if rng.random() < 0.6:
                    self.rows["tax"].append({"taxpayer_id": m["id"], "monthly_income": f"{wage:.2f}"})
            elif 18 <= a < 60 and rng.random() < 0.03:
                self.rows["wages"].append({"id_number": m["id"], "monthly_wage": "", "status": "失业登记"})
            if rng.random() < 0.10:
                self.rows["medical"].append({"id_number": m["id"], "self_paid": f"{rng.randint(50, 40000)}.00"})
            if rng.random() < 0.025:
                self.rows["disability"].append({"id_number": m["id"], "kind": str(rng.randint(1, 7)),
                                                "grade": str(rng.randint(1, 4))})
            if 6 <= a <= 22:
                stage = ("义务教育" if a <= 15 else "普通高中" if a <= 18 else "普通高等教育")
                self.rows["students"].append({"id_number": m["id"], "stage": stage})
        if poor:
            return
        r = rng.random()
        homes = 1 if r < 0.60 else 2 if r < 0.75 else 0
        for _ in range(homes):
            self.rows["property"].append({"owner_id": head, "usage": "住宅"})
        if rng.random() < 0.05:
            self.rows["property"].append({"owner_id": head, "usage": rng.choice(("商铺", "车位"))})
        if rng.random() < 0.35:
            self.rows["vehicles"].append({"owner_id": head, "vehicle_type": "小型汽车"})
        if rng.random() < 0.20:
            self.rows["vehicles"].append({"owner_id": head, "vehicle_type": "电动自行车"})
        if rng.random() < 0.06:
            self.rows["business"].append({"owner_id": head, "kind": rng.choice(("个体工商户", "有限责任公司")),
                                          "employees": str(rng.randint(0, 20))})

    def check(self, h: dict[str, Any], per_capita: Decimal, assets: Decimal) -> None:
        """Write the civil-affairs economic check (核对) of a household."""
        n = len(h["members"])
        self.rows["check"].append({"applicant_id": h["members"][0]["id"],
                                   "assessed_income": f"{per_capita * n:.2f}", "financial_assets": f"{assets:.2f}",
                                   "check_date": "2026-10-20"})

    def enrol(self, h: dict[str, Any], program: str, amount: Decimal | None, *, since: str | None = None,
              office: str | None = None, obligor: str = "") -> None:
        since = since or f"20{self.rng.randint(18, 25)}-{self.rng.randint(1, 12):02d}-01"
        office = office or f"{DISTRICT}{h['town'] + 1:03d}"
        for i, m in enumerate(h["members"]):
            self.rows["enrolment"].append({
                "id_number": m["id"], "program": program, "office": office, "since": since,
                "amount": f"{amount:.2f}" if amount is not None and i == 0 else "", "has_obligor": obligor})

    def plant(self, kind: str, h: dict[str, Any], person: str | None = None, **detail: Any) -> None:
        self.truth.append({"kind": kind, "booklet": h["booklet"], "person": person, "detail": detail})

    # ------------------------------------------------------------ the district
    def size(self, shares: Iterable[float]) -> int:
        return self.rng.choices(range(1, 8), weights=list(shares))[0]

    def poor_household(self, sizes: tuple[float, ...] = (38, 32, 18, 8, 4), **kw: Any) -> dict[str, Any]:
        h = self.household(self.rng.choices(range(1, 6), weights=sizes)[0], **kw)
        self.records(h, poor=True)
        return h

    def build(self) -> None:
        rng = self.rng
        per_kind = max(5, round(300 * self.scale))
        made = 0
        # Enrolled dibao households: eligible, except the planted should-exit ones.
        dibao_households = max(20, round(2042 * self.scale))
        exits = set(rng.sample(range(dibao_households), per_kind))
        twice = set(rng.sample(sorted(set(range(dibao_households)) - exits), per_kind))
        for i in range(dibao_households):
            h = self.poor_household()
            n = len(h["members"])
            if i in exits:
                pc = Decimal(rng.randint(2600, 5000))
                self.check(h, pc, Decimal(rng.randint(0, 5000)))
                self.enrol(h, "低保", STANDARD * n - Decimal(rng.randint(200, 1000)) * n)
                self.plant("should_exit", h, per_capita_income=f"{pc:.2f}")
            else:
                pc = Decimal(rng.randint(0, 1100))
                self.check(h, pc, Decimal(rng.randint(0, 20000)))
                if i in twice:
                    second = f"{DISTRICT}{(h['town'] + 1) % len(TOWNS) + 1:03d}"
                    self.enrol(h, "低保", (STANDARD - pc) * n)
                    m = h["members"][0]
                    self.rows["enrolment"].append({"id_number": m["id"], "program": "低保", "office": second,
                                                   "since": "2026-03-01", "amount": "", "has_obligor": ""})
                    self.plant("enrolled_twice", h, m["id"], program="dibao")
                else:
                    self.enrol(h, "低保", (STANDARD - pc) * n)
            made += 1
        # Marginal households (income 1282-1923 per person); the planted wrong tier: income below the standard.
        marginal = max(10, round(189 * self.scale))
        wrong = set(rng.sample(range(marginal), min(max(5, round(50 * self.scale)), marginal // 2)))
        for i in range(marginal):
            h = self.poor_household(sizes=(15, 30, 30, 18, 7))
            pc = Decimal(rng.randint(300, 1000)) if i in wrong else Decimal(rng.randint(1300, 1900))
            self.check(h, pc, Decimal(rng.randint(0, 20000)))
            self.enrol(h, "低保边缘", None)
            if i in wrong:
                self.plant("wrong_tier", h, enrolled="marginal", expected="dibao")
            made += 1
        # Tekun: single people aged 60-95 without obligor.
        for _ in range(max(5, round(615 * self.scale))):
            h = self.household(1, head_age=(60, 95))
            self.records(h, poor=True)
            self.check(h, Decimal(0), Decimal(rng.randint(0, 10000)))
            self.enrol(h, "特困", Decimal("2052.00"), obligor="否")
            made += 1
        # Missed eligible: not enrolled, in the monitoring population, eligible for dibao.
        for _ in range(per_kind):
            h = self.poor_household()
            self.check(h, Decimal(rng.randint(0, 900)), Decimal(rng.randint(0, 20000)))
            self.plant("missed_eligible", h, program="dibao")
            made += 1
        # 人户分离: hukou elsewhere in Guangdong, living in Huadu, poor enough for dibao.
        for _ in range(per_kind):
            hukou = rng.choice(ELSEWHERE_GZ + ELSEWHERE_GD)
            h = self.poor_household(hukou=hukou)
            self.check(h, Decimal(rng.randint(0, 900)), Decimal(rng.randint(0, 20000)))
            self.plant("hukou_residence_split", h, hukou=hukou, residence=DISTRICT)
            made += 1
        # Everyone else.
        disagree = max(5, round(300 * self.scale))
        while made < self.n:
            r = rng.random()
            kw: dict[str, str] = {}
            if r < 0.04:
                kw["hukou"] = rng.choice(ELSEWHERE_GZ + ELSEWHERE_GD + ELSEWHERE_CN)
            elif r < 0.05:
                kw["residence"] = rng.choice(ELSEWHERE_GZ)
            h = self.household(self.size((8, 16, 24, 23, 15, 9, 5)), **kw)
            self.records(h)
            if rng.random() < 0.01:
                self.check(h, Decimal(rng.randint(2500, 6000)), Decimal(rng.randint(0, 300000)))
            made += 1
            ids = {m["id"] for m in h["members"]}
            if disagree and self.rows["tax"] and self.rows["tax"][-1]["taxpayer_id"] in ids and rng.random() < 0.05:
                row = self.rows["tax"][-1]
                wage = Decimal(row["monthly_income"])
                row["monthly_income"] = f"{wage + Decimal(rng.randint(500, 3000)):.2f}"
                self.plant("values_disagree", h, row["taxpayer_id"], fact="personal_monthly_income")
                disagree -= 1


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows([r.get(c, "") for c in columns] for r in rows)


def _write_parquet(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({c: pa.array([r.get(c, "") for r in rows], pa.string()) for c in columns})
    pq.write_table(table, path)


#: Each extract: file name, format, columns.
EXTRACTS = {
    "hukou": ("hukou.csv", ("id_number", "booklet_no", "relation", "sex", "birth_date", "hukou_district",
                            "residence_district", "town", "community")),
    "wages": ("hrss_wages.parquet", ("id_number", "monthly_wage", "status")),
    "tax": ("tax_income.csv", ("taxpayer_id", "monthly_income")),
    "property": ("real_estate.parquet", ("owner_id", "usage")),
    "vehicles": ("vehicles.csv", ("owner_id", "vehicle_type")),
    "business": ("business.csv", ("owner_id", "kind", "employees")),
    "medical": ("medical_insurance.parquet", ("id_number", "self_paid")),
    "disability": ("disability.csv", ("id_number", "kind", "grade")),
    "students": ("students.csv", ("id_number", "stage")),
    "check": ("economic_check.csv", ("applicant_id", "assessed_income", "financial_assets", "check_date")),
    "enrolment": ("enrolment.csv", ("id_number", "program", "office", "since", "amount", "has_obligor")),
    "permits": ("residence_permits.csv", ("id_number", "permit_district", "valid_until", "hukou_province")),
}

MAPPING = """\
# The mapping of the synthetic Huadu's department extracts (benchmarks/synthetic_huadu.py).
mapping: 1
district: "440114"
extracts:
  hukou:
    department: 公安
    source: 公安 hukou extract
    files: extracts/hukou.csv
    format: csv
    as_of: 2026-10-31
    person: id_number
    household: booklet_no
    area: {district: residence_district, town: town, community: community}
    split: {hukou: hukou_district, residence: residence_district}
    members:
      birth_date: {column: birth_date, date_format: "%Y%m%d"}
      sex: {column: sex, values: {"1": male, "2": female}}
      relation:
        column: relation
        values: {户主: applicant, 配偶: spouse, 子: child, 女: child, 父亲: parent, 母亲: parent,
                 孙子: grandchild, 孙女: grandchild}
      guangdong_hukou: {column: hukou_district, prefix: "44"}
      hukou_local: {column: hukou_district, equals: "440114"}
      resides_locally: {column: residence_district, equals: "440114"}
      hukou_district: hukou_district
      residence_district: residence_district
  wages:
    department: 人社
    source: 人社 wage record
    files: extracts/hrss_wages.parquet
    format: parquet
    as_of: 2026-10-31
    person: id_number
    members:
      personal_monthly_income: monthly_wage
      unemployed: {column: status, values: {在职: false, 失业登记: true}}
  tax:
    department: 税务
    source: 税务 income record
    files: extracts/tax_income.csv
    format: csv
    as_of: 2026-10-31
    person: taxpayer_id
    members:
      personal_monthly_income: monthly_income
  property:
    department: 不动产登记
    source: 不动产登记 register
    files: extracts/real_estate.parquet
    format: parquet
    as_of: 2026-10-31
    person: owner_id
    complete: true
    household_facts:
      residential_units: {aggregate: count, where: {usage: [住宅, 公寓]}}
      nonresidential_units: {aggregate: count, where: {usage: [商铺, 车位, 写字楼]}}
  vehicles:
    department: 公安交管
    source: 公安交管 vehicle register
    files: extracts/vehicles.csv
    format: csv
    as_of: 2026-10-31
    person: owner_id
    complete: true
    records:
      vehicles:
        fields:
          kind:
            column: vehicle_type
            values: {小型汽车: car, 货车: truck, 燃油摩托车: fuel_motorcycle, 电动自行车: e_bike,
                     残疾人代步车: disabled_scooter}
  business:
    department: 市场监管
    source: 市场监管 business register
    files: extracts/business.csv
    format: csv
    as_of: 2026-10-31
    person: owner_id
    complete: true
    records:
      business_registrations:
        fields:
          kind: {column: kind, values: {个体工商户: other, 有限责任公司: other, 夫妻店: couple_shop}}
          employees: employees
  medical:
    department: 医保
    source: 医保 self-paid costs
    files: extracts/medical_insurance.parquet
    format: parquet
    as_of: 2026-10-31
    person: id_number
    members:
      medical_costs_after_insurance: self_paid
  disability:
    department: 残联
    source: 残联 disability certificates
    files: extracts/disability.csv
    format: csv
    as_of: 2026-10-31
    person: id_number
    members:
      disability_type:
        column: kind
        values: {"1": visual, "2": hearing, "3": speech, "4": physical, "5": intellectual, "6": mental,
                 "7": multiple}
      disability_grade: grade
  students:
    department: 教育
    source: 教育 student status
    files: extracts/students.csv
    format: csv
    as_of: 2026-10-31
    person: id_number
    members:
      education_stage:
        column: stage
        values: {义务教育: compulsory, 普通高中: senior_high, 中等职业教育: secondary_vocational,
                 普通高等教育: higher_undergraduate}
      full_time_student: {column: stage, equals: [义务教育, 普通高中, 中等职业教育, 普通高等教育]}
  check:
    department: 民政
    source: 民政 economic check
    files: extracts/economic_check.csv
    format: csv
    as_of: 2026-10-20
    person: applicant_id
    household_facts:
      assessed_monthly_income: assessed_income
      financial_assets: financial_assets
  enrolment:
    department: 民政
    source: 民政 enrolment list
    files: extracts/enrolment.csv
    format: csv
    as_of: 2026-10-31
    person: id_number
    complete: true
    enrolment:
      program: {column: program, values: {低保: dibao, 低保边缘: marginal, 特困: tekun}}
      amount: amount
      office: office
      since: since
    members:
      has_legal_obligor: {column: has_obligor, values: {是: true, 否: false}}
    household_facts:
      receiving_dibao: {column: program, aggregate: any, equals: 低保}
      current_dibao_amount: {column: amount, aggregate: max, where: {program: [低保]}}
  permits:
    department: 公安
    source: 公安 residence permit register
    files: extracts/residence_permits.csv
    format: csv
    as_of: 2026-10-31
    person: id_number
    complete: true
    members:
      hukou_province: hukou_province       # the holder's hukou province, as the register gives it
    records:
      residence_permits:                   # the holder is the row's person
        fields:
          district: permit_district
          valid_until: valid_until
"""


def generate(out_dir: str | Path, households: int = FULL_HOUSEHOLDS, seed: int = 1) -> dict[str, Any]:
    """Write a synthetic district of `households` households under `out_dir`; return counts of what was written."""
    out = Path(out_dir)
    (out / "extracts").mkdir(parents=True, exist_ok=True)
    district = _District(households, seed)
    district.build()
    for name, (file, columns) in EXTRACTS.items():
        rows = district.rows[name]
        if file.endswith(".parquet"):
            _write_parquet(out / "extracts" / file, rows, columns)
        else:
            _write_csv(out / "extracts" / file, rows, columns)
    (out / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    key = random.Random(f"key-{seed}").randbytes(32).hex()
    (out / "pseudonym.key").write_text(key + "\n", encoding="utf-8")
    pseudo = Pseudonymizer(key.encode())
    with open(out / "truth.jsonl", "w", encoding="utf-8") as f:
        for t in district.truth:
            line = {"kind": t["kind"], "household": pseudo.household(t["booklet"]),
                    "person": pseudo.person(t["person"]) if t["person"] else None, "detail": t["detail"]}
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    return {"households": district.booklets, "people": len(district.rows["hukou"]),
            "rows": {k: len(v) for k, v in district.rows.items()},
            "planted": {k: sum(1 for t in district.truth if t["kind"] == k) for k in KINDS}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--households", type=int, default=FULL_HOUSEHOLDS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = generate(args.out_dir, args.households, args.seed)
    counts["seconds"] = round(time.perf_counter() - started, 1)
    json.dump(counts, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
