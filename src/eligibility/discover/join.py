"""Join department extracts into households in DuckDB, from a checked mapping; write them as JSONL.

The SQL is generated from the mapping (`JoinSql`, whose few dialect methods `SparkSql` overrides so
that Spark SQL runs the same statements: `eligibility.discover.spark_join`). DuckDB reads the CSV and
Parquet files itself, joins out of core within a memory limit, and builds each household's JSON
line; the households are assembled and written in sixteen slices (by the first hex digit of their
id), so memory stays bounded whatever the district's size. Python touches rows only to hash
identity numbers into pseudonymous ids (one HMAC a distinct number) and to write the lines.

The joined line of a household (one a line, sorted by id; docs/how-to/discovery-data.md):

    {"id": "h_…", "area": {...}, "household": {... facts with provenance, members ...},
     "enrolled": [...], "conflicts": [...]}

A fact that two sources give differently is left out (unknown) and reported as a `values_disagree`
conflict with both values: never a value chosen silently.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from eligibility.base.errors import InputError, InputProblem
from eligibility.discover.conflicts import KINDS
from eligibility.discover.mapping import Column, Convert, Extract, Mapping, check_columns, fields_of
from eligibility.discover.pseudonym import Pseudonymizer

#: Identity-number-like text (18 or 15 characters of a resident ID card): never shown in a message.
_ID_LIKE = re.compile(r"\d{17}[\dXx]|\d{15}")
_BOOL_TEXT = {"true": True, "1": True, "是": True, "y": True, "yes": True,
              "false": False, "0": False, "否": False, "n": False, "no": False}
#: Values hashed a batch.
_BATCH = 65_536
#: Lines fetched and written a batch.
_WRITE_BATCH = 4096
#: The slices households are assembled in: the first hex digit of their id.
SLICES = tuple("0123456789abcdef")
#: Up to this many households are assembled at once.
SMALL = 20_000


def lit(text: str) -> str:
    """Quote an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def shown(value: str) -> str:
    """A value as a message may show it: an identity-number-like value is hidden."""
    if _ID_LIKE.search(value):
        return "<a value like an identity number, not shown>"
    return value if len(value) <= 40 else value[:39] + "…"


@attrs.frozen
class Problem:
    """Values of one column of one extract that could not be read as the fact's type (the fact is unknown)."""

    extract: str
    column: str
    fact: str
    count: int
    example: str

    def __str__(self) -> str:
        return (f"{self.extract}.{self.column} → {self.fact}: {self.count} value(s) not readable as the fact "
                f"(e.g. {self.example!r}); those facts are unknown")


@attrs.frozen
class JoinSummary:
    """What a join did: counts, conflicts by kind, unreadable values, time."""

    households: int
    persons: int
    conflicts: dict[str, int]
    problems: tuple[Problem, ...]
    unmatched: dict[str, int]  # persons of an extract found in no household, by extract
    no_identity: dict[str, int]  # rows without an identity number, by extract
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"households": self.households, "persons": self.persons, "conflicts": self.conflicts,
                "problems": [attrs.asdict(p) for p in self.problems], "unmatched": self.unmatched,
                "no_identity": self.no_identity, "seconds": round(self.seconds, 2)}

    def render(self) -> str:
        lines = [f"joined {self.households:,} households, {self.persons:,} persons in {self.seconds:.1f} s"]
        for kind in KINDS:
            lines.append(f"  conflicts {kind}: {self.conflicts.get(kind, 0):,}")
        for name, n in self.unmatched.items():
            if n:
                lines.append(f"  {name}: {n:,} person(s) in no household (their rows are not used)")
        for name, n in self.no_identity.items():
            if n:
                lines.append(f"  {name}: {n:,} row(s) without an identity number (not used)")
        lines.extend(f"  {p}" for p in self.problems)
        return "\n".join(lines) + "\n"


class JoinSql:
    """The SQL of a join, generated from a mapping, in DuckDB's dialect.

    Every statement builds JSON as text with `concat`, so that the few functions that differ
    between engines are the methods of the first section; `SparkSql` overrides them.
    """

    string = "VARCHAR"

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping

    # ---------------------------------------------------------------- dialect
    def lit(self, text: str) -> str:
        """Quote a string literal."""
        return lit(text)

    def q(self, name: str) -> str:
        """Quote an identifier."""
        return '"' + name.replace('"', '""') + '"'

    def jstr(self, expr: str) -> str:
        """The JSON string of a text expression (NULL stays NULL)."""
        return f"CAST(to_json({expr}) AS VARCHAR)"

    def regex(self, expr: str, pattern: str) -> str:
        """Whether the whole text matches a pattern."""
        return f"regexp_full_match({expr}, {self.lit(pattern)})"

    def parse_date(self, expr: str, fmt: str | None) -> str:
        """A text as YYYY-MM-DD, NULL when it is not a date (in that layout)."""
        if fmt:
            return f"strftime(CAST(TRY_STRPTIME({expr}, {self.lit(fmt)}) AS DATE), '%Y-%m-%d')"
        return f"strftime(TRY_CAST({expr} AS DATE), '%Y-%m-%d')"

    def agg_join(self, value: str, order: str | None = None) -> str:
        """The values of a group joined with commas, in the order of `order` (the values by default)."""
        return f"string_agg({value}, ',' ORDER BY {order or value})"

    def agg_join_distinct(self, value: str) -> str:
        """The distinct values of a group joined with commas, sorted."""
        return f"string_agg(DISTINCT {value}, ',' ORDER BY {value})"

    # ---------------------------------------------------------------- helpers
    def text(self, col: str, table: str = "") -> str:
        """The column's text, trimmed; NULL when empty."""
        ref = f"{table}.{self.q(col)}" if table else self.q(col)
        return f"NULLIF(TRIM(CAST({ref} AS {self.string})), '')"

    def jnull(self, expr: str) -> str:
        return f"COALESCE({self.jstr(expr)}, 'null')"

    def unquote(self, v: str) -> str:
        """The text of a JSON string without escapes (a money or date value)."""
        return f"substr({v}, 2, length({v}) - 2)"

    def tail(self, x: Extract) -> str:
        """The provenance after the value: `,"source":…,"as_of":…,"reference":…}`, as a literal."""
        text = "," + json.dumps({"source": x.source, "as_of": x.as_of.isoformat(), "reference": x.name},
                                ensure_ascii=False, separators=(",", ":"))[1:]
        return self.lit(text)

    # ---------------------------------------------------------------- conversions
    def value(self, conv: Convert, table: str = "") -> str:
        """An expression giving the fact's value as JSON text, NULL when the column's text cannot be read."""
        assert conv.column is not None
        t = self.text(conv.column.name, table)
        if conv.values:
            cases = " ".join(f"WHEN {self.lit(k)} THEN {self.lit(json.dumps(_typed(v, conv.type), ensure_ascii=False))}"
                             for k, v in conv.values)
            return f"CASE {t} {cases} END"
        if conv.equals:
            return f"CASE WHEN {t} IN ({', '.join(self.lit(e) for e in conv.equals)}) THEN 'true' ELSE 'false' END"
        if conv.prefix is not None:
            n = len(conv.prefix)
            return f"CASE WHEN substr({t}, 1, {n}) = {self.lit(conv.prefix)} THEN 'true' ELSE 'false' END"
        kind = conv.type
        if kind == "bool":
            cases = " ".join(f"WHEN {self.lit(k)} THEN {self.lit(json.dumps(v))}" for k, v in _BOOL_TEXT.items())
            return f"CASE lower({t}) {cases} END"
        if kind == "enum":
            return f"CASE WHEN {t} IN ({', '.join(self.lit(c) for c in conv.choices)}) THEN {self.jstr(t)} END"
        if kind == "integer":
            number = f"CAST({t} AS BIGINT)"
            guards = [self.regex(t, "-?[0-9]{1,15}")]
            if conv.minimum is not None:
                guards.append(f"{number} >= {conv.minimum}")
            if conv.maximum is not None:
                guards.append(f"{number} <= {conv.maximum}")
            # CASE evaluates in order: the cast only runs on digits
            guard = " THEN CASE WHEN ".join(guards)
            return f"CASE WHEN {guard} THEN CAST({number} AS {self.string}) " + "END " * len(guards)
        if kind == "money":
            ok = self.regex(t, "[0-9]{1,15}([.][0-9]{1,2})?")
            return f"CASE WHEN {ok} THEN {self.jstr(f'CAST(CAST({t} AS DECIMAL(18, 2)) AS {self.string})')} END"
        if kind == "decimal":
            return f"CASE WHEN {self.regex(t, '-?[0-9]{1,15}([.][0-9]{1,10})?')} THEN {self.jstr(t)} END"
        if kind == "date":
            return self.jstr(self.parse_date(t, conv.date_format))
        return self.jstr(t)

    def where(self, where: tuple[tuple[Column, tuple[str, ...]], ...], table: str = "") -> str:
        parts = [f"{self.text(c.name, table)} IN ({', '.join(self.lit(v) for v in vals)})" for c, vals in where]
        return " AND ".join(parts) or "TRUE"

    # ---------------------------------------------------------------- reading
    def identity(self, x: Extract, table: str = "") -> str:
        return f"upper({self.text(x.person.name, table)})"

    def hkey(self, x: Extract, table: str = "") -> str:
        assert x.household is not None
        return self.text(x.household.name, table)

    def ids_query(self) -> str:
        parts = [f"SELECT {self.identity(x)} AS raw FROM x{i}" for i, x in enumerate(self.mapping.extracts)]
        return f"SELECT DISTINCT raw FROM ({' UNION ALL '.join(parts)}) u WHERE raw IS NOT NULL"

    def households_query(self) -> str:
        parts = [f"SELECT {self.hkey(x)} AS raw FROM x{i}" for i, x in enumerate(self.mapping.extracts)
                 if x.household]
        return f"SELECT DISTINCT raw FROM ({' UNION ALL '.join(parts)}) u WHERE raw IS NOT NULL"

    def ext_query(self) -> str:
        rows = ", ".join(f"({i}, {self.lit(x.source)}, {self.tail(x)})" for i, x in enumerate(self.mapping.extracts))
        return f"SELECT * FROM (VALUES {rows}) AS ext(ord, source, tail)"

    def rows(self, i: int, x: Extract) -> str:
        """The extract's rows with their person id (rows without an identity number dropped)."""
        return f"SELECT m.pid, x.* FROM x{i} x JOIN pid_map m ON m.raw = {self.identity(x, 'x')}"

    # ---------------------------------------------------------------- long tables
    def membership(self) -> str:
        return " UNION ALL ".join(
            f"SELECT DISTINCT r.pid, h.hid, {i} AS ord FROM r{i} r JOIN hid_map h ON h.raw = {self.hkey(x, 'r')}"
            for i, x in enumerate(self.mapping.extracts) if x.household)

    def member_facts(self) -> str:
        """(pid, hid or NULL, fact, val, ord, col, raw): one row a value given; raw kept when it is unreadable."""
        out = []
        for i, x in enumerate(self.mapping.extracts):
            for conv in x.members:
                assert conv.column is not None
                t = self.text(conv.column.name, "r")
                v = self.value(conv, "r")
                hid = f"CAST(NULL AS {self.string})" if x.household is None else "h.hid"
                select = (f"SELECT r.pid, {hid} AS hid, {self.lit(conv.fact)} AS fact, {v} AS val, {i} AS ord, "
                          f"{self.lit(conv.column.name)} AS col, CASE WHEN ({v}) IS NULL THEN {t} END AS raw "
                          f"FROM r{i} r")
                if x.household is not None:  # what a household register says of a person holds in that household
                    select += f" JOIN hid_map h ON h.raw = {self.hkey(x, 'r')}"
                out.append(f"{select} WHERE {t} IS NOT NULL")
        return " UNION ALL ".join(out) or self.empty("pid", "hid", "fact", "val", "ord", "col", "raw")

    def empty(self, *columns: str) -> str:
        cols = ", ".join(f"CAST(NULL AS {'INTEGER' if c == 'ord' else self.string}) AS {c}" for c in columns)
        return f"SELECT {cols} FROM (SELECT 1 AS one) e WHERE 1 = 0"

    def household_facts(self) -> str:
        """(hid, fact, val, ord, col, raw): one row a value (aggregated for sum, count, any, max, min, lists)."""
        out = []
        for i, x in enumerate(self.mapping.extracts):
            out.extend(self._household_facts(i, x))
            out.extend(self._records(i, x))
        return " UNION ALL ".join(out) or self.empty("hid", "fact", "val", "ord", "col", "raw")

    def _household_facts(self, i: int, x: Extract) -> list[str]:
        out = []
        for conv in x.household_facts:
            rows = f"r{i} r JOIN persons p ON p.pid = r.pid WHERE {self.where(conv.where, 'r')}"
            col = self.lit(conv.column.name if conv.column else "")
            if conv.aggregate == "count":
                agg, zero, raw = f"CAST(count(*) AS {self.string})", "'0'", f"CAST(NULL AS {self.string})"
            else:
                assert conv.column is not None
                v = self.value(conv, "r")
                t = self.text(conv.column.name, "r")
                if conv.aggregate == "one":
                    out.append(f"SELECT p.hid, {self.lit(conv.fact)} AS fact, {v} AS val, {i} AS ord, {col} AS col, "
                               f"CASE WHEN ({v}) IS NULL THEN {t} END AS raw FROM {rows} AND {t} IS NOT NULL")
                    continue
                agg, zero = self._aggregate(conv, v)
                # One unreadable value makes the aggregate unknown (a sum without it would be wrong); an
                # empty cell says nothing and is skipped; no value at all is unknown.
                agg = f"CASE WHEN bool_and({t} IS NULL OR ({v}) IS NOT NULL) AND count({t}) > 0 THEN {agg} END"
                raw = f"min(CASE WHEN {t} IS NOT NULL AND ({v}) IS NULL THEN {t} END)"
            select = (f"SELECT p.hid, {self.lit(conv.fact)} AS fact, {agg} AS val, {i} AS ord, {col} AS col, "
                      f"{raw} AS raw FROM {rows} GROUP BY p.hid")
            if x.complete and zero != "NULL":
                # A complete register: a household with no row has none (0, false), known from this extract.
                select = (f"SELECT h.hid, {self.lit(conv.fact)} AS fact, "
                          f"CASE WHEN a.hid IS NULL THEN {zero} ELSE a.val END AS val, {i} AS ord, {col} AS col, "
                          f"a.raw FROM households h LEFT JOIN ({select}) a ON a.hid = h.hid")
            out.append(select)
        return out

    def _aggregate(self, conv: Convert, v: str) -> tuple[str, str]:
        """The aggregate of JSON values `v` and its value for a household with no row (NULL: unknown)."""
        if conv.aggregate == "any":
            return f"CASE WHEN bool_or(({v}) = 'true') THEN 'true' ELSE 'false' END", "'false'"
        fn = conv.aggregate  # sum | max | min
        if conv.type in ("money", "decimal"):
            scale = "DECIMAL(18, 2)" if conv.type == "money" else "DECIMAL(38, 10)"
            inner = f"CAST({self.unquote(v)} AS {scale})"
            zero = ("'\"0.00\"'" if conv.type == "money" else "'\"0\"'") if fn == "sum" else "NULL"
            return self.jstr(f"CAST({fn}({inner}) AS {self.string})"), zero
        if conv.type == "integer":
            return f"CAST({fn}(CAST({v} AS BIGINT)) AS {self.string})", "'0'" if fn == "sum" else "NULL"
        return f"{fn}({v})", "NULL"  # max / min of dates or text: their JSON strings compare as they do

    def _records(self, i: int, x: Extract) -> list[str]:
        """Per household and list fact, the JSON array of its records (NULL if a required field is unreadable)."""
        out = []
        for rec in x.records:
            specs = fields_of(self.mapping.facts, rec.fact)
            fields = []
            required = []
            for conv in rec.fields:
                v = self.value(conv, "r")
                fields.append((conv.fact, f"CASE WHEN ({v}) IS NOT NULL THEN concat({self.lit(json.dumps(conv.fact))}, "
                                          f"':{{\"value\":', {v}, {self.tail(x)}) END"))
                spec = specs.get(conv.fact)
                if spec is not None and spec.required:
                    required.append(f"({v}) IS NOT NULL")
            if rec.owner:  # the row's person, by pseudonym (`owner`, `holder`)
                fields.append((rec.owner, f"concat('\"{rec.owner}\":{{\"value\":', {self.jstr('r.pid')}, "
                                          f"{self.tail(x)})"))
            body = ", ".join(f for _, f in sorted(fields))
            obj = f"concat('{{', concat_ws(',', {body}), '}}')"
            ok = " AND ".join(required) or "TRUE"
            agg = f"CASE WHEN bool_and({ok}) THEN concat('[', {self.agg_join(obj)}, ']') END"
            select = (f"SELECT p.hid, {self.lit(rec.fact)} AS fact, {agg} AS val, {i} AS ord, '' AS col, "
                      f"CAST(NULL AS {self.string}) AS raw FROM r{i} r JOIN persons p ON p.pid = r.pid "
                      f"WHERE {self.where(rec.where, 'r')} GROUP BY p.hid")
            if x.complete:
                select = (f"SELECT h.hid, {self.lit(rec.fact)} AS fact, CASE WHEN a.hid IS NULL THEN '[]' ELSE a.val "
                          f"END AS val, {i} AS ord, '' AS col, a.raw FROM households h "
                          f"LEFT JOIN ({select}) a ON a.hid = h.hid")
            out.append(select)
        return out

    def enrolment(self) -> str:
        out = []
        for i, x in enumerate(self.mapping.extracts):
            e = x.enrolment
            if e is None:
                continue
            assert e.program.column is not None
            t = self.text(e.program.column.name, "r")
            program = t
            if e.program.values:
                cases = " ".join(f"WHEN {self.lit(k)} THEN {self.lit(v)}" for k, v in e.program.values)
                program = f"CASE {t} {cases} ELSE {t} END"
            null = f"CAST(NULL AS {self.string})"
            tier = self.text(e.tier.name, "r") if e.tier else null
            amount = null
            if e.amount:
                a = self.text(e.amount.name, "r")
                amount = (f"CASE WHEN {self.regex(a, '[0-9]{1,15}([.][0-9]{1,2})?')} "
                          f"THEN CAST(CAST({a} AS DECIMAL(18, 2)) AS {self.string}) END")
            office = self.text(e.office.name, "r") if e.office else null
            since = self.parse_date(self.text(e.since.name, "r"), None) if e.since else null
            out.append(f"SELECT r.pid, {program} AS program, {tier} AS tier, {amount} AS amount, {office} AS office, "
                       f"{since} AS since, {i} AS ord FROM r{i} r WHERE {t} IS NOT NULL")
        return " UNION ALL ".join(out) or self.empty("pid", "program", "tier", "amount", "office", "since", "ord")

    def split(self) -> str:
        out = []
        for i, x in enumerate(self.mapping.extracts):
            if x.split is None:
                continue
            hk, rs = (self.text(c.name, "r") for c in x.split)
            out.append(f"SELECT DISTINCT r.pid, {hk} AS hukou, {rs} AS residence, {i} AS ord FROM r{i} r "
                       f"WHERE {hk} IS NOT NULL AND {rs} IS NOT NULL AND {hk} <> {rs}")
        return " UNION ALL ".join(out) or self.empty("pid", "hukou", "residence", "ord")

    def area(self) -> str:
        first = next(((i, x) for i, x in enumerate(self.mapping.extracts) if x.household and x.area), None)
        if first is None:
            return f"SELECT hid, CAST('{{}}' AS {self.string}) AS area FROM households"
        i, x = first
        parts = []
        for k, c in x.area:
            value = f"min({self.text(c.name, 'r')})"
            parts.append(f"CASE WHEN {value} IS NOT NULL "
                         f"THEN concat({self.lit(json.dumps(k))}, ':', {self.jstr(value)}) END")
        return (f"SELECT h.hid, concat('{{', concat_ws(',', {', '.join(parts)}), '}}') AS area "
                f"FROM r{i} r JOIN hid_map h ON h.raw = {self.hkey(x, 'r')} GROUP BY h.hid")

    def long_tables(self) -> list[tuple[str, str]]:
        """The tables every slice reads: membership, persons, facts, enrolment, splits, areas."""
        return [
            ("membership", self.membership()),
            ("persons", "SELECT DISTINCT pid, hid FROM membership"),
            ("households", "SELECT DISTINCT hid FROM persons"),
            ("mf", self.member_facts()),
            ("hf", self.household_facts()),
            ("enr", self.enrolment()),
            ("spl", self.split()),
            ("area", self.area()),
            # people in two households: the households (as a JSON list) and the extracts saying so
            ("multi", f"""SELECT m.pid, concat('[', {self.agg_join_distinct(self.jstr('m.hid'))}, ']') AS hh,
                 concat('[', {self.agg_join_distinct(self.jstr('e.source'))}, ']') AS src
                 FROM membership m JOIN ext e ON e.ord = m.ord
                 WHERE m.pid IN (SELECT pid FROM persons GROUP BY pid HAVING count(*) > 1) GROUP BY m.pid"""),
        ]

    # ---------------------------------------------------------------- assembly of a slice
    def assembly(self, where: str) -> list[tuple[str, str]]:
        """The statements building the lines of the households whose id passes `where` (a condition on `hid`)."""
        sources = self.agg_join_distinct(self.jstr("e.source"))
        values = self.agg_join_distinct("concat('{\"value\":', f.val, ',\"source\":', " + self.jstr("e.source")
                                        + ", '}')")
        member_facts = self.agg_join("concat(" + self.jstr("g.fact") + ", ':{\"value\":', g.val, e.tail)")
        household_facts = self.agg_join("concat(" + self.jstr("g.fact") + ", ':', CASE WHEN substr(g.val, 1, 1) = '[' "
                                        "THEN g.val ELSE concat('{\"value\":', g.val, e.tail) END)")
        enrolled = self.agg_join_distinct(
            "concat('{\"program\":', " + self.jnull("n.program") + ", ',\"tier\":', " + self.jnull("n.tier")
            + ", ',\"amount\":', " + self.jnull("n.amount") + ", ',\"office\":', " + self.jnull("n.office")
            + ", ',\"since\":', " + self.jnull("n.since") + ", ',\"person\":', " + self.jnull("n.pid") + ", '}')")
        conflicts = self.agg_join("concat('{\"kind\":\"', kind, '\",\"person\":', " + self.jnull("pid")
                                  + ", ',\"detail\":', detail, ',\"sources\":', sources, '}')",
                                  "concat(kind, ' ', COALESCE(pid, ''), ' ', detail)")
        return [
            ("s_persons", f"SELECT pid, hid FROM persons WHERE {where}"),
            # a person's facts in a household: from every extract, from a household register only for that household
            ("s_mfh", """SELECT p.hid, f.pid, f.fact, f.val, f.ord FROM mf f
                JOIN s_persons p ON p.pid = f.pid AND (f.hid IS NULL OR f.hid = p.hid) WHERE f.val IS NOT NULL"""),
            ("s_mfg", """SELECT hid, pid, fact, count(DISTINCT val) AS nd, min_by(val, ord) AS val, min(ord) AS ord
                FROM s_mfh GROUP BY hid, pid, fact"""),
            ("s_hfg", f"""SELECT hid, fact, count(DISTINCT val) AS nd, min_by(val, ord) AS val, min(ord) AS ord
                FROM hf WHERE val IS NOT NULL AND {where} GROUP BY hid, fact"""),
            ("s_member", f"""SELECT p.hid, p.pid,
                concat('{{"id":', {self.jstr('p.pid')}, CASE WHEN f.obj IS NULL THEN '' ELSE concat(',', f.obj) END,
                       '}}') AS obj,
                CASE WHEN f.applicant THEN '0' ELSE '1' END AS rank
                FROM s_persons p LEFT JOIN (
                  SELECT g.hid, g.pid, {member_facts} AS obj,
                         bool_or(g.fact = 'relation' AND g.val = '"applicant"') AS applicant
                  FROM s_mfg g JOIN ext e ON e.ord = g.ord WHERE g.nd = 1 GROUP BY g.hid, g.pid) f
                ON f.pid = p.pid AND f.hid = p.hid"""),
            ("s_members", f"""SELECT hid, {self.agg_join('obj', "concat(rank, pid)")} AS arr
                FROM s_member GROUP BY hid"""),
            # a list fact is the list itself (the engine takes provenance on each record's fields)
            ("s_hfacts", f"""SELECT g.hid, {household_facts} AS obj
                FROM s_hfg g JOIN ext e ON e.ord = g.ord WHERE g.nd = 1 GROUP BY g.hid"""),
            ("s_enrolled", f"""SELECT p.hid, {enrolled} AS arr
                FROM enr n JOIN s_persons p ON p.pid = n.pid GROUP BY p.hid"""),
            ("s_conflicts", f"""
                SELECT p.hid, 'two_households' AS kind, p.pid, concat('{{"households":', m.hh, '}}') AS detail,
                       m.src AS sources
                FROM s_persons p JOIN multi m ON m.pid = p.pid
                UNION ALL
                SELECT p.hid, 'hukou_residence_split', s.pid,
                       concat('{{"hukou":', {self.jstr('min(s.hukou)')},
                              ',"residence":', {self.jstr('min(s.residence)')}, '}}'), concat('[', {sources}, ']')
                FROM spl s JOIN s_persons p ON p.pid = s.pid JOIN ext e ON e.ord = s.ord GROUP BY p.hid, s.pid
                UNION ALL
                SELECT p.hid, 'enrolled_twice', n.pid,
                       concat('{{"program":', {self.jstr('n.program')}, ',"offices":[',
                              {self.agg_join_distinct(self.jstr('n.office'))}, ']}}'), concat('[', {sources}, ']')
                FROM enr n JOIN s_persons p ON p.pid = n.pid JOIN ext e ON e.ord = n.ord
                WHERE n.office IS NOT NULL AND n.program IS NOT NULL
                GROUP BY p.hid, n.pid, n.program HAVING count(DISTINCT n.office) > 1
                UNION ALL
                SELECT f.hid, 'values_disagree', f.pid,
                       concat('{{"fact":', {self.jstr('f.fact')}, ',"values":[', {values}, ']}}'),
                       concat('[', {sources}, ']')
                FROM s_mfh f JOIN ext e ON e.ord = f.ord
                JOIN (SELECT hid, pid, fact FROM s_mfg WHERE nd > 1) d ON d.hid = f.hid AND d.pid = f.pid
                     AND d.fact = f.fact
                GROUP BY f.hid, f.pid, f.fact
                UNION ALL
                SELECT f.hid, 'values_disagree', CAST(NULL AS {self.string}),
                       concat('{{"fact":', {self.jstr('f.fact')}, ',"values":[', {values}, ']}}'),
                       concat('[', {sources}, ']')
                FROM hf f JOIN ext e ON e.ord = f.ord
                JOIN (SELECT hid, fact FROM s_hfg WHERE nd > 1) d ON d.hid = f.hid AND d.fact = f.fact
                WHERE f.val IS NOT NULL
                GROUP BY f.hid, f.fact"""),
            ("s_conflicts_arr", f"""SELECT hid, {conflicts} AS arr
                FROM s_conflicts GROUP BY hid"""),
            ("s_lines", f"""SELECT h.hid AS id, concat('{{"id":', {self.jstr('h.hid')},
                ',"area":', COALESCE(a.area, '{{}}'),
                ',"household":{{', CASE WHEN hf.obj IS NULL THEN '' ELSE concat(hf.obj, ',') END,
                '"members":[', COALESCE(mo.arr, ''), ']}}',
                ',"enrolled":[', COALESCE(eo.arr, ''), ']',
                ',"conflicts":[', COALESCE(co.arr, ''), ']}}') AS line
                FROM (SELECT hid FROM households WHERE {where}) h
                LEFT JOIN area a ON a.hid = h.hid
                LEFT JOIN s_hfacts hf ON hf.hid = h.hid
                LEFT JOIN s_members mo ON mo.hid = h.hid
                LEFT JOIN s_enrolled eo ON eo.hid = h.hid
                LEFT JOIN s_conflicts_arr co ON co.hid = h.hid"""),
        ]

    def problems(self) -> str:
        return """SELECT ord, col, fact, count(*) AS n, min(raw) AS example FROM (
            SELECT ord, col, fact, raw FROM mf WHERE val IS NULL
            UNION ALL SELECT ord, col, fact, raw FROM hf WHERE val IS NULL AND raw IS NOT NULL
            UNION ALL SELECT ord, '(records)' AS col, fact, '' AS raw FROM hf WHERE val IS NULL AND col = ''
                AND raw IS NULL) u
            GROUP BY ord, col, fact ORDER BY ord, col, fact"""


def _typed(value: str, kind: str) -> object:
    if kind == "bool":
        return value == "true"
    return value


def join(mapping: Mapping, out: str | Path, key: bytes, *, memory_limit: str = "2GB", threads: int = 2,
         progress: Callable[[str], None] | None = None) -> JoinSummary:
    """Join the mapping's extracts into households and write them to `out` as JSONL (one household a line).

    Args:
        mapping: a checked mapping (`load_mapping`).
        out: the JSONL file to write (replaced).
        key: the pseudonym key (`read_key`); never written anywhere.
        memory_limit: DuckDB's memory limit; beyond it DuckDB spills to a temporary folder.
        threads: DuckDB's threads.
        progress: called with the name of each stage as it starts.

    Returns:
        The summary: counts, conflicts by kind, unreadable values.

    Raises:
        MappingError: a column the mapping names is not in its extract.
        InputError: DuckDB is not installed, or an extract cannot be read.
    """
    try:
        import duckdb
    except ImportError:  # pragma: no cover - the `discover` extra
        raise InputError([InputProblem("duckdb", "missing", "the join needs DuckDB: pip install "
                                       "'eligibility[discover]'")], subject="arguments") from None
    started = time.perf_counter()
    say = progress or (lambda _s: None)
    pseudo = Pseudonymizer(key)
    with tempfile.TemporaryDirectory(prefix="eligibility-join-") as tmp:
        con = duckdb.connect(config={"memory_limit": memory_limit, "threads": threads,
                                     "temp_directory": tmp, "preserve_insertion_order": False})
        try:
            return _run(con, duckdb, JoinSql(mapping), pseudo, Path(out), say, started)
        except duckdb.Error as e:
            raise InputError([InputProblem("extracts", "format", _clean(str(e)))], subject="extracts") from None
        finally:
            con.close()


def _clean(message: str) -> str:
    return _ID_LIKE.sub("<identity number>", message.splitlines()[0] if message.strip() else "DuckDB error")


def _read(x: Extract, files: tuple[Path, ...] | None = None) -> str:
    """The DuckDB table function reading an extract (CSV: every column as text, the header's columns)."""
    paths = files or x.files
    names = "[" + ", ".join(lit(str(p)) for p in paths) + "]"
    if x.format == "parquet":
        return f"read_parquet({names}, union_by_name = true)"
    columns = ", ".join(f"{lit(c)}: 'VARCHAR'" for c in csv_header(paths[0]))
    return (f"read_csv({names}, header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
            f"columns = {{{columns}}})")


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV file's first line."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        return next(csv.reader(f), [])


def _load_extract(con: Any, duckdb: Any, i: int, x: Extract) -> None:
    """Read an extract into table x{i}; a file that cannot be read is an error naming it and the line."""
    try:
        if x.format == "csv":
            first = csv_header(x.files[0])
            for path in x.files[1:]:
                if csv_header(path) != first:
                    raise InputError([InputProblem(f"{x.name}: {path}", "format",
                                                   f"its header differs from {x.files[0].name}'s")], subject="extracts")
        con.execute(f"CREATE TABLE x{i} AS SELECT * FROM {_read(x)}")
    except duckdb.Error as e:
        where = str(x.files[0]) if len(x.files) == 1 else None
        for path in x.files if where is None else ():
            try:
                con.execute(f"SELECT count(*) FROM {_read(x, (path,))}").fetchall()
            except duckdb.Error:
                where = str(path)
                break
        raise InputError([InputProblem(f"{x.name}: {where or x.files[0]}", "format", _csv_message(str(e)))],
                         subject="extracts") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError([InputProblem(f"{x.name}: {x.files[0]}", "format", f"cannot be read: {e}")],
                         subject="extracts") from None


def _csv_message(message: str) -> str:
    """DuckDB's message without the rows it quotes (they may hold identity numbers)."""
    keep = [line.strip() for line in message.splitlines()
            if re.match(r"\s*(.*Error:|CSV Error on Line|Expected Number of Columns)", line)]
    return _clean(" ".join(keep) or message)


def _run(con: Any, duckdb: Any, sql: JoinSql, pseudo: Pseudonymizer, out: Path, say: Callable[[str], None],
         started: float) -> JoinSummary:
    mapping = sql.mapping
    xs = mapping.extracts
    say("read")
    for i, x in enumerate(xs):
        _load_extract(con, duckdb, i, x)
    columns = {x.name: [r[0] for r in con.execute(f"DESCRIBE x{i}").fetchall()] for i, x in enumerate(xs)}
    check_columns(mapping, columns)
    con.execute(f"CREATE TABLE ext AS {sql.ext_query()}")

    say("pseudonyms")
    _hash_table(con, "pid_map", "pid", sql.ids_query(), pseudo.person)
    _hash_table(con, "hid_map", "hid", sql.households_query(), pseudo.household)
    no_identity = {x.name: con.execute(f"SELECT count(*) FROM x{i} WHERE {sql.identity(x)} IS NULL").fetchone()[0]
                   for i, x in enumerate(xs)}
    for i, x in enumerate(xs):
        con.execute(f"CREATE TABLE r{i} AS {sql.rows(i, x)}")
        con.execute(f"DROP TABLE x{i}")

    say("join")
    for name, select in sql.long_tables():
        con.execute(f"CREATE TABLE {name} AS {select}")
    unmatched = {x.name: con.execute(f"SELECT count(DISTINCT pid) FROM r{i} WHERE pid NOT IN "
                                     "(SELECT pid FROM persons)").fetchone()[0] for i, x in enumerate(xs)}
    problems = [Problem(xs[o].name, c, f, int(n), shown(str(ex)) if c != "(records)" else
                        "a record field not readable: the list is unknown")
                for o, c, f, n, ex in con.execute(sql.problems()).fetchall()]

    say("assemble")
    out.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    households = con.execute("SELECT count(*) FROM households").fetchone()[0]
    slices = [f"substr(hid, 3, 1) = '{d}'" for d in SLICES] if households > SMALL else ["TRUE"]
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for where in slices:
            for name, select in sql.assembly(where):
                con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}")
            for kind, n in con.execute("SELECT kind, count(*) FROM s_conflicts GROUP BY kind").fetchall():
                counts[kind] = counts.get(kind, 0) + int(n)
            cursor = con.execute("SELECT line FROM s_lines ORDER BY id")
            while rows := cursor.fetchmany(_WRITE_BATCH):
                f.writelines(r[0] + "\n" for r in rows)
    persons = con.execute("SELECT count(DISTINCT pid) FROM persons").fetchone()[0]
    return JoinSummary(households, persons, {k: counts.get(k, 0) for k in KINDS}, tuple(problems),
                       unmatched, no_identity, time.perf_counter() - started)


def _hash_table(con: Any, table: str, column: str, query: str, fn: Callable[[str], str]) -> None:
    """Create `table (raw, column)` with the pseudonym of every distinct raw value the query gives."""
    import pyarrow as pa

    con.execute(f"CREATE TABLE {table} (raw VARCHAR, {column} VARCHAR)")
    values = con.sql(query).to_arrow_table().column(0)
    for start in range(0, len(values), _BATCH):
        raws = values.slice(start, _BATCH).to_pylist()
        con.register("chunk", pa.table({"raw": raws, column: [fn(r) for r in raws]}))
        con.execute(f"INSERT INTO {table} SELECT raw, {column} FROM chunk")
        con.unregister("chunk")


def read_joined(path: str | Path) -> Iterator[dict[str, Any]]:
    """Read a joined JSONL file, one household a line."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
