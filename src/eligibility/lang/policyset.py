"""Find, read and merge the files of a policy set; choose each program's layer by jurisdiction."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import attrs

from eligibility.base.errors import Diagnostic, PolicyError
from eligibility.base.i18n import current_language
from eligibility.base.i18n import translate as _
from eligibility.base.labels import DEFAULT_LABELS
from eligibility.base.source import SourceText, Span
from eligibility.lang.cases import check_expectations, read_tests
from eligibility.lang.facts import read_facts
from eligibility.lang.layers import Layer, read_layer, read_registry
from eligibility.lang.loader import YMap, load_file
from eligibility.lang.model import Facts, Label, Program, Property, Source, TestCase
from eligibility.lang.properties import read_properties
from eligibility.lang.reader import Reader, to_plain
from eligibility.lang.where import WhereRules, check_where_programs, read_where, where_program

MAX_FILES = 1000


@attrs.frozen
class Acknowledgement:
    """A warning the policy staff know and accept: its code, file, optional name, and why."""

    code: str
    file: str
    name: str | None
    reason: Label
    span: Span

    def matches(self, d: Diagnostic) -> bool:
        """Whether a warning is the one acknowledged (same code and file; the name quoted in it)."""
        return (d.severity == "warning" and d.code == self.code and d.span is not None and d.span.path == self.file
                and (self.name is None or f"'{self.name}'" in d.message))


def acknowledge(diags: list[Diagnostic], acks: tuple[Acknowledgement, ...]) -> list[Diagnostic]:
    """Mark acknowledged warnings (severity `acknowledged`, the reason as hint); an unused one is a warning."""
    used: set[int] = set()
    out = []
    for d in diags:
        hit = next((i for i, a in enumerate(acks) if a.matches(d)), None)
        if hit is None:
            out.append(d)
            continue
        used.add(hit)
        reason = acks[hit].reason.get(current_language())
        out.append(attrs.evolve(d, severity="acknowledged", hint=_("acknowledged: {reason}", reason=reason)))
    for i, a in enumerate(acks):
        if i not in used:
            out.append(Diagnostic(a.span, "acknowledged-unused",
                                  _("this acknowledgement ({code} in {file}, '{name}') matches no warning",
                                    code=a.code, file=a.file, name=a.name) if a.name
                                  else _("this acknowledgement ({code} in {file}) matches no warning",
                                         code=a.code, file=a.file),
                                  _("remove it: the warning it accepted is gone"), severity="warning"))
    return out


def _read_acknowledged(r: Reader, node: YMap) -> list[Acknowledgement]:
    out = []
    for item in r.entries(node, "acknowledged", _("an acknowledged file"), _("acknowledged warnings")):
        m = r.mapping(item, _("an acknowledged warning"), ("code", "file", "name", "reason", "note"),
                      ("code", "file", "reason"))
        if m is None:
            continue
        code, file = r.text(m.get("code"), "code"), r.text(m.get("file"), "file")
        reason = r.label(m.get("reason"), "reason")
        if code is None or file is None or reason is None:
            continue
        if not code.isascii() or code.startswith(("limit-",)) or code in _NOT_ACKNOWLEDGEABLE:
            r.error(m.get("code") or m, "acknowledged-code", _("'{code}' cannot be acknowledged: only warnings can",
                                                               code=code))
            continue
        out.append(Acknowledgement(code, file, r.text(m.get("name"), "name"), reason, item.span))
    return out


#: Codes that are always errors: acknowledging them would hide a policy that cannot be trusted.
_NOT_ACKNOWLEDGEABLE = frozenset({"version-gap", "overlapping-versions", "type", "unknown-name"})


@attrs.frozen
class PolicySetModel:
    """Everything read from a policy folder, before type checking."""

    root: str
    facts: Facts
    programs: dict[str, Program]
    test_cases: tuple[TestCase, ...]
    sources: dict[str, SourceText]
    file_hashes: dict[str, str]  # files the selected programs and the facts use
    hash: str
    jurisdiction: str | None
    warnings: tuple[Diagnostic, ...]
    #: The set's own wording of explanations (a `labels:` file), carried in every trace.
    labels: dict[str, object] | None = None
    #: Test files not read yet (absolute path, path in the set): deciding never needs them.
    deferred_tests: tuple[tuple[str, str], ...] = ()
    #: `properties:` files read with the others (when test files are not deferred).
    declared_properties: tuple[Property, ...] = ()
    #: Every program some layer of the set defines, whether or not the jurisdiction selects it.
    program_names: frozenset[str] = frozenset()
    #: Warnings the policy staff know and accept (an `acknowledged:` file), each with its reason.
    acknowledged: tuple[Acknowledgement, ...] = ()
    #: The `where_to_apply:` rules as one program (checked and compiled apart from the others), or None.
    where: Program | None = None
    where_rules: WhereRules | None = None
    #: `monitoring:` files (paths in the set): rules of eligibility.monitor, not of deciding; not in the hash.
    monitoring_files: tuple[str, ...] = ()
    _cache: dict[str, tuple[Any, ...]] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def tests(self) -> tuple[TestCase, ...]:
        """The YAML test cases of the set, read on first use; PolicyError if a test file is bad."""
        cached = self._cache.get("tests")
        if cached is not None:
            return cached
        diags: list[Diagnostic] = []
        cases = list(self.test_cases)
        props = list(self.declared_properties)
        for path, rel in self.deferred_tests:
            yf = load_file(Path(path), rel, diags)
            if yf is None:
                continue
            self.sources[rel] = yf.source  # a YAML error's excerpt needs it too
            if isinstance(yf.root, YMap):
                if yf.root.items and yf.root.items[0][0].value == "properties":
                    props.extend(read_properties(Reader(yf.source, diags), yf.root))
                else:
                    read = read_tests(Reader(yf.source, diags), yf.root)
                    check_expectations(read, self.programs, self.program_names, diags)
                    cases.extend(read)
        if any(d.severity == "error" for d in diags):
            raise PolicyError(diags, self.sources)
        result = tuple(cases)
        self._cache["tests"] = result
        self._cache["properties"] = tuple(props)
        return result

    @property
    def properties(self) -> tuple[Property, ...]:
        """The YAML properties of the set, read with the test files; PolicyError if one of them is bad."""
        if "properties" not in self._cache:
            self.tests  # noqa: B018 - reads every deferred file, properties files included
        return self._cache["properties"]


def policy_hash(file_hashes: dict[str, str]) -> str:
    """The policy set's hash: sha256 over each used file's path and sha256, in path order."""
    text = "".join(f"{f}\0{file_hashes[f]}\n" for f in sorted(file_hashes))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def ancestors(code: str) -> list[str]:
    """GB/T 2260 codes from the given one up to the national level, most specific first."""
    out = [code]
    if code[4:] != "00":
        out.append(code[:4] + "00")
    if code[2:] != "0000":
        out.append(code[:2] + "0000")
    if code != "000000":
        out.append("000000")
    return list(dict.fromkeys(out))


def _check_labels(r: Reader, node: YMap) -> bool:
    """Check a `labels:` file against the library's own labels; report every problem."""
    before = len([d for d in r.diags if d.severity == "error"])
    r.mapping(node, _("a labels file"), ("labels", "description"), ("labels",))
    sections = node.get("labels")
    if sections is None or (m := r.mapping(sections, "labels", tuple(DEFAULT_LABELS))) is None:
        return False
    for skey, entries in m.items:
        known = tuple(DEFAULT_LABELS.get(skey.value, {}).get("zh", {}))
        if skey.value == "values":  # any program.value may be labelled
            if (em := r.mapping(entries, skey.value, None)) is None:
                continue
        elif not known or (em := r.mapping(entries, skey.value, known)) is None:
            continue
        for key, value in em.items:
            if skey.value == "ops":
                om = r.mapping(value, _("ops '{value}'", value=key.value), ("holds", "fails"), ("holds", "fails"))
                if om:
                    for part in ("holds", "fails"):
                        if om.get(part) is not None:
                            r.label(om.get(part), f"{key.value}.{part}")
            else:
                r.label(value, _("label '{value}'", value=key.value))
    return len([d for d in r.diags if d.severity == "error"]) == before


def first_key_in(path: Path, keys: tuple[str, ...]) -> bool:
    """Peek at a YAML file's first key (its first line that is not blank or a comment, in the first 4 KiB):
    is it one of `keys`? A file that cannot be read is not. E.g. `tests:` and `properties:` files are read
    only when the tests are; `monitoring:` files are eligibility.monitor's."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    for line in head.splitlines():
        stripped = line.strip().lstrip(b"\xef\xbb\xbf")
        if stripped and not stripped.startswith(b"#"):
            return stripped.startswith(tuple(f"{key}:".encode() for key in keys))
    return False


def read_policy_set(root: Path, jurisdiction: str | None = None,
                    diags: list[Diagnostic] | None = None, *, stop_on_errors: bool = True,
                    with_tests: bool = True) -> PolicySetModel:
    """Read every YAML file under `root`; raise PolicyError listing every problem.

    With stop_on_errors=False it returns what it could read whenever there is a facts
    vocabulary, so that the checker can add its own diagnostics before one PolicyError.
    """
    diags = [] if diags is None else diags
    root = root.resolve()
    if not root.is_dir():
        raise PolicyError([Diagnostic(None, "no-policy-folder", _("{name} is not a folder of policies",
                                                                  name=root.name))])
    files = sorted(p for p in root.rglob("*.yaml") if p.is_file())
    if len(files) > MAX_FILES:
        raise PolicyError([Diagnostic(None, "limit-files", _("{n} policy files; the limit is {MAX_FILES}",
                                                             n=len(files), MAX_FILES=MAX_FILES))])
    sources: dict[str, SourceText] = {}
    raw: dict[str, bytes] = {}
    facts: list[Facts] = []
    layers: dict[str, Layer] = {}
    tests: list[TestCase] = []
    properties: list[Property] = []
    registry: dict[str, Source] = {}
    registry_files: set[str] = set()
    labels: dict[str, object] = {}
    label_files: set[str] = set()
    acknowledged: list[Acknowledgement] = []
    deferred: list[tuple[str, str]] = []
    wheres: list[WhereRules] = []
    monitoring: list[str] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        if not with_tests and first_key_in(path, ("tests", "properties")):
            deferred.append((str(path), rel))
            continue
        yf = load_file(path, rel, diags)
        if yf is None:
            continue
        sources[rel] = yf.source
        raw[rel] = yf.source.text.encode("utf-8")
        node = yf.root
        if node is None:
            continue
        r = Reader(yf.source, diags)
        if not isinstance(node, YMap) or not node.items:
            r.error(node, "file-kind", _("a policy file is a mapping starting with `program:`, `facts:` or `tests:`"))
            continue
        first = node.items[0][0].value
        if node.get("program") is not None:
            layer = read_layer(r, node)
            if layer is not None:
                layers[rel] = layer
        elif node.get("facts") is not None:
            f = read_facts(r, node)
            if f is not None:
                facts.append(f)
        elif node.get("tests") is not None:
            tests.extend(read_tests(r, node))
        elif first == "labels":
            if _check_labels(r, node):
                data: Any = to_plain(node)
                for section, entries in data["labels"].items():
                    merged: Any = labels.setdefault(section, {})
                    merged.update(entries)
                label_files.add(rel)
        elif first == "properties":
            properties.extend(read_properties(r, node))
        elif first in ("monitoring", "monitoring_tests"):
            monitoring.append(rel)  # monitoring rules: checked by eligibility.monitor against the compiled set
        elif first == "acknowledged":
            acknowledged.extend(_read_acknowledged(r, node))
        elif first == "where_to_apply":
            w = read_where(r, node)
            if w is not None and wheres:
                r.error(node.items[0][0], "two-where", f"a second where_to_apply file (the first is {wheres[0].file})")
            elif w is not None:
                wheres.append(w)
        elif first == "sources":
            for src in read_registry(r, node):
                if src.id in registry:
                    other = registry[src.id]
                    where = f"{other.file}:{other.span.line}"
                    diags.append(Diagnostic(src.span, "duplicate-source",
                                            _("source id '{id}' is already registered in {where}",
                                              id=src.id, where=where),
                                            _("one id, one document: give this one another id"),
                                            related=((other.span, "first registered here"),)))
                    continue
                registry[src.id] = src
                registry_files.add(rel)
        else:
            r.error(node.items[0][0], "file-kind", _("unknown kind of file (first key '{first}')", first=first),
                    _("a policy file starts with `program:`, `facts:`, `sources:`, `tests:`, `properties:`, "
                      "`labels:`, `acknowledged:`, `where_to_apply:` or `monitoring:`"))
    if not facts:
        diags.append(Diagnostic(None, "no-facts",
                                _("the policy set has no facts vocabulary (a file starting with `facts:`)")))
    elif len(facts) > 1:
        diags.append(Diagnostic(Span(facts[1].file, 1, 1, 1, 1), "two-facts",
                                _("a second facts vocabulary (the first is {file})", file=facts[0].file)))
    for layer in layers.values():
        for sid, src in layer.sources.items():
            if sid in registry:
                other = registry[sid]
                diags.append(Diagnostic(src.span, "duplicate-source",
                                        _("source id '{sid}' is already registered in {file}:{line}",
                                          sid=sid, file=other.file, line=other.span.line),
                                        _("cite the registered source, or give this one another id"),
                                        related=((other.span, "registered here"),)))
    unknown = _unknown_jurisdiction(layers, jurisdiction)
    programs: dict[str, Program] = {}
    used: set[str] = set()
    if unknown is not None:
        diags.append(unknown)  # one error, instead of one for each name a program of another region defines
    else:
        programs, used = _merge_all(root, layers, jurisdiction, registry, diags)
    if not programs and layers and jurisdiction is not None and not any(d.severity == "error" for d in diags):
        diags.append(Diagnostic(None, "no-programs",
                                _("no program of this policy set applies in jurisdiction {jurisdiction}",
                                  jurisdiction=jurisdiction),
                                (_("jurisdictions present: ") + ", ".join(sorted({x.jurisdiction
                                                                               for x in layers.values()})))))
    check_expectations(tests, programs, {x.program for x in layers.values()}, diags)
    where_prog: Program | None = None
    if wheres and jurisdiction is not None and wheres[0].jurisdiction not in ancestors(jurisdiction):
        # The rules say where to apply from their deciding district (what hukou_local means): a set
        # loaded for another district has none, rather than another district's.
        wheres.clear()
    if wheres:
        where_prog = where_program(wheres[0], registry)
        check_where_programs(wheres[0], frozenset(x.program for x in layers.values()), diags)
        used.add(wheres[0].file)
    used |= registry_files
    used |= label_files
    errors = [d for d in diags if d.severity == "error"]
    if not facts or (errors and stop_on_errors):
        raise PolicyError(diags, sources)
    used.add(facts[0].file)
    hashes = {f: hashlib.sha256(raw[f]).hexdigest() for f in sorted(used)}
    return PolicySetModel(root.name, facts[0], programs, tuple(tests), sources, hashes,
                          policy_hash(hashes), jurisdiction, tuple(diags), labels or None, tuple(deferred),
                          declared_properties=tuple(properties),
                          program_names=frozenset(x.program for x in layers.values()),
                          acknowledged=tuple(acknowledged), where=where_prog,
                          where_rules=wheres[0] if wheres else None, monitoring_files=tuple(monitoring))


def _unknown_jurisdiction(layers: dict[str, Layer], jurisdiction: str | None) -> Diagnostic | None:
    """An error when the set has regional layers and none for the jurisdiction, its city or its province.

    Such a code (a typo such as 999999, or a region the set does not cover) would choose the national
    layers alone, whose programs then miss every name the regional layers define.
    """
    if jurisdiction is None:
        return None
    present = sorted({x.jurisdiction for x in layers.values()})
    regional = [c for c in present if c != "000000"]
    if not regional or any(c in regional for c in ancestors(jurisdiction)):
        return None
    guess = next((c for c in regional if c[:4] == jurisdiction[:4]), None) or \
        next((c for c in regional if c[:2] == jurisdiction[:2]), None)
    return Diagnostic(None, "unknown-jurisdiction",
                      _("unknown jurisdiction {jurisdiction}, known: {present}",
                        jurisdiction=jurisdiction, present=', '.join(present)),
                      _("did you mean {guess}? Give one of these codes, or a code under one of them (a district of a "
                        "city, a city of a province)", guess=guess) if guess
                      else _("give one of these codes, or a code under one of them (a district of a city, a city of a "
                             "province)"))


def _merge_all(root: Path, layers: dict[str, Layer], jurisdiction: str | None, registry: dict[str, Source],
               diags: list[Diagnostic]) -> tuple[dict[str, Program], set[str]]:
    parents: dict[str, str] = {}
    for rel, layer in layers.items():
        if layer.extends is None:
            continue
        target = (root / rel).parent / layer.extends
        try:
            target_rel = target.resolve().relative_to(root).as_posix()
        except ValueError:
            diags.append(Diagnostic(layer.extends_span, "extends-outside",
                                    _("`extends` must name a file inside the policy folder")))
            continue
        base = layers.get(target_rel)
        if base is None:
            diags.append(Diagnostic(layer.extends_span, "extends-missing",
                                    _("`extends` names {target_rel}, which is not a program file of this set",
                                      target_rel=target_rel)))
            continue
        if base.program != layer.program:
            diags.append(Diagnostic(layer.extends_span, "extends-program",
                                    _("{target_rel} is program '{program}', not '{program2}'",
                                      target_rel=target_rel, program=base.program, program2=layer.program)))
            continue
        parents[rel] = target_rel
    for rel in sorted(parents):
        seen_chain = [rel]
        cur = rel
        while cur in parents:
            cur = parents[cur]
            if cur in seen_chain:
                if cur == rel:
                    diags.append(Diagnostic(layers[rel].extends_span, "extends-cycle",
                                            (_("`extends` goes round in a circle: ") + " -> ".join([*seen_chain, cur])),
                                            _("a layer must extend a less specific one, ending at a base layer")))
                break
            seen_chain.append(cur)
    cyclic = {d.span.path for d in diags if d.code == "extends-cycle" and d.span}
    by_program: dict[str, list[str]] = {}
    for rel, layer in layers.items():
        by_program.setdefault(layer.program, []).append(rel)
    programs: dict[str, Program] = {}
    used: set[str] = set()
    for name, rels in sorted(by_program.items()):
        if any(r in cyclic for r in rels):
            continue
        chosen = _choose(name, rels, layers, parents, jurisdiction, diags)
        if chosen is None:
            continue
        chain = [chosen]
        while chain[-1] in parents:
            nxt = parents[chain[-1]]
            if nxt in chain:
                diags.append(Diagnostic(layers[chosen].extends_span, "extends-cycle",
                                        (_("`extends` goes round in a circle: ") + " -> ".join([*chain, nxt]))))
                break
            chain.append(nxt)
        chain.reverse()
        used.update(chain)
        prog = _merge([layers[c] for c in chain], registry, diags)
        if prog is not None:
            programs[name] = prog
    return programs, used


def _choose(name: str, rels: list[str], layers: dict[str, Layer], parents: dict[str, str],
            jurisdiction: str | None, diags: list[Diagnostic]) -> str | None:
    if jurisdiction is not None:
        for code in ancestors(jurisdiction):
            hits = [r for r in rels if layers[r].jurisdiction == code]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                diags.append(Diagnostic(layers[hits[1]].span, "ambiguous-program",
                                        _("two layers of '{name}' for jurisdiction {code}: {hits} and {hits2}",
                                          name=name, code=code, hits=hits[0], hits2=hits[1])))
                return None
        return None  # the program does not apply in this jurisdiction
    leaves = [r for r in rels if r not in parents.values()]
    if not leaves:
        return None  # every layer is extended by another: an `extends` circle, reported already
    if len(leaves) > 1:
        diags.append(Diagnostic(layers[leaves[1]].span, "ambiguous-program",
                                _("'{name}' has more than one most-specific layer: {leaves}",
                                  name=name, leaves=', '.join(leaves)),
                                _("load with a jurisdiction, e.g. eligibility.load(path, jurisdiction='440114')")))
        return None
    return leaves[0] if leaves else None


def _merge(chain: list[Layer], registry: dict[str, Source], diags: list[Diagnostic]) -> Program | None:
    leaf = chain[-1]
    sources: dict[str, Source] = dict(registry)
    params, defs = {}, {}
    eligible = amount = tier = None
    title = None
    each = None
    role = "benefit"
    failed: set[str] = set()
    for layer in chain:
        role = layer.role or role
        failed |= layer.failed
        each = layer.each or each
        sources.update(layer.sources)
        params.update(layer.parameters)
        for k, d in layer.definitions.items():
            defs[k] = d
        eligible = layer.eligible or eligible
        amount = layer.amount or amount
        tier = layer.tier or tier
        title = layer.title or title
    clash = set(params) & set(defs)
    for n in sorted(clash):
        diags.append(Diagnostic(defs[n].span, "duplicate-name",
                                _("'{n}' is a parameter in one layer and a rule or computed value in another",
                                  n=n)))
    if eligible is None:
        diags.append(Diagnostic(leaf.span, "missing-eligible",
                                _("program '{program}' has no `eligible:` expression in any layer",
                                  program=leaf.program)))
        return None
    if each is not None:
        eligible = attrs.evolve(eligible, each=each)
        amount = attrs.evolve(amount, each=each) if amount is not None else None
        tier = attrs.evolve(tier, each=each) if tier is not None else None
    return Program(leaf.program, title or _default_title(leaf.program), leaf.jurisdiction, leaf.file,
                   tuple(layer.file for layer in chain), sources, params, defs, eligible, amount, leaf.span, tier, each,
                   frozenset(failed - set(params) - set(defs)), role)


def _default_title(name: str) -> Label:
    return Label(name, name)
