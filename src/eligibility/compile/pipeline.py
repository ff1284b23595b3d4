"""Check, generate and compile a policy set once; the result is cached by content hash."""

from __future__ import annotations

import decimal
import linecache
import threading
from pathlib import Path
from typing import Any

import attrs

from eligibility.base.errors import Diagnostic, PolicyError
from eligibility.base.numbers import ENGINE_CONTEXT
from eligibility.compile.codegen import Generated, generate
from eligibility.compile.helpers import HELPERS
from eligibility.lang.checker import CheckedSet, Checker
from eligibility.lang.policyset import PolicySetModel, acknowledge, read_policy_set
from eligibility.lang.where import PROGRAM as WHERE_PROGRAM
from eligibility.lang.where import check_where


@attrs.frozen
class CompiledPolicy:
    """A checked and compiled policy set: the generated functions and the tables to trace them."""

    model: PolicySetModel
    checked: CheckedSet
    generated: Generated
    filename: str
    namespace: dict[str, Any]
    warnings: tuple[Diagnostic, ...]


_CACHE: dict[tuple[str, str | None], CompiledPolicy] = {}
_LOCK = threading.Lock()


def compile_policy(root: Path, jurisdiction: str | None = None) -> CompiledPolicy:
    """Read, check and compile the policy set in `root`; raise PolicyError with every problem."""
    with decimal.localcontext(ENGINE_CONTEXT):
        return _compile_policy(root, jurisdiction)


def _compile_policy(root: Path, jurisdiction: str | None) -> CompiledPolicy:
    diags: list[Diagnostic] = []
    model = read_policy_set(root, jurisdiction, diags, stop_on_errors=False, with_tests=False)
    key = (model.hash, jurisdiction)
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None and not any(d.severity == "error" for d in diags):
        return attrs.evolve(hit, model=model)
    checked = Checker(model.facts, model.programs, diags).run()
    if model.where is not None:  # the where_to_apply rules are checked with the set, compiled on first use
        check_where(model.where, model.facts, diags)
    if any(d.severity == "error" for d in diags):
        raise PolicyError(_dedupe(diags), model.sources)
    gen = generate(checked)
    filename = f"<policy:{model.root}:{model.hash[7:19]}>"
    code = compile_generated(gen, filename)
    ns = namespace(gen, code)
    compiled = CompiledPolicy(model, checked, gen, code.co_filename, ns,
                              tuple(d for d in _dedupe(diags) if d.severity != "error"))
    with _LOCK:
        _CACHE[key] = compiled
    return compiled


def compile_generated(gen: Generated, filename: str) -> Any:
    """Register generated source in linecache under a name of its own (tracebacks show it) and compile it.

    As attrs does: a name already registered for other source gets a numbered suffix, so two
    compilations never overwrite each other's lines.
    """
    lines = gen.source.splitlines(keepends=True)
    name, n = filename, 1
    while True:
        entry = (len(gen.source), None, lines, name)
        if linecache.cache.setdefault(name, entry) == entry:
            break
        n += 1
        name = f"{filename[:-1]}-{n}>" if filename.endswith(">") else f"{filename}-{n}"
    return compile(gen.source, name, "exec", dont_inherit=True)


def namespace(gen: Generated, code: Any) -> dict[str, Any]:
    """Run compiled generated code in a namespace of the runtime helpers and its constants only."""
    ns: dict[str, Any] = {"__builtins__": {}}
    ns.update(HELPERS)
    for i, value in enumerate(gen.constants):
        ns[f"K{i}"] = value
    exec(code, ns)  # the source is generated from the checked model, never from policy text
    # The reference untraced functions the lean ones (lp_N, lN) were generated with: an engine uses
    # the lean ones only while every d-function is still one of these (see codegen.lean_functions).
    ns[LEAN_REFERENCE] = {name: fn for name, fn in ns.items() if name[:1] == "d" and name[1:].isdigit()}
    return ns


#: The namespace key of the reference d-functions the lean functions stand for.
LEAN_REFERENCE = "__lean_reference__"


def check_policy(root: Path, jurisdiction: str | None = None) -> list[Diagnostic]:
    """Return every diagnostic (errors and warnings) of a policy set without raising."""
    with decimal.localcontext(ENGINE_CONTEXT):
        return _check_policy(root, jurisdiction)


def _check_policy(root: Path, jurisdiction: str | None) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    try:
        model = read_policy_set(root, jurisdiction, diags, stop_on_errors=False)
    except PolicyError as e:
        return list(e.diagnostics)
    Checker(model.facts, model.programs, diags).run()
    if model.where is not None:
        check_where(model.where, model.facts, diags)
    return acknowledge(_dedupe(diags), model.acknowledged)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen = set()
    out = []
    for d in diags:
        key = (d.span, d.code, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


_WHERE: dict[tuple[str, str | None], CompiledPolicy] = {}


def compile_where(compiled: CompiledPolicy) -> CompiledPolicy | None:
    """Compile the set's `where_to_apply:` rules as a policy set of their own program; None if it has none."""
    model = compiled.model
    if model.where is None:
        return None
    key = (model.hash, model.jurisdiction)
    with _LOCK:
        hit = _WHERE.get(key)
    if hit is not None:
        return hit
    with decimal.localcontext(ENGINE_CONTEXT):
        diags: list[Diagnostic] = []
        checked = check_where(model.where, model.facts, diags)
        if any(d.severity == "error" for d in diags):
            raise PolicyError(_dedupe(diags), model.sources)
        gen = generate(checked)
        code = compile_generated(gen, f"<where:{model.root}:{model.hash[7:19]}>")
        ns = namespace(gen, code)
    sub = attrs.evolve(model, programs={WHERE_PROGRAM: model.where})
    result = CompiledPolicy(sub, checked, gen, code.co_filename, ns, ())
    with _LOCK:
        _WHERE[key] = result
    return result
