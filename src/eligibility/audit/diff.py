"""What changes between two policy sets: their rules, parameters, citations and outputs, and
what the change does to a file of households (eligibility, amounts, tiers and the monthly cost).

A policy set is a folder, or `git:REV:PATH`: the folder PATH (relative to the repository root) as
it is in the commit REV of the git repository around the current folder, e.g. `git:HEAD~1:policies`.
It is read with `git ls-tree` and `git cat-file` into a temporary folder; nothing else of the
repository is touched.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.base.errors import Diagnostic, EligibilityError, PolicyError
from eligibility.engine.jsonin import loads_household
from eligibility.lang.model import Definition, FieldSpec, Parameter, Program, Source

if TYPE_CHECKING:
    from eligibility.engine.runtime import Engine

#: Example households kept for each kind of change of each program.
EXAMPLES = 3
MAX_LINE = 1 << 20
MAX_GIT_BYTES = 64 << 20
ZERO = Decimal("0.00")


# ------------------------------------------------------------------ policy folders and git


@contextmanager
def policy_folder(spec: str, cwd: Path | None = None) -> Iterator[Path]:
    """Yield the folder a policy-set argument names: a path, or `git:REV:PATH` exported to a temporary folder.

    Raises:
        PolicyError: `git:` was given but git is missing, REV or PATH does not exist, or the export is
            too large (code `git`).
    """
    if not spec.startswith("git:"):
        yield Path(spec)
        return
    rev, sep, sub = spec[4:].partition(":")
    if not rev or not sep or rev.startswith("-"):
        raise _git_error(f"{spec!r} is not git:REV:PATH (for example git:HEAD~1:policies)")
    sub = sub.strip("/")
    name = PurePosixPath(sub).name or "policies"
    with tempfile.TemporaryDirectory(prefix="eligibility-diff-") as tmp:
        root = Path(tmp) / name
        root.mkdir()
        _export(rev, sub, root, cwd)
        yield root


def _git_error(message: str) -> PolicyError:
    return PolicyError([Diagnostic(None, "git", message)])


def _git(args: list[str], cwd: Path | None, data: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, timeout=120, check=False)
    except FileNotFoundError:
        raise _git_error("git is not installed; a git:REV:PATH policy set needs it") from None
    except (OSError, subprocess.TimeoutExpired) as e:
        raise _git_error(f"git could not run ({type(e).__name__})") from None
    if done.returncode != 0:
        msg = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _git_error(f"git {args[0]} failed: {msg[0] if msg else 'exit ' + str(done.returncode)}")
    return done.stdout


def _export(rev: str, sub: str, dest: Path, cwd: Path | None) -> None:
    """Write the YAML files of REV:SUB under dest, with one `git cat-file --batch` for all of them."""
    listing = _git(["ls-tree", "-r", "-z", "--full-tree", f"{rev}:{sub}"], cwd)
    entries: list[tuple[str, str]] = []
    for raw in listing.split(b"\0"):
        if not raw:
            continue
        meta, _, path_bytes = raw.partition(b"\t")
        mode, kind, oid = meta.decode("ascii", "replace").split(" ")
        path = path_bytes.decode("utf-8", "surrogateescape")
        parts = PurePosixPath(path).parts
        if kind != "blob" or mode == "120000" or not path.endswith(".yaml") or ".." in parts or path.startswith("/"):
            continue  # only regular YAML files; never a symlink
        entries.append((oid, path))
    if not entries:
        raise _git_error(f"{rev}:{sub or '.'} holds no YAML file")
    out = _git(["cat-file", "--batch"], cwd, "".join(f"{oid}\n" for oid, _ in entries).encode("ascii"))
    pos = 0
    total = 0
    for oid, path in entries:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode("ascii", "replace").split(" ")
        if len(header) != 3 or header[0] != oid:
            raise _git_error(f"git cat-file gave an unexpected answer for {path}")
        size = int(header[2])
        total += size
        if total > MAX_GIT_BYTES:
            raise _git_error(f"{rev}:{sub} is larger than {MAX_GIT_BYTES >> 20} MiB of YAML")
        target = dest.joinpath(*PurePosixPath(path).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(out[end + 1:end + 1 + size])
        pos = end + 1 + size + 1


# ------------------------------------------------------------------ policy changes


@attrs.frozen
class Change:
    """One difference between two policy sets."""

    program: str | None  # None: the facts vocabulary
    kind: str  # program | rule | computed | output | parameter | source | fact
    name: str
    change: str  # added | removed | changed
    detail: str
    old: Any = None
    new: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "kind": self.kind, "name": self.name, "change": self.change,
                "detail": self.detail, "old": self.old, "new": self.new}

    def render(self) -> str:
        return f"{self.kind} {self.name}: {self.detail}"


def _text(value: object) -> Any:
    """A value of the model as JSON: decimals and dates as strings."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    return str(value)


def _q(value: object) -> str:
    return json.dumps(_text(value), ensure_ascii=False)


def _expr(d: Definition) -> list[dict[str, Any]]:
    return [{"from": _text(v.start), "until": _text(v.until), "expression": " ".join(v.expr.text.split()),
             "source": v.source} for v in d.versions]


def _definition_changes(program: str, kind: str, name: str, a: Definition | None,
                        b: Definition | None) -> list[Change]:
    d = a or b
    if d is None:
        return []
    if a is None or b is None:
        change = "added" if a is None else "removed"
        exprs = " | ".join(v["expression"] for v in _expr(d))
        return [Change(program, kind if d.kind != "output" else "output", name, change,
                       f"{change}: {exprs}", None if a is None else _expr(a), None if b is None else _expr(b))]
    out: list[Change] = []
    kind = b.kind if b.kind != "output" else "output"
    va, vb = _expr(a), _expr(b)
    if va != vb:
        if len(va) == len(vb) == 1 and va[0]["from"] == vb[0]["from"] and va[0]["until"] == vb[0]["until"]:
            if va[0]["expression"] != vb[0]["expression"]:
                out.append(Change(program, kind, name, "changed",
                                  f"expression {_q(va[0]['expression'])} -> {_q(vb[0]['expression'])}",
                                  va[0]["expression"], vb[0]["expression"]))
            if va[0]["source"] != vb[0]["source"]:
                out.append(Change(program, kind, name, "changed",
                                  f"source {_q(va[0]['source'])} -> {_q(vb[0]['source'])}",
                                  va[0]["source"], vb[0]["source"]))
        else:
            out.append(Change(program, kind, name, "changed", "versions " + _versions(va, vb), va, vb))
    for field in ("kind", "source", "article", "each"):
        x, y = getattr(a, field), getattr(b, field)
        if x != y:
            out.append(Change(program, kind, name, "changed", f"{field} {_q(x)} -> {_q(y)}", _text(x), _text(y)))
    ta = {"zh": a.title.zh, "en": a.title.en} if a.title else None
    tb = {"zh": b.title.zh, "en": b.title.en} if b.title else None
    if ta != tb:
        out.append(Change(program, kind, name, "changed", f"title {_q((ta or {}).get('zh'))} -> "
                          f"{_q((tb or {}).get('zh'))}", ta, tb))
    ra = f"{a.rounding.mode} {a.rounding.step}" if a.rounding else None
    rb = f"{b.rounding.mode} {b.rounding.step}" if b.rounding else None
    if ra != rb:
        out.append(Change(program, kind, name, "changed", f"rounding {_q(ra)} -> {_q(rb)}", ra, rb))
    return out


def _versions(va: list[dict[str, Any]], vb: list[dict[str, Any]]) -> str:
    def show(vs: list[dict[str, Any]]) -> str:
        return "; ".join(f"[{v['from'] or '…'}, {v['until'] or '…'}) {v['expression']}" for v in vs)
    return f"{show(va)} -> {show(vb)}"


def _parameter_changes(program: str, name: str, a: Parameter | None, b: Parameter | None) -> list[Change]:
    p = a or b
    if p is None:
        return []
    if a is None or b is None:
        change = "added" if a is None else "removed"
        values = {v.start.isoformat(): _text(v.value) for v in p.values}
        shown = ", ".join(f"{k}: {v}" for k, v in values.items())
        return [Change(program, "parameter", name, change, f"{change} ({shown})",
                       values if a is not None else None, values if b is not None else None)]
    out: list[Change] = []
    da = {v.start: v for v in a.values}
    db = {v.start: v for v in b.values}
    for day in sorted(set(da) | set(db)):
        x, y = da.get(day), db.get(day)
        when = day.isoformat()
        if x is None and y is not None:
            out.append(Change(program, "parameter", name, "added", f"value from {when} added: {_text(y.value)}",
                              None, {"from": when, "value": _text(y.value)}))
        elif y is None and x is not None:
            out.append(Change(program, "parameter", name, "removed", f"value from {when} removed: {_text(x.value)}",
                              {"from": when, "value": _text(x.value)}, None))
        elif x is not None and y is not None:
            if x.value != y.value or type(x.value) is not type(y.value):
                out.append(Change(program, "parameter", name, "changed",
                                  f"value from {when}: {_text(x.value)} -> {_text(y.value)}",
                                  {"from": when, "value": _text(x.value)}, {"from": when, "value": _text(y.value)}))
            if x.source != y.source:
                out.append(Change(program, "parameter", name, "changed",
                                  f"source of the value from {when}: {_q(x.source)} -> {_q(y.source)}",
                                  x.source, y.source))
    for field in ("type", "unit", "source"):
        x, y = getattr(a, field), getattr(b, field)
        if x != y:
            out.append(Change(program, "parameter", name, "changed", f"{field} {_q(x)} -> {_q(y)}", x, y))
    if a.title != b.title:
        out.append(Change(program, "parameter", name, "changed", f"title {_q(a.title.zh)} -> {_q(b.title.zh)}",
                          {"zh": a.title.zh, "en": a.title.en}, {"zh": b.title.zh, "en": b.title.en}))
    return out


def _cited(p: Program | None) -> set[str]:
    if p is None:
        return set()
    ids: set[str] = set()
    for d in [*p.definitions.values(), p.eligible, p.amount, p.tier]:
        if d is not None:
            ids.update(x for x in (d.source, *(v.source for v in d.versions)) if x)
    for param in p.parameters.values():
        ids.update(x for x in (param.source, *(v.source for v in param.values)) if x)
    return ids


def _source_json(s: Source) -> dict[str, Any]:
    out = s.to_json()
    out.pop("file", None)  # where it is registered is not what it says
    return out


def _source_changes(program: str, a: Program | None, b: Program | None) -> list[Change]:
    out: list[Change] = []
    sa = a.sources if a else {}
    sb = b.sources if b else {}
    for sid in sorted(_cited(a) | _cited(b)):
        x, y = sa.get(sid), sb.get(sid)
        s = x or y
        if s is None:
            continue
        if x is None or y is None:
            change = "added" if x is None else "removed"
            out.append(Change(program, "source", sid, change, f"{change}: {s.document or s.title}",
                              _source_json(x) if x else None, _source_json(y) if y else None))
            continue
        jx, jy = _source_json(x), _source_json(y)
        for field in jx:
            if jx[field] != jy.get(field):
                out.append(Change(program, "source", sid, "changed", f"{field} {_q(jx[field])} -> {_q(jy.get(field))}",
                                  jx[field], jy.get(field)))
    return out


def _program_changes(name: str, a: Program | None, b: Program | None) -> list[Change]:
    p = a or b
    if p is None:
        return []
    if a is None or b is None:
        change = "added" if a is None else "removed"
        return [Change(name, "program", name, change, f"{change}: {p.title.zh} / {p.title.en} ({p.file})")]
    out: list[Change] = []
    for field in ("jurisdiction", "file", "layers"):
        x, y = getattr(a, field), getattr(b, field)
        if x != y:
            out.append(Change(name, "program", name, "changed", f"{field} {_q(x)} -> {_q(y)}", _text(x), _text(y)))
    if a.title != b.title:
        out.append(Change(name, "program", name, "changed", f"title {_q(a.title.zh)} -> {_q(b.title.zh)}",
                          {"zh": a.title.zh, "en": a.title.en}, {"zh": b.title.zh, "en": b.title.en}))
    for d in sorted(set(a.definitions) | set(b.definitions)):
        da, db = a.definitions.get(d), b.definitions.get(d)
        out.extend(_definition_changes(name, (db or da or p.eligible).kind, d, da, db))
    for output in ("eligible", "amount", "tier"):
        out.extend(_definition_changes(name, "output", output, getattr(a, output), getattr(b, output)))
    for param in sorted(set(a.parameters) | set(b.parameters)):
        out.extend(_parameter_changes(name, param, a.parameters.get(param), b.parameters.get(param)))
    return out


def _field_json(f: FieldSpec) -> dict[str, Any]:
    return {"type": f.type, "unit": f.unit, "required": f.required, "default": _text(f.default),
            "min": _text(f.minimum), "max": _text(f.maximum), "values": [v for v, _ in f.values]}


def _fact_changes(a: tuple[FieldSpec, ...], b: tuple[FieldSpec, ...], prefix: str = "") -> list[Change]:
    out: list[Change] = []
    fa, fb = {f.name: f for f in a}, {f.name: f for f in b}
    for name in sorted(set(fa) | set(fb)):
        x, y = fa.get(name), fb.get(name)
        path = prefix + name
        f = x or y
        if f is None:
            continue
        if x is None or y is None:
            change = "added" if x is None else "removed"
            out.append(Change(None, "fact", path, change, f"{change} ({f.type})",
                              _field_json(x) if x else None, _field_json(y) if y else None))
            continue
        jx, jy = _field_json(x), _field_json(y)
        for key in jx:
            if jx[key] != jy[key]:
                out.append(Change(None, "fact", path, "changed", f"{key} {_q(jx[key])} -> {_q(jy[key])}",
                                  jx[key], jy[key]))
        if x.fields or y.fields:
            out.extend(_fact_changes(x.fields, y.fields, path + "."))
    return out


def policy_changes(old: Engine, new: Engine) -> list[Change]:
    """Return every change between two loaded policy sets: per program, then the facts vocabulary."""
    out: list[Change] = []
    pa, pb = old.model.programs, new.model.programs
    for name in sorted(set(pa) | set(pb)):
        a, b = pa.get(name), pb.get(name)
        out.extend(_program_changes(name, a, b))
        out.extend(_source_changes(name, a, b))
    out.extend(_fact_changes(old.model.facts.fields, new.model.facts.fields))
    return out


# ------------------------------------------------------------------ households


KINDS = ("gained", "lost", "amount_up", "amount_down", "tier_changed")


@attrs.define
class ProgramImpact:
    """What the change does to one program over the households decided under both sets."""

    #: "added" or "removed" for a program only one of the sets has.
    status: str | None = None
    decided: int = 0
    counts: dict[str, int] = attrs.Factory(lambda: dict.fromkeys(KINDS, 0))
    cost_old: Decimal = ZERO
    cost_new: Decimal = ZERO
    examples: dict[str, list[dict[str, Any]]] = attrs.Factory(dict)

    @property
    def changed(self) -> int:
        return self.counts["gained"] + self.counts["lost"] + self.counts["amount_up"] + self.counts["amount_down"]

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "decided": self.decided, **self.counts, "cost_old": format(self.cost_old, "f"),
                "cost_new": format(self.cost_new, "f"), "cost_change": format(self.cost_new - self.cost_old, "f"),
                "examples": {k: v for k, v in self.examples.items() if v}}


@attrs.define
class HouseholdImpact:
    """The households read, those decided under both sets, the impact per program, and every error."""

    lines: int = 0
    decided: int = 0
    programs: dict[str, ProgramImpact] = attrs.Factory(dict)
    errors: list[dict[str, Any]] = attrs.Factory(list)

    @property
    def cost_change(self) -> Decimal:
        return sum((p.cost_new - p.cost_old for p in self.programs.values()), ZERO)

    def to_json(self) -> dict[str, Any]:
        return {"households": self.lines, "decided": self.decided,
                "programs": {k: v.to_json() for k, v in sorted(self.programs.items())},
                "cost_change": format(self.cost_change, "f"), "errors": self.errors}


def _outcome(d: Any) -> dict[str, Any]:
    """A program's outcome in a report; a program the set does not have counts as not eligible."""
    if d is None:
        return {"eligible": False, "amount": None, "tier": None}
    return {"eligible": d.eligible, "amount": format(d.amount, "f") if d.amount is not None else None,
            "tier": d.tier}


def _amount(o: dict[str, Any]) -> Decimal:
    return Decimal(o["amount"]) if o["amount"] is not None else ZERO


def _parse_line(raw: bytes, on: dt.date | None) -> tuple[Any, dt.date, str | None]:
    """Return (household, date, label) of one JSONL line; raise ValueError with a message."""
    from eligibility.engine.runtime import parse_date

    if len(raw) > MAX_LINE:
        raise ValueError(f"the line is longer than {MAX_LINE} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the line is not UTF-8 text") from None
    try:
        data = loads_household(text)  # a key given twice: an InputError, a ValueError with its path
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON (column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    label = None
    day = on
    if isinstance(data, dict) and "household" in data and set(data) <= {"on", "household", "id"}:
        if data.get("id") is not None:
            label = str(data["id"])[:64]
        if data.get("on") is not None:
            try:
                day = parse_date(data["on"], "on")
            except EligibilityError:
                raise ValueError(f"\"on\" is not a date \"YYYY-MM-DD\": {str(data['on'])[:40]!r}") from None
        data = data["household"]
    if day is None:
        raise ValueError("no decision date: give --on, or write the line as {\"on\": \"YYYY-MM-DD\", "
                         "\"household\": {...}}")
    return data, day, label


def household_impact(old: Engine, new: Engine, lines: Iterable[bytes], on: dt.date | None) -> HouseholdImpact:
    """Decide each JSONL line's household under both sets and count what changes, per program.

    A line is a household, or `{"on": "YYYY-MM-DD", "household": {...}, "id": "..."}`. A line that
    cannot be read or decided under either set is kept in `errors` with its number (and the program,
    when only that program could not be decided); it is never dropped silently. Blank lines are
    skipped.
    """
    impact = HouseholdImpact()
    names = sorted(set(old.programs) | set(new.programs))
    for name in names:
        status = "added" if name not in old.programs else "removed" if name not in new.programs else None
        impact.programs[name] = ProgramImpact(status)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        impact.lines += 1
        try:
            household, day, label = _parse_line(raw.rstrip(b"\r\n"), on)
        except ValueError as e:
            impact.errors.append({"line": number, "side": "input", "message": str(e)})
            continue
        results = []
        errors: dict[str, str] = {}
        for side, engine in (("old", old), ("new", new)):
            try:
                results.append(engine.decide(household, on=day, trace=False))
            except EligibilityError as e:
                errors[side] = str(e)[:2000]
        if errors.get("old") is not None and errors.get("old") == errors.get("new"):
            errors = {"both": errors["old"]}
        for side, message in errors.items():
            impact.errors.append({"line": number, "side": side, "id": label, "message": message})
        if errors:
            continue
        impact.decided += 1
        a, b = results
        for name in names:
            pi = impact.programs[name]
            pa, pb = a.programs.get(name), b.programs.get(name)
            failed = {side: str(p.error)[:2000] for side, p in (("old", pa), ("new", pb))
                      if p is not None and p.error is not None}
            if failed.get("old") is not None and failed.get("old") == failed.get("new"):
                failed = {"both": failed["old"]}
            for side, message in failed.items():
                impact.errors.append({"line": number, "side": side, "id": label, "program": name,
                                      "message": message})
            if failed:
                continue  # this program cannot be compared for this line; the others still are
            x, y = _outcome(pa), _outcome(pb)
            pi.decided += 1
            pi.cost_old += _amount(x)
            pi.cost_new += _amount(y)
            kinds = []
            if x["eligible"] != y["eligible"]:
                kinds.append("gained" if y["eligible"] else "lost")
            elif _amount(x) != _amount(y):
                kinds.append("amount_up" if _amount(y) > _amount(x) else "amount_down")
            if x["tier"] != y["tier"]:
                kinds.append("tier_changed")
            for kind in kinds:
                pi.counts[kind] += 1
                shown = pi.examples.setdefault(kind, [])
                if len(shown) < EXAMPLES:
                    shown.append({"line": number, "id": label, "on": day.isoformat(), "old": x, "new": y})
    return impact


# ------------------------------------------------------------------ the report


@attrs.frozen
class PolicyDiff:
    """The changes between two policy sets and, when households were given, their impact."""

    old: str
    new: str
    old_hash: str
    new_hash: str
    changes: tuple[Change, ...]
    impact: HouseholdImpact | None = None

    @property
    def different(self) -> bool:
        """Whether anything changed: a rule, a parameter, a citation, a fact, or a household's outcome."""
        if self.changes:
            return True
        return self.impact is not None and any(p.changed or p.counts["tier_changed"]
                                               for p in self.impact.programs.values())

    def to_json(self) -> dict[str, Any]:
        return {"old": {"policies": self.old, "hash": self.old_hash},
                "new": {"policies": self.new, "hash": self.new_hash},
                "changes": [c.to_json() for c in self.changes],
                "households": self.impact.to_json() if self.impact is not None else None}

    def render(self) -> str:
        """Return the report as text: the changes per program, then the households' impact."""
        lines = [f"old: {self.old} ({self.old_hash})", f"new: {self.new} ({self.new_hash})"]
        if not self.changes:
            lines.append("no change in rules, parameters, citations, outputs or facts")
        by_program: dict[str | None, list[Change]] = {}
        for c in self.changes:
            by_program.setdefault(c.program, []).append(c)
        for program, changes in by_program.items():
            lines.append("")
            lines.append(program if program is not None else "facts vocabulary")
            lines.extend(f"  {c.render()}" for c in changes)
        if self.impact is not None:
            lines.extend(["", *_impact_lines(self.impact)])
        return "\n".join(lines) + "\n"


def _money(d: Decimal, sign: bool = False) -> str:
    text = f"{d:,.2f}"
    return ("+" + text) if sign and d > 0 else text


def _impact_lines(impact: HouseholdImpact) -> list[str]:
    out = [f"households: {impact.lines} read, {impact.decided} decided under both sets, "
           f"{len({e['line'] for e in impact.errors})} with errors"]
    if any(e.get("program") for e in impact.errors):
        out[0] += " (a program that cannot be decided for a line is left out of that program's counts)"
    quiet = []
    for name, p in sorted(impact.programs.items()):
        c = p.counts
        change = p.cost_new - p.cost_old
        if not any(c.values()) and change == 0 and p.status is None:
            quiet.append(name)
            continue
        status = f" (program {p.status})" if p.status else ""
        out.append(f"  {name}{status}: {c['gained']} gained, {c['lost']} lost, {c['amount_up']} amount up, "
                   f"{c['amount_down']} amount down, {c['tier_changed']} tier changed; monthly cost "
                   f"{_money(change, True)} ({_money(p.cost_old)} -> {_money(p.cost_new)})")
        for kind in KINDS:
            for ex in p.examples.get(kind, []):
                who = f"line {ex['line']}" + (f" ({ex['id']})" if ex.get("id") else "")
                out.append(f"    {kind}: {who}, {ex['on']}: {_state(ex['old'])} -> {_state(ex['new'])}")
    if quiet:
        out.append(f"  no change: {', '.join(quiet)}")
    out.append(f"total monthly cost change: {_money(impact.cost_change, True)}")
    if impact.errors:
        out.append(f"errors ({len(impact.errors)}):")
        for e in impact.errors:
            first = str(e["message"]).splitlines()
            more = " …" if len(first) > 1 else ""
            head = first[0] if first else ""
            head = head if len(head) <= 300 else head[:299] + "…"
            where = f"{e['side']}, {e['program']}" if e.get("program") else e["side"]
            out.append(f"  line {e['line']} ({where}): {head}{more}")
            out.extend(f"    {x}" for x in first[1:6])
    return out


def _state(o: dict[str, Any]) -> str:
    text = "not eligible" if not o["eligible"] else "eligible" + (f" {o['amount']}" if o["amount"] else "")
    return text + (f", tier {o['tier']}" if o.get("tier") else "")


def diff_policies(old: Engine, new: Engine, *, old_name: str = "old", new_name: str = "new",
                  households: Iterable[bytes] | None = None, on: dt.date | None = None) -> PolicyDiff:
    """Compare two loaded policy sets, and decide the households (JSONL lines) under both when given.

    Args:
        old, new: the two engines (load them with the same jurisdiction).
        old_name, new_name: how the report names them.
        households: JSONL lines as bytes (a file opened in binary mode works).
        on: the decision date of lines without their own `"on"`.

    Returns:
        A PolicyDiff; `render()` gives the text report, `to_json()` the JSON one.
    """
    impact = household_impact(old, new, households, on) if households is not None else None
    return PolicyDiff(old_name, new_name, old.policy_hash, new.policy_hash, tuple(policy_changes(old, new)), impact)


__all__ = ["Change", "HouseholdImpact", "PolicyDiff", "ProgramImpact", "diff_policies", "household_impact",
           "policy_changes", "policy_folder"]
