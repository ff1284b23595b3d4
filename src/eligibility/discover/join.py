"""Join department extracts into households in DuckDB, from a checked mapping; stream them out as JSONL.

The SQL is generated from the mapping (`JoinSql`); DuckDB reads the CSV and Parquet files itself,
joins and aggregates out of core within a memory limit, and writes the joined households with
`COPY … (FORMAT JSON)`. Python touches rows only to hash identity numbers into pseudonymous ids
(one HMAC a distinct number). See docs/how-to/discovery-data.md.

The joined line of a household (one a line, sorted by id):

    {"id": "h_…", "area": {...}, "household": {... facts with provenance, members ...},
     "enrolled": [...], "conflicts": [...]}

A fact that two sources give differently is left out (unknown) and reported as a `values_disagree`
conflict with both values: never a value chosen silently.
"""

from __future__ import annotations

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
#: Rows per batch when identity numbers are hashed.
_BATCH = 65_536


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


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
    """The SQL of a join, generated from a mapping (DuckDB's dialect; a subclass may change the functions)."""

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping

    # ---------------------------------------------------------------- dialect
    def text(self, col: str) -> str:
        """The column's text, trimmed; NULL when empty."""
        return f"NULLIF(TRIM(CAST({q(col)} AS VARCHAR)), '')"

    def json_string(self, expr: str) -> str:
        return f"CAST(to_json({expr}) AS VARCHAR)"

    def regex(self, expr: str, pattern: str) -> str:
        return f"regexp_full_match({expr}, {lit(pattern)})"

    def parse_date(self, expr: str, fmt: str | None) -> str:
        if fmt:
            return f"strftime(CAST(TRY_STRPTIME({expr}, {lit(fmt)}) AS DATE), '%Y-%m-%d')"
        return f"strftime(TRY_CAST({expr} AS DATE), '%Y-%m-%d')"

    def money(self, expr: str) -> str:
        return f"CAST(CAST({expr} AS DECIMAL(18, 2)) AS VARCHAR)"

    # ---------------------------------------------------------------- conversions
    def value(self, conv: Convert) -> str:
        """An expression giving the fact's value as JSON text, NULL when the column's text cannot be read."""
        assert conv.column is not None
        t = self.text(conv.column.name)
        if conv.values:
            cases = " ".join(f"WHEN {lit(k)} THEN {lit(json.dumps(_typed(v, conv.type)))}" for k, v in conv.values)
            return f"CASE {t} {cases} END"
        if conv.equals:
            return f"CASE WHEN {t} IN ({', '.join(lit(e) for e in conv.equals)}) THEN 'true' ELSE 'false' END"
        if conv.prefix is not None:
            return f"CASE WHEN starts_with({t}, {lit(conv.prefix)}) THEN 'true' ELSE 'false' END"
        kind = conv.type
        if kind == "bool":
            cases = " ".join(f"WHEN {lit(k)} THEN {lit(json.dumps(v))}" for k, v in _BOOL_TEXT.items())
            return f"CASE lower({t}) {cases} END"
        if kind == "integer":
            return f"CASE WHEN {self.regex(t, '-?[0-9]{1,15}')} THEN CAST(CAST({t} AS BIGINT) AS VARCHAR) END"
        if kind == "money":
            ok = self.regex(t, "[0-9]{1,15}([.][0-9]{1,2})?")
            return f"CASE WHEN {ok} THEN {self.json_string(self.money(t))} END"
        if kind == "decimal":
            return f"CASE WHEN {self.regex(t, '-?[0-9]{1,15}([.][0-9]{1,10})?')} THEN {self.json_string(t)} END"
        if kind == "date":
            return self.json_string(self.parse_date(t, conv.date_format))
        return self.json_string(t)

    def provenance(self, v: str, x: Extract) -> str:
        """A record field in the provenance form (NULL when the value is NULL)."""
        return (f"CASE WHEN ({v}) IS NOT NULL THEN json_object('value', CAST({v} AS JSON), 'source', {lit(x.source)}, "
                f"'as_of', {lit(x.as_of.isoformat())}, 'reference', {lit(x.name)}) END")

    def where(self, where: tuple[tuple[Column, tuple[str, ...]], ...]) -> str:
        parts = [f"{self.text(c.name)} IN ({', '.join(lit(v) for v in vals)})" for c, vals in where]
        return " AND ".join(parts) or "TRUE"

    # ---------------------------------------------------------------- stages
    def view(self, i: int, x: Extract) -> str:
        files = "[" + ", ".join(lit(str(p)) for p in x.files) + "]"
        if x.format == "csv":
            src = f"read_csv({files}, header = true, all_varchar = true, union_by_name = true)"
        else:
            src = f"read_parquet({files}, union_by_name = true)"
        return f"CREATE TABLE x{i} AS SELECT * FROM {src}"

    def identity(self, x: Extract) -> str:
        return f"upper({self.text(x.person.name)})"

    def rows(self, i: int, x: Extract) -> str:
        """The extract's rows with their person id (rows without an identity number dropped)."""
        return (f"CREATE TABLE r{i} AS SELECT m.pid, x.* FROM x{i} x "
                f"JOIN pid_map m ON m.raw = {self.identity(x).replace(q(x.person.name), 'x.' + q(x.person.name))}")

    def member_facts(self, i: int, x: Extract) -> list[str]:
        out = []
        for conv in x.members:
            assert conv.column is not None
            t = self.text(conv.column.name)
            if x.household is None:
                out.append(f"SELECT pid, NULL AS hid, {lit(conv.fact)} AS fact, {self.value(conv)} AS val, {i} AS ord, "
                           f"{lit(conv.column.name)} AS col, {t} AS raw FROM r{i} WHERE {t} IS NOT NULL")
            else:  # what a household register says of a person holds in that household (a relation, say)
                out.append(f"SELECT r.pid, h.hid, {lit(conv.fact)} AS fact, {self.value(conv)} AS val, {i} AS ord, "
                           f"{lit(conv.column.name)} AS col, {t} AS raw FROM r{i} r JOIN hid_map h "
                           f"ON h.raw = {self.text(x.household.name)} WHERE {t} IS NOT NULL")
        return out

    def household_facts(self, i: int, x: Extract) -> list[str]:
        """Per household and fact, one row a value (aggregated for sum, count, any, max, min)."""
        out = []
        for conv in x.household_facts:
            rows = f"r{i} r JOIN persons p ON p.pid = r.pid WHERE {self.where(conv.where)}"
            if conv.aggregate == "count":
                agg = "CAST(count(*) AS VARCHAR)"
                zero = "'0'"
            else:
                v = self.value(conv)
                if conv.aggregate == "one":
                    t = self.text(conv.column.name) if conv.column else "NULL"
                    out.append(f"SELECT p.hid, {lit(conv.fact)} AS fact, {v} AS val, {i} AS ord, "
                               f"{lit(conv.column.name if conv.column else '')} AS col, {t} AS raw "
                               f"FROM {rows} AND {t} IS NOT NULL")
                    continue
                if conv.aggregate == "any":
                    agg = f"CASE WHEN bool_or({v} = 'true') THEN 'true' ELSE 'false' END"
                    zero = "'false'"
                elif conv.type == "money":
                    inner = f"CAST(json_extract_string({v}, '$') AS DECIMAL(18, 2))"
                    fn = {"sum": "sum", "max": "max", "min": "min"}[conv.aggregate]
                    agg = self.json_string(f"CAST({fn}({inner}) AS VARCHAR)")
                    zero = "'\"0.00\"'" if fn == "sum" else "NULL"  # the largest of nothing is not known
                elif conv.type in ("integer", "decimal"):
                    fn = {"sum": "sum", "max": "max", "min": "min"}[conv.aggregate]
                    cast = "BIGINT" if conv.type == "integer" else "DECIMAL(38, 10)"
                    agg = f"CAST({fn}(CAST({v} AS {cast})) AS VARCHAR)"
                    zero = "'0'" if fn == "sum" else "NULL"
                else:  # max / min of dates or text: the JSON strings compare as the values do
                    agg = f"{conv.aggregate}({v})"
                    zero = "NULL"
            raw = "NULL"
            if conv.aggregate != "count":
                # One unreadable value makes the aggregate unknown (a sum without it would be wrong); an
                # empty cell says nothing and is skipped; no value at all is unknown.
                v = self.value(conv)
                t = self.text(conv.column.name) if conv.column else "NULL"
                agg = f"CASE WHEN bool_and({t} IS NULL OR ({v}) IS NOT NULL) AND count({t}) > 0 THEN {agg} END"
                raw = f"min(CASE WHEN {t} IS NOT NULL AND ({v}) IS NULL THEN {t} END)"
            col = lit(conv.column.name if conv.column else "")
            select = (f"SELECT p.hid, {lit(conv.fact)} AS fact, {agg} AS val, {i} AS ord, "
                      f"{col} AS col, {raw} AS raw FROM {rows} GROUP BY p.hid")
            if x.complete and zero != "NULL":
                # A complete register: a household with no row has none (0, false), known from this extract.
                select = (f"SELECT h.hid, {lit(conv.fact)} AS fact, CASE WHEN a.hid IS NULL THEN {zero} ELSE a.val "
                          f"END AS val, {i} AS ord, {col} AS col, a.raw FROM households h "
                          f"LEFT JOIN ({select}) a ON a.hid = h.hid")
            out.append(select)
        return out

    def records(self, i: int, x: Extract) -> list[str]:
        """Per household and list fact, the JSON array of its records (NULL if a record cannot be read)."""
        out = []
        for rec in x.records:
            specs = fields_of(self.mapping.facts, rec.fact)
            parts = []
            required = []
            for conv in rec.fields:
                v = self.value(conv)
                parts.append(f"json_object({lit(conv.fact)}, {self.provenance(v, x)})")
                spec = specs.get(conv.fact)
                if spec is not None and spec.required:
                    required.append(f"({v}) IS NOT NULL")
            if rec.owner:
                parts.append(f"json_object('owner', {self.provenance(self.json_string('r.pid'), x)})")
            obj = "'{}'"
            for p in parts:  # merge patch: a NULL (unreadable optional) field is left out
                obj = f"json_merge_patch({obj}, {p})"
            ok = " AND ".join(required) or "TRUE"
            agg = (f"CASE WHEN bool_and({ok}) THEN CAST(to_json(list(CAST({obj} AS JSON) ORDER BY "
                   f"CAST({obj} AS VARCHAR))) AS VARCHAR) END")
            select = (f"SELECT p.hid, {lit(rec.fact)} AS fact, {agg} AS val, {i} AS ord, '' AS col, NULL AS raw "
                      f"FROM r{i} r JOIN persons p ON p.pid = r.pid WHERE {self.where(rec.where)} GROUP BY p.hid")
            if x.complete:
                select = (f"SELECT h.hid, {lit(rec.fact)} AS fact, CASE WHEN a.hid IS NULL THEN '[]' ELSE a.val "
                          f"END AS val, {i} AS ord, "
                          f"'' AS col, NULL AS raw FROM households h LEFT JOIN ({select}) a ON a.hid = h.hid")
            out.append(select)
        return out

    def enrolment(self, i: int, x: Extract) -> str | None:
        e = x.enrolment
        if e is None:
            return None
        assert e.program.column is not None
        t = self.text(e.program.column.name)
        program = f"CASE {t} " + " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in e.program.values) + \
            f" ELSE {t} END" if e.program.values else t
        tier = self.text(e.tier.name) if e.tier else "NULL"
        amount = "NULL"
        if e.amount:
            a = self.text(e.amount.name)
            amount = f"CASE WHEN {self.regex(a, '[0-9]{1,15}([.][0-9]{1,2})?')} THEN {self.money(a)} END"
        office = self.text(e.office.name) if e.office else "NULL"
        since = self.parse_date(self.text(e.since.name), None) if e.since else "NULL"
        return (f"SELECT r.pid, {program} AS program, {tier} AS tier, {amount} AS amount, {office} AS office, "
                f"{since} AS since, {i} AS ord FROM r{i} r WHERE {t} IS NOT NULL")

    def split(self, i: int, x: Extract) -> str | None:
        if x.split is None:
            return None
        hk, rs = (self.text(c.name) for c in x.split)
        return (f"SELECT DISTINCT r.pid, {hk} AS hukou, {rs} AS residence, {i} AS ord FROM r{i} r "
                f"WHERE {hk} IS NOT NULL AND {rs} IS NOT NULL AND {hk} <> {rs}")


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
    sql = JoinSql(mapping)
    with tempfile.TemporaryDirectory(prefix="eligibility-join-") as tmp:
        con = duckdb.connect(config={"memory_limit": memory_limit, "threads": threads,
                                     "temp_directory": tmp, "preserve_insertion_order": False})
        try:
            return _run(con, mapping, sql, pseudo, Path(out), say, started)
        except duckdb.Error as e:
            raise InputError([InputProblem("extracts", "format", _clean(str(e)))], subject="extracts") from None
        finally:
            con.close()


def _clean(message: str) -> str:
    return _ID_LIKE.sub("<identity number>", message.splitlines()[0] if message else "DuckDB error")


def _run(con: Any, mapping: Mapping, sql: JoinSql, pseudo: Pseudonymizer, out: Path,
         say: Callable[[str], None], started: float) -> JoinSummary:
    xs = mapping.extracts
    say("read")
    for i, x in enumerate(xs):
        con.execute(sql.view(i, x))
    columns = {x.name: [r[0] for r in con.execute(f"DESCRIBE x{i}").fetchall()] for i, x in enumerate(xs)}
    check_columns(mapping, columns)
    con.execute("CREATE TABLE ext (ord INTEGER, source VARCHAR, as_of VARCHAR, reference VARCHAR)")
    con.executemany("INSERT INTO ext VALUES (?, ?, ?, ?)",
                    [(i, x.source, x.as_of.isoformat(), x.name) for i, x in enumerate(xs)])

    say("pseudonyms")
    ids = " UNION ".join(f"SELECT {sql.identity(x)} AS raw FROM x{i}" for i, x in enumerate(xs))
    _hash_table(con, "pid_map", "pid", f"SELECT DISTINCT raw FROM ({ids}) WHERE raw IS NOT NULL", pseudo.person)
    hx = [(i, x) for i, x in enumerate(xs) if x.household]
    hk = " UNION ".join(f"SELECT {sql.text(x.household.name)} AS raw FROM x{i}" for i, x in hx if x.household)
    _hash_table(con, "hid_map", "hid", f"SELECT DISTINCT raw FROM ({hk}) WHERE raw IS NOT NULL", pseudo.household)
    no_identity = {x.name: con.execute(f"SELECT count(*) FROM x{i} WHERE {sql.identity(x)} IS NULL").fetchone()[0]
                   for i, x in enumerate(xs)}
    for i, x in enumerate(xs):
        con.execute(sql.rows(i, x))
        con.execute(f"DROP TABLE x{i}")

    say("households")
    memb = " UNION ALL ".join(
        f"SELECT DISTINCT r.pid, h.hid, {i} AS ord FROM r{i} r JOIN hid_map h ON h.raw = "
        f"{sql.text(x.household.name).replace(q(x.household.name), 'r.' + q(x.household.name))}"
        for i, x in hx if x.household)
    con.execute(f"CREATE TABLE membership AS {memb}")
    con.execute("CREATE TABLE persons AS SELECT DISTINCT pid, hid FROM membership")
    con.execute("CREATE TABLE households AS SELECT DISTINCT hid FROM persons")
    unmatched = {x.name: con.execute(f"SELECT count(DISTINCT pid) FROM r{i} WHERE pid NOT IN "
                                     "(SELECT pid FROM persons)").fetchone()[0] for i, x in enumerate(xs)}

    say("facts")
    mf = [s for i, x in enumerate(xs) for s in sql.member_facts(i, x)]
    con.execute("CREATE TABLE mf AS " + (" UNION ALL ".join(mf) if mf else
                "SELECT NULL::VARCHAR pid, NULL::VARCHAR hid, NULL::VARCHAR fact, NULL::VARCHAR val, 0 ord, "
                "NULL::VARCHAR col, NULL::VARCHAR raw WHERE FALSE"))
    hf = [s for i, x in enumerate(xs) for s in (*sql.household_facts(i, x), *sql.records(i, x))]
    con.execute("CREATE TABLE hf AS " + (" UNION ALL ".join(hf) if hf else
                "SELECT NULL::VARCHAR hid, NULL::VARCHAR fact, NULL::VARCHAR val, 0 ord, NULL::VARCHAR col, "
                "NULL::VARCHAR raw WHERE FALSE"))
    problems = _problems(con, xs)
    enr = [s for i, x in enumerate(xs) if (s := sql.enrolment(i, x))]
    con.execute("CREATE TABLE enr AS " + (" UNION ALL ".join(enr) if enr else
                "SELECT NULL::VARCHAR pid, NULL::VARCHAR program, NULL::VARCHAR tier, NULL::VARCHAR amount, "
                "NULL::VARCHAR office, NULL::VARCHAR since, 0 ord WHERE FALSE"))
    spl = [s for i, x in enumerate(xs) if (s := sql.split(i, x))]
    con.execute("CREATE TABLE spl AS " + (" UNION ALL ".join(spl) if spl else
                "SELECT NULL::VARCHAR pid, NULL::VARCHAR hukou, NULL::VARCHAR residence, 0 ord WHERE FALSE"))

    say("assemble")
    for stmt in _ASSEMBLE:
        con.execute(stmt)
    _area(con, sql, mapping)
    counts = dict(con.execute("SELECT kind, count(*) FROM conflicts GROUP BY kind").fetchall())
    out.parent.mkdir(parents=True, exist_ok=True)
    say("write")
    con.execute(f"""COPY (
        SELECT h.hid AS id, CAST(COALESCE(a.area, '{{}}') AS JSON) AS area,
               CAST(json_merge_patch(COALESCE(hfo.obj, '{{}}'),
                    json_object('members', CAST(COALESCE(mo.arr, '[]') AS JSON))) AS JSON) AS household,
               CAST(COALESCE(eo.arr, '[]') AS JSON) AS enrolled, CAST(COALESCE(co.arr, '[]') AS JSON) AS conflicts
        FROM households h
        LEFT JOIN area a ON a.hid = h.hid
        LEFT JOIN hfacts_obj hfo ON hfo.hid = h.hid
        LEFT JOIN members_arr mo ON mo.hid = h.hid
        LEFT JOIN enrolled_arr eo ON eo.hid = h.hid
        LEFT JOIN conflicts_arr co ON co.hid = h.hid
        ORDER BY h.hid) TO {lit(str(out))} (FORMAT JSON)""")
    households = con.execute("SELECT count(*) FROM households").fetchone()[0]
    persons = con.execute("SELECT count(DISTINCT pid) FROM persons").fetchone()[0]
    return JoinSummary(households, persons, {k: int(counts.get(k, 0)) for k in KINDS}, tuple(problems),
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


def _problems(con: Any, xs: tuple[Extract, ...]) -> list[Problem]:
    rows = con.execute("""
        SELECT ord, col, fact, count(*), min(raw) FROM (
            SELECT ord, col, fact, raw FROM mf WHERE val IS NULL
            UNION ALL SELECT ord, col, fact, raw FROM hf WHERE val IS NULL AND raw IS NOT NULL)
        GROUP BY ord, col, fact ORDER BY ord, col, fact""").fetchall()
    out = [Problem(xs[o].name, c, f, int(n), shown(str(ex))) for o, c, f, n, ex in rows]
    lists = con.execute("SELECT ord, fact, count(*) FROM hf WHERE val IS NULL AND raw IS NULL AND col = '' "
                        "GROUP BY ord, fact ORDER BY ord, fact").fetchall()
    out.extend(Problem(xs[o].name, "(records)", f, int(n), "a record field not readable: the list is unknown")
               for o, f, n in lists)
    return out


def _area(con: Any, sql: JoinSql, mapping: Mapping) -> None:
    first = next(((i, x) for i, x in enumerate(mapping.extracts) if x.household and x.area), None)
    if first is None:
        con.execute("CREATE TABLE area AS SELECT hid, NULL::VARCHAR area FROM households WHERE FALSE")
        return
    i, x = first
    assert x.household is not None
    parts = ", ".join(f"{lit(k)}, min({sql.text(c.name)})" for k, c in x.area)
    con.execute(f"""CREATE TABLE area AS SELECT h.hid, CAST(json_merge_patch('{{}}', json_object({parts})) AS VARCHAR)
        AS area FROM r{i} r JOIN hid_map h ON h.raw = {sql.text(x.household.name).replace(
        q(x.household.name), 'r.' + q(x.household.name))} GROUP BY h.hid""")


#: The assembly: facts chosen (or found in conflict), members, household facts, enrolment, conflicts.
_ASSEMBLE = (
    # Member facts: one value across every source (else a conflict, and the fact is left unknown).
    # A person's facts in a household: from every extract, and from a household register only for that household.
    """CREATE TABLE mfh AS SELECT p.hid, f.pid, f.fact, f.val, f.ord FROM mf f
       JOIN persons p ON p.pid = f.pid AND (f.hid IS NULL OR f.hid = p.hid) WHERE f.val IS NOT NULL""",
    """CREATE TABLE mfg AS SELECT hid, pid, fact, count(DISTINCT val) AS nd, arg_min(val, ord) AS val,
       min(ord) AS ord FROM mfh GROUP BY hid, pid, fact""",
    """CREATE TABLE hfg AS SELECT hid, fact, count(DISTINCT val) AS nd, arg_min(val, ord) AS val, min(ord) AS ord
       FROM hf WHERE val IS NOT NULL GROUP BY hid, fact""",
    """CREATE TABLE member_obj AS
       SELECT p.hid, p.pid, CAST(json_merge_patch(json_object('id', p.pid), COALESCE(f.obj, '{}')) AS VARCHAR) AS obj
       FROM persons p LEFT JOIN (
         SELECT g.hid, g.pid, json_group_object(g.fact, json_object('value', CAST(g.val AS JSON), 'source', e.source,
                                                                    'as_of', e.as_of, 'reference', e.reference)) AS obj
         FROM mfg g JOIN ext e ON e.ord = g.ord WHERE g.nd = 1 GROUP BY g.hid, g.pid) f
       ON f.pid = p.pid AND f.hid = p.hid""",
    """CREATE TABLE members_arr AS SELECT hid, CAST(to_json(list(CAST(obj AS JSON) ORDER BY
         (json_extract_string(obj, '$.relation.value') = 'applicant') DESC NULLS LAST, obj)) AS VARCHAR) AS arr
       FROM member_obj GROUP BY hid""",
    # A list fact is the list itself (the engine takes provenance on each record's fields).
    """CREATE TABLE hfacts_obj AS SELECT g.hid, CAST(json_group_object(g.fact, CASE WHEN starts_with(g.val, '[')
         THEN CAST(g.val AS JSON) ELSE json_object('value', CAST(g.val AS JSON),
         'source', e.source, 'as_of', e.as_of, 'reference', e.reference) END) AS VARCHAR) AS obj
       FROM hfg g JOIN ext e ON e.ord = g.ord WHERE g.nd = 1 GROUP BY g.hid""",
    """CREATE TABLE enr_h AS SELECT DISTINCT p.hid, n.pid, n.program, n.tier, n.amount, n.office, n.since, n.ord
       FROM enr n JOIN persons p ON p.pid = n.pid""",
    """CREATE TABLE enrolled_arr AS SELECT hid, CAST(to_json(list(json_object('program', program, 'tier', tier,
         'amount', amount, 'office', office, 'since', since, 'person', pid)
         ORDER BY program, since, office, pid)) AS VARCHAR) AS arr FROM enr_h GROUP BY hid""",
    # Conflicts, one table of (hid, kind, person, detail, sources).
    """CREATE TABLE conflicts (hid VARCHAR, kind VARCHAR, pid VARCHAR, detail VARCHAR, sources VARCHAR)""",
    """INSERT INTO conflicts
       SELECT p.hid, 'two_households', p.pid,
              CAST(json_object('households', (SELECT to_json(list(o.hid ORDER BY o.hid)) FROM persons o
                                              WHERE o.pid = p.pid)) AS VARCHAR),
              (SELECT CAST(to_json(list(DISTINCT e.source ORDER BY e.source)) AS VARCHAR)
               FROM membership m JOIN ext e ON e.ord = m.ord
               WHERE m.pid = p.pid)
       FROM persons p WHERE p.pid IN (SELECT pid FROM persons GROUP BY pid HAVING count(*) > 1)""",
    """INSERT INTO conflicts
       SELECT p.hid, 'hukou_residence_split', s.pid,
              CAST(json_object('hukou', min(s.hukou), 'residence', min(s.residence)) AS VARCHAR),
              CAST(to_json(list(DISTINCT e.source ORDER BY e.source)) AS VARCHAR)
       FROM spl s JOIN persons p ON p.pid = s.pid JOIN ext e ON e.ord = s.ord GROUP BY p.hid, s.pid""",
    """INSERT INTO conflicts
       SELECT p.hid, 'enrolled_twice', n.pid,
              CAST(json_object('program', n.program, 'offices', to_json(list(DISTINCT n.office ORDER BY n.office)))
                   AS VARCHAR),
              CAST(to_json(list(DISTINCT e.source ORDER BY e.source)) AS VARCHAR)
       FROM enr n JOIN persons p ON p.pid = n.pid JOIN ext e ON e.ord = n.ord
       WHERE n.pid IS NOT NULL AND n.office IS NOT NULL
       GROUP BY p.hid, n.pid, n.program HAVING count(DISTINCT n.office) > 1""",
    """INSERT INTO conflicts
       SELECT f.hid, 'values_disagree', f.pid,
              CAST(json_object('fact', f.fact, 'values', to_json(list(DISTINCT json_object('value',
                   CAST(f.val AS JSON), 'source', e.source) ORDER BY json_object('value',
                   CAST(f.val AS JSON), 'source', e.source)))) AS VARCHAR),
              CAST(to_json(list(DISTINCT e.source ORDER BY e.source)) AS VARCHAR)
       FROM mfh f JOIN ext e ON e.ord = f.ord
       WHERE (f.hid, f.pid, f.fact) IN (SELECT hid, pid, fact FROM mfg WHERE nd > 1)
       GROUP BY f.hid, f.pid, f.fact""",
    """INSERT INTO conflicts
       SELECT f.hid, 'values_disagree', NULL,
              CAST(json_object('fact', f.fact, 'values', to_json(list(DISTINCT json_object('value',
                   CAST(f.val AS JSON), 'source', e.source) ORDER BY json_object('value',
                   CAST(f.val AS JSON), 'source', e.source)))) AS VARCHAR),
              CAST(to_json(list(DISTINCT e.source ORDER BY e.source)) AS VARCHAR)
       FROM hf f JOIN ext e ON e.ord = f.ord
       WHERE f.val IS NOT NULL AND (f.hid, f.fact) IN (SELECT hid, fact FROM hfg WHERE nd > 1)
       GROUP BY f.hid, f.fact""",
    """CREATE TABLE conflicts_arr AS SELECT hid, CAST(to_json(list(json_object('kind', kind, 'person', pid,
         'detail', CAST(detail AS JSON), 'sources', CAST(sources AS JSON)) ORDER BY kind, pid, detail)) AS VARCHAR)
         AS arr
       FROM conflicts GROUP BY hid""",
)


def read_joined(path: str | Path) -> Iterator[dict[str, Any]]:
    """Read a joined JSONL file, one household a line."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
