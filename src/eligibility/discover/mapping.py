"""The mapping file: which department extracts exist and how their columns become household facts.

A mapping file is YAML read by the policies' strict loader and checked like a policy: every problem
is listed at `file:line:col` with the line and a hint, fact names are checked against the facts
vocabulary (with "did you mean"), enum values against the fact's values. See
docs/how-to/discovery-data.md for the format.
"""

from __future__ import annotations

import datetime as dt
import glob
from pathlib import Path

import attrs

from eligibility.base.errors import Diagnostic, PolicyError
from eligibility.base.source import SourceText, Span, did_you_mean, readable
from eligibility.lang.facts import read_facts
from eligibility.lang.loader import YMap, YNode, YScalar, YSeq, load_file
from eligibility.lang.model import Facts, FieldSpec
from eligibility.lang.reader import NAME_RE, Reader

FORMATS = ("csv", "parquet")
#: How the rows of an extract give one household fact.
AGGREGATES = ("one", "sum", "count", "any", "max", "min")
#: The programs an enrolment list may name.
PROGRAMS_HINT = "dibao, marginal, tekun, ..."
_TOP_KEYS = ("mapping", "district", "description", "extracts")
_EXTRACT_KEYS = ("department", "source", "description", "files", "format", "as_of", "person", "household",
                 "area", "split", "complete", "members", "household_facts", "records", "enrolment")
_CONVERT_KEYS = ("column", "values", "equals", "prefix", "date_format", "aggregate", "where", "description")
_RECORD_KEYS = ("fields", "where", "description")
_ENROL_KEYS = ("program", "tier", "amount", "office", "since")
_AREA_KEYS = ("district", "town", "community")
_BOOL_WORDS = {"true": True, "false": False}


class MappingError(PolicyError):
    """A mapping file with problems: every one, at file:line:col with the line and a hint."""


@attrs.frozen
class Column:
    """A column of an extract named in the mapping, with where it was named."""

    name: str
    span: Span


@attrs.frozen
class Convert:
    """How one column becomes one fact (or one field of a record).

    `type` is the fact's type in the vocabulary. `values` maps the column's text to the fact's
    value (enum names, or true/false); `equals` / `prefix` make a bool of a text column;
    `date_format` is a strptime pattern for a date column written otherwise than YYYY-MM-DD.
    For a household fact, `aggregate` says how the rows of the household's members combine.
    """

    fact: str
    type: str
    column: Column | None
    values: tuple[tuple[str, str], ...] = ()
    equals: tuple[str, ...] = ()
    prefix: str | None = None
    date_format: str | None = None
    aggregate: str = "one"
    where: tuple[tuple[Column, tuple[str, ...]], ...] = ()
    span: Span | None = None
    #: The enum's names, and the bounds of an integer, from the vocabulary: other values are unreadable.
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


def _bounds(spec: FieldSpec) -> dict[str, object]:
    return {"choices": tuple(v for v, _ in spec.values),
            "minimum": int(spec.minimum) if spec.type == "integer" and spec.minimum is not None else None,
            "maximum": int(spec.maximum) if spec.type == "integer" and spec.maximum is not None else None}


#: The fields of a list's records that name a member: filled with the row's person, never mapped.
PERSON_FIELDS = ("owner", "holder")


@attrs.frozen
class Records:
    """Rows of an extract that become records of a list fact (vehicles, business registrations, residence permits)."""

    fact: str
    fields: tuple[Convert, ...]
    #: The field of the list's records that names a member (`owner`, a permit's `holder`), filled with
    #: the pseudonym of the row's person; None when the records have no such field.
    owner: str | None
    where: tuple[tuple[Column, tuple[str, ...]], ...]
    span: Span


@attrs.frozen
class Enrolment:
    """The columns of a civil-affairs enrolment list: who is enrolled in what, where and since when."""

    program: Convert
    tier: Column | None
    amount: Column | None
    office: Column | None
    since: Column | None
    span: Span


@attrs.frozen
class Extract:
    """One department extract: its files and what its columns say."""

    name: str
    department: str
    source: str
    files: tuple[Path, ...]
    format: str
    as_of: dt.date
    person: Column
    household: Column | None
    area: tuple[tuple[str, Column], ...]
    split: tuple[Column, Column] | None
    complete: bool
    members: tuple[Convert, ...]
    household_facts: tuple[Convert, ...]
    records: tuple[Records, ...]
    enrolment: Enrolment | None
    span: Span

    def columns(self) -> list[Column]:
        """Every column the mapping names in this extract."""
        out = [self.person]
        if self.household:
            out.append(self.household)
        out.extend(c for _, c in self.area)
        if self.split:
            out.extend(self.split)
        for conv in (*self.members, *self.household_facts, *(f for r in self.records for f in r.fields)):
            if conv.column:
                out.append(conv.column)
            out.extend(c for c, _ in conv.where)
        for r in self.records:
            out.extend(c for c, _ in r.where)
        if self.enrolment:
            e = self.enrolment
            out.extend(c for c in (e.program.column, e.tier, e.amount, e.office, e.since) if c is not None)
        return out


@attrs.frozen
class Mapping:
    """A checked mapping file."""

    path: str
    district: str
    extracts: tuple[Extract, ...]
    facts: Facts
    source: SourceText

    def sources(self) -> dict[str, SourceText]:
        return {self.source.path: self.source}


def bundled_facts() -> Facts:
    """Read the facts vocabulary of the bundled policies."""
    from eligibility.engine.runtime import bundled_policies

    return read_vocabulary(bundled_policies() / "facts.yaml")


def read_vocabulary(path: Path) -> Facts:
    """Read a facts vocabulary file (policies/facts.yaml).

    Raises:
        PolicyError: the file has problems.
    """
    diags: list[Diagnostic] = []
    loaded = load_file(path, str(path), diags)
    facts = None
    if loaded is not None and isinstance(loaded.root, YMap):
        facts = read_facts(Reader(loaded.source, diags), loaded.root)
    errors = [d for d in diags if d.severity == "error"]
    if facts is None or errors:
        raise PolicyError(diags or [Diagnostic(None, "facts", f"{path} is not a facts file")],
                          {loaded.source.path: loaded.source} if loaded else None)
    return facts


def load_mapping(path: str | Path, facts: Facts | None = None, *, check_files: bool = True) -> Mapping:
    """Read and check a mapping file; file globs are relative to its folder.

    Args:
        path: the mapping file.
        facts: the facts vocabulary to check fact names against; the bundled one by default.
        check_files: report a `files:` glob that matches no file.

    Raises:
        MappingError: every problem of the file, at file:line:col.
    """
    path = Path(path)
    facts = facts if facts is not None else bundled_facts()
    diags: list[Diagnostic] = []
    loaded = load_file(path, str(path), diags)
    if loaded is None or loaded.root is None:
        raise MappingError(diags, {loaded.source.path: loaded.source} if loaded else None)
    r = _MappingReader(loaded.source, diags, facts, path.parent, check_files)
    mapping = r.read(loaded.root)
    if mapping is None or any(d.severity == "error" for d in diags):
        raise MappingError(diags, {loaded.source.path: loaded.source})
    return mapping


class _MappingReader(Reader):
    def __init__(self, source: SourceText, diags: list[Diagnostic], facts: Facts, base: Path,
                 check_files: bool) -> None:
        super().__init__(source, diags)
        self.facts = facts
        self.base = base
        self.check_files = check_files
        members = facts.field("members")
        self.member_fields = {f.name: f for f in (members.fields if members else ()) if f.name != "id"}
        self.household_fields = {f.name: f for f in facts.fields if f.type != "list"}
        self.list_fields = {f.name: f for f in facts.fields if f.type == "list" and f.name not in ("members",)}
        self.seen: dict[tuple[str, str], Span] = {}  # list facts given by an extract: one extract each

    def read(self, root: YNode) -> Mapping | None:
        m = self.mapping(root, "the mapping file", _TOP_KEYS, ("mapping", "district", "extracts"))
        if m is None:
            return None
        version = m.get("mapping")
        if version is not None and not (isinstance(version, YScalar) and version.value == "1"):
            self.error(version, "mapping-version", "this library reads mapping files of version 1",
                       "write `mapping: 1`")
        district = self.text(m.get("district"), "district") or ""
        if district and not (len(district) == 6 and district.isdigit()):
            node = m.get("district")
            assert node is not None
            self.error(node, "district", f"district must be a six-digit GB/T 2260 code, not {readable(district, 20)!r}",
                       'Huadu is "440114"; quote the code')
        extracts: list[Extract] = []
        node = m.get("extracts")
        if node is not None:
            em = self.mapping(node, "extracts", None)
            if em is not None:
                if not em.items:
                    self.error(em, "no-extracts", "extracts must name at least one extract")
                for key, value in em.items:
                    name = key.value
                    if not NAME_RE.match(name) or len(name) > 64:
                        self.error(key, "invalid-name", f"extract name '{readable(name, 70)}' must be lower-case "
                                   "ASCII letters, digits and underscores, starting with a letter",
                                   "use a name like hukou or hrss_wages")
                        continue
                    x = self.extract(name, key, value)
                    if x is not None:
                        extracts.append(x)
        if extracts and not any(x.household for x in extracts):
            assert node is not None
            self.error(node, "no-households", "no extract says which household each person belongs to",
                       "give `household: COLUMN` (the hukou booklet number, say) in the public-security extract")
        return Mapping(self.file, district, tuple(extracts), self.facts, self.source)

    def column(self, node: YNode | None, what: str) -> Column | None:
        text = self.text(node, what)
        if text is None or node is None:
            return None
        if not text.strip():
            self.error(node, "expected-column", f"{what} must name a column")
            return None
        return Column(text, node.span)

    def extract(self, name: str, key: YScalar, node: YNode) -> Extract | None:
        what = f"extract '{name}'"
        m = self.mapping(node, what, _EXTRACT_KEYS, ("department", "files", "format", "as_of", "person"))
        if m is None:
            return None
        department = self.text(m.get("department"), f"{what}.department") or ""
        source = self.text(m.get("source"), f"{what}.source") or f"{department} {name}"
        fmt = self.text(m.get("format"), f"{what}.format")
        fmt_node = m.get("format")
        if fmt is not None and fmt_node is not None and fmt not in FORMATS:
            guess = did_you_mean(fmt, FORMATS)
            self.error(fmt_node, "format", f"format must be csv or parquet, not {readable(fmt, 20)!r}",
                       f"did you mean '{guess}'?" if guess else None)
        files = self.files(m.get("files"), what, fmt or "")
        as_of = self.date(m.get("as_of"), f"{what}.as_of")
        person = self.column(m.get("person"), f"{what}.person")
        household = self.column(m.get("household"), f"{what}.household")
        area: list[tuple[str, Column]] = []
        if (an := m.get("area")) is not None and (am := self.mapping(an, f"{what}.area", _AREA_KEYS)) is not None:
            for k, v in am.items:
                if k.value in _AREA_KEYS and (c := self.column(v, f"{what}.area.{k.value}")) is not None:
                    area.append((k.value, c))
        split = None
        if (sn := m.get("split")) is not None and (
                sm := self.mapping(sn, f"{what}.split", ("hukou", "residence"), ("hukou", "residence"))) is not None:
            hk = self.column(sm.get("hukou"), f"{what}.split.hukou")
            rs = self.column(sm.get("residence"), f"{what}.split.residence")
            if hk and rs:
                split = (hk, rs)
        complete = bool(self.boolean(m.get("complete"), f"{what}.complete")) if m.get("complete") else False
        members = self.converts(m.get("members"), what, "members", self.member_fields, household=False)
        hfacts = self.converts(m.get("household_facts"), what, "household_facts", self.household_fields,
                               household=True)
        records = self.records(m.get("records"), what)
        enrolment = self.enrolment(m.get("enrolment"), what)
        if (household is None and not members and not hfacts and not records and enrolment is None
                and split is None):
            self.warn(key, "extract-unused", f"{what} gives no fact, household, enrolment or split",
                      "map its columns under members:, household_facts:, records: or enrolment:")
        if fmt is None or as_of is None or person is None or files is None:
            return None
        return Extract(name, department, source, files, fmt, as_of, person, household, tuple(area), split, complete,
                       members, hfacts, records, enrolment, key.span)

    def files(self, node: YNode | None, what: str, fmt: str) -> tuple[Path, ...] | None:
        pattern = self.text(node, f"{what}.files")
        if pattern is None or node is None:
            return None
        full = pattern if Path(pattern).is_absolute() else str(self.base / pattern)
        found = tuple(sorted(Path(p) for p in glob.glob(full, recursive=True) if Path(p).is_file()))
        if not found and self.check_files:
            self.error(node, "no-files", f"no file matches {readable(pattern, 80)!r}",
                       f"file globs are relative to the mapping file's folder ({self.base})")
            return None
        if fmt in FORMATS:
            odd = [p.name for p in found if not p.name.lower().endswith("." + fmt)]
            if odd:
                self.warn(node, "file-extension", f"{len(odd)} file(s) do not end in .{fmt}: {readable(odd[0], 60)}",
                          "check the glob and the format")
        return found

    def converts(self, node: YNode | None, what: str, part: str, fields: dict[str, FieldSpec],
                 household: bool) -> tuple[Convert, ...]:
        if node is None:
            return ()
        m = self.mapping(node, f"{what}.{part}", None)
        if m is None:
            return ()
        out: list[Convert] = []
        for key, value in m.items:
            spec = fields.get(key.value)
            if spec is None:
                self.unknown_fact(key, part, fields)
                continue
            conv = self.convert(key.value, spec, value, f"{what}.{part}.{key.value}", household)
            if conv is not None:
                out.append(conv)
        return tuple(out)

    def unknown_fact(self, key: YScalar, part: str, fields: dict[str, FieldSpec]) -> None:
        name = key.value
        where = {"members": "member", "household_facts": "household", "records": "list"}.get(part, "record")
        elsewhere = []
        if part != "members" and name in self.member_fields:
            elsewhere.append("members")
        if part != "household_facts" and name in self.household_fields:
            elsewhere.append("household_facts")
        if part != "records" and name in self.list_fields:
            elsewhere.append("records")
        if elsewhere and part in ("members", "household_facts", "records"):
            hint = f"'{name}' is a {'member' if elsewhere[0] == 'members' else 'household'} fact" \
                if elsewhere[0] != "records" else f"'{name}' is a list: map it under records:"
            hint += f"; move it under {elsewhere[0]}:" if elsewhere[0] != "records" else ""
        else:
            guess = did_you_mean(name, list(fields))
            hint = f"did you mean '{guess}'?" if guess else "the facts are declared in the policies' facts.yaml"
        self.error(key, "unknown-fact", f"'{readable(name, 64)}' is not a {where} fact of the vocabulary", hint)

    def convert(self, fact: str, spec: FieldSpec, node: YNode, what: str, household: bool) -> Convert | None:
        if isinstance(node, YScalar):  # shorthand: `fact: column`
            col = self.column(node, what)
            if col is None:
                return None
            if spec.type == "enum":
                self.warn(node, "enum-without-values", f"{what}: the column's text must be the enum's names",
                          "give `values:` mapping the column's codes to " + ", ".join(v for v, _ in spec.values))
            return Convert(fact, spec.type, col, span=node.span, **_bounds(spec))  # type: ignore[arg-type]
        m = self.mapping(node, what, _CONVERT_KEYS)
        if m is None:
            return None
        col = self.column(m.get("column"), f"{what}.column") if m.get("column") is not None else None
        aggregate = "one"
        if (an := m.get("aggregate")) is not None:
            agg = self.text(an, f"{what}.aggregate") or "one"
            if not household:
                self.error(an, "aggregate", "a member fact is one value a person; aggregate is for household facts")
            elif agg not in AGGREGATES:
                guess = did_you_mean(agg, AGGREGATES)
                self.error(an, "aggregate", f"aggregate must be one of {', '.join(AGGREGATES)}",
                           f"did you mean '{guess}'?" if guess else None)
            else:
                aggregate = agg
        if col is None and aggregate != "count":
            self.error(node, "missing-key", f"{what} needs 'column'", "name the extract's column the fact comes from")
            return None
        if aggregate == "count" and spec.type != "integer":
            self.error(m.get("aggregate") or node, "aggregate-type",
                       f"count gives a whole number, but '{fact}' is {spec.type}")
        if aggregate == "any" and spec.type != "bool":
            self.error(m.get("aggregate") or node, "aggregate-type",
                       f"any gives true or false, but '{fact}' is {spec.type}")
        if aggregate == "sum" and spec.type not in ("integer", "money", "decimal"):
            self.error(m.get("aggregate") or node, "aggregate-type", f"sum adds numbers, but '{fact}' is {spec.type}")
        values: list[tuple[str, str]] = []
        if (vn := m.get("values")) is not None and (vm := self.mapping(vn, f"{what}.values", None)) is not None:
            allowed = [v for v, _ in spec.values] if spec.type == "enum" else ["true", "false"]
            if spec.type not in ("enum", "bool"):
                self.error(vn, "values", f"values maps codes to an enum or true/false, but '{fact}' is {spec.type}")
            for k, v in vm.items:
                target = self.text(v, f"{what}.values.{k.value}")
                if target is None:
                    continue
                if spec.type in ("enum", "bool") and target not in allowed:
                    guess = did_you_mean(target, allowed)
                    self.error(v, "unknown-value", f"'{readable(target, 40)}' is not a value of '{fact}'",
                               f"did you mean '{guess}'?" if guess else "values: " + ", ".join(allowed))
                    continue
                values.append((k.value, target))
        equals: list[str] = []
        if (en := m.get("equals")) is not None:
            items = en.items if isinstance(en, YSeq) else (en,)
            equals = [t for i in items if (t := self.text(i, f"{what}.equals")) is not None]
        prefix = self.text(m.get("prefix"), f"{what}.prefix")
        if (equals or prefix is not None) and spec.type != "bool":
            self.error(m.get("equals") or m.get("prefix") or node, "equals",
                       f"equals / prefix make a bool, but '{fact}' is {spec.type}", "use values: for an enum")
        if equals and prefix is not None:
            self.error(node, "equals", "give equals or prefix, not both")
        date_format = self.text(m.get("date_format"), f"{what}.date_format")
        if date_format is not None and spec.type != "date":
            self.error(m.get("date_format") or node, "date-format", f"'{fact}' is {spec.type}, not a date")
        where = self.where(m.get("where"), what)
        if where and not household:
            self.error(m.get("where") or node, "where", "where selects rows for a household fact or records")
        return Convert(fact, spec.type, col, tuple(values), tuple(equals), prefix, date_format, aggregate, where,
                       node.span, **_bounds(spec))  # type: ignore[arg-type]

    def where(self, node: YNode | None, what: str) -> tuple[tuple[Column, tuple[str, ...]], ...]:
        if node is None:
            return ()
        m = self.mapping(node, f"{what}.where", None)
        if m is None:
            return ()
        out = []
        for k, v in m.items:
            items = v.items if isinstance(v, YSeq) else (v,)
            texts = tuple(t for i in items if (t := self.text(i, f"{what}.where.{k.value}")) is not None)
            out.append((Column(k.value, k.span), texts))
        return tuple(out)

    def records(self, node: YNode | None, what: str) -> tuple[Records, ...]:
        if node is None:
            return ()
        m = self.mapping(node, f"{what}.records", None)
        if m is None:
            return ()
        out = []
        for key, value in m.items:
            spec = self.list_fields.get(key.value)
            if spec is None:
                self.unknown_fact(key, "records", self.list_fields)
                continue
            first = self.seen.get(("records", key.value))
            if first is not None:
                self.error(key, "records-twice", f"the list '{key.value}' is already given by another extract "
                           f"(line {first.line})", "one extract gives each list; join the registries before")
                continue
            self.seen[("records", key.value)] = key.span
            rm = self.mapping(value, f"{what}.records.{key.value}", _RECORD_KEYS, ("fields",))
            if rm is None:
                continue
            sub = {f.name: f for f in spec.fields}
            owner = next((name for name in PERSON_FIELDS if name in sub), None)
            fields = self.converts(rm.get("fields"), f"{what}.records.{key.value}", "fields_of_" + key.value,
                                   {k: v for k, v in sub.items() if k != owner}, household=False) \
                if rm.get("fields") is not None else ()
            for f in spec.fields:
                if f.required and f.name != owner and f.name not in {c.fact for c in fields}:
                    self.error(rm.get("fields") or key, "missing-field",
                               f"records of '{key.value}' need the field '{f.name}' (it has no default)")
            out.append(Records(key.value, fields, owner, self.where(rm.get("where"), what), key.span))
        return tuple(out)

    def enrolment(self, node: YNode | None, what: str) -> Enrolment | None:
        if node is None:
            return None
        m = self.mapping(node, f"{what}.enrolment", _ENROL_KEYS, ("program", "office", "since"))
        if m is None:
            return None
        pn = m.get("program")
        program = None
        if pn is not None:
            if isinstance(pn, YScalar):
                col = self.column(pn, f"{what}.enrolment.program")
                program = Convert("program", "text", col, span=pn.span) if col else None
            elif (pm := self.mapping(pn, f"{what}.enrolment.program", ("column", "values"), ("column",))) is not None:
                col = self.column(pm.get("column"), f"{what}.enrolment.program.column")
                values = []
                if (vn := pm.get("values")) is not None and (vm := self.mapping(vn, "program values", None)):
                    values = [(k.value, t) for k, v in vm.items if (t := self.text(v, "program")) is not None]
                program = Convert("program", "text", col, tuple(values), span=pn.span) if col else None
        cols = {k: self.column(m.get(k), f"{what}.enrolment.{k}") if m.get(k) is not None else None
                for k in ("tier", "amount", "office", "since")}
        if program is None:
            return None
        return Enrolment(program, cols["tier"], cols["amount"], cols["office"], cols["since"], m.span)


def fields_of(facts: Facts, fact: str) -> dict[str, FieldSpec]:
    """The record fields of a list fact."""
    spec = facts.field(fact)
    return {f.name: f for f in spec.fields} if spec else {}


def check_columns(mapping: Mapping, columns: dict[str, list[str]]) -> None:
    """Check that every column the mapping names is in its extract's files.

    Args:
        mapping: the checked mapping.
        columns: the columns each extract's files have, by extract name.

    Raises:
        MappingError: a column is not in its extract.
    """
    diags: list[Diagnostic] = []
    for x in mapping.extracts:
        have = columns.get(x.name, [])
        for col in x.columns():
            if col.name not in have:
                guess = did_you_mean(col.name, have)
                hint = f"did you mean '{guess}'?" if guess else "columns: " + ", ".join(have[:30])
                diags.append(Diagnostic(col.span, "unknown-column",
                                        f"extract '{x.name}' has no column '{readable(col.name, 64)}'", hint))
    if diags:
        raise MappingError(diags, mapping.sources())
