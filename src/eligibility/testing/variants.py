"""Engines that differ from an engine in one place, and what the unchanged engine did on each case.

`Variants` shares an engine's compiled code and swaps one definition's functions (or one dated
parameter value); mutation testing builds its mutants with it, and coverage the engines that
ask whether a rule could have changed a case's outcome. `observe` runs the cases once on the
unchanged engine and keeps each decision's trace for both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs

from eligibility.compile import pipeline
from eligibility.compile.codegen import generate
from eligibility.compile.pipeline import CompiledPolicy
from eligibility.compile.pipeline import namespace as run_generated
from eligibility.engine import where as where_module
from eligibility.engine.runtime import Engine
from eligibility.lang.model import TestCase
from eligibility.lang.nodes import Node
from eligibility.testing.cases import run_case

# --- observing the unchanged policy set ----------------------------------------------------------


@attrs.frozen
class Observation:
    """What one test case did on the unchanged policy set."""

    case: TestCase
    passed: bool
    #: The decision's trace (`Decision.to_json()`); None for an `expect_error` case or a failing one.
    trace: dict[str, Any] | None


def observe(engine: Engine, cases: Iterable[TestCase]) -> list[Observation]:
    """Run each case on the unchanged engine and keep the trace of each decision it makes."""
    out = []
    for case in cases:
        result = run_case(engine, case, quick=True)
        trace = None
        if result.passed and case.expect_error is None:
            trace = engine.decide(case.household, case.on).to_json()  # type: ignore[arg-type]
        out.append(Observation(case, result.passed, trace))
    return out


def steps(trace: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (program, step) for every step of a trace."""
    for program, p in trace["programs"].items():
        for step in p["steps"]:
            yield program, step


# --- engines that differ in one place -----------------------------------------------------------


class Variants:
    """Build engines that share the compiled code of an engine but for one definition or value."""

    def __init__(self, engine: Engine) -> None:
        self.base = engine
        self.compiled = engine.compiled
        gen = self.compiled.generated
        self._code = compile(gen.source, self.compiled.filename, "exec", dont_inherit=True)

    def namespace(self) -> dict[str, Any]:
        """Return a fresh namespace holding the unchanged generated functions."""
        return run_generated(self.compiled.generated, self._code)

    def engine(self, namespace: dict[str, Any] | None = None, model: Any = None) -> Engine:
        """Return an engine over a namespace (default: the unchanged one) and a model (parameters)."""
        compiled = attrs.evolve(self.compiled,
                                namespace=namespace if namespace is not None else self.compiled.namespace,
                                model=model if model is not None else self.compiled.model)
        return Engine(compiled)

    def with_trees(self, key: tuple[str, str], trees: list[Node | None]) -> Engine:
        """Return an engine whose definition `key` has the given expression trees."""
        checked = self.compiled.checked
        cd = attrs.evolve(checked.defs[key], trees=trees)
        cs = attrs.evolve(checked, defs={**checked.defs, key: cd})
        gen = generate(cs)
        ns = self.namespace()
        i = gen.def_index.get(key)
        names = (f"d{i}", f"t{i}")
        block = _functions(gen.source, names) if gen.def_index == self.compiled.generated.def_index else None
        if block is not None:
            # Only this definition's functions change: compile them alone, with the constants
            # of the new generation, and put them where every other function looks them up.
            local = dict(ns)
            for j, value in enumerate(gen.constants):
                local[f"K{j}"] = value
            exec(compile(block, f"<mutant:{key[0]}.{key[1]}>", "exec", dont_inherit=True), local)
            for n in names:
                ns[n] = local[n]
            return self.engine(namespace=ns)
        # Not registered in linecache: hundreds of mutants would keep their whole source alive.
        code = compile(gen.source, f"<mutant:{key[0]}.{key[1]}>", "exec", dont_inherit=True)
        return Engine(attrs.evolve(self.compiled, checked=cs, generated=gen, namespace=run_generated(gen, code),
                                   filename=code.co_filename))

    def with_parameter(self, program: str, name: str, index: int, value: object) -> Engine:
        """Return an engine in which one dated value of a parameter is replaced."""
        model = self.compiled.model
        prog = model.programs[program]
        param = prog.parameters[name]
        values = list(param.values)
        values[index] = attrs.evolve(values[index], value=value)
        param = attrs.evolve(param, values=tuple(values))
        prog = attrs.evolve(prog, parameters={**prog.parameters, name: param})
        return self.engine(model=attrs.evolve(model, programs={**model.programs, program: prog}))


# --- the where_to_apply rules, changed -----------------------------------------------------------


def where_rules(engine: Engine) -> CompiledPolicy | None:
    """The engine's compiled `where_to_apply:` rules (one program, `where_to_apply`), or None."""
    return pipeline.compile_where(engine.compiled)


def where_namespace(where: CompiledPolicy) -> dict[str, Any]:
    """A fresh namespace of the where rules' unchanged generated functions (to replace some of them)."""
    gen = where.generated
    return pipeline.namespace(gen, compile(gen.source, where.filename, "exec", dont_inherit=True))


def where_with_trees(where: CompiledPolicy, key: tuple[str, str], trees: list[Node | None]) -> CompiledPolicy:
    """The where rules compiled again with definition `key` (of program `where_to_apply`) given these trees."""
    cd = attrs.evolve(where.checked.defs[key], trees=trees)
    checked = attrs.evolve(where.checked, defs={**where.checked.defs, key: cd})
    gen = generate(checked)
    # Not registered in linecache: hundreds of mutants would keep their whole source alive.
    code = compile(gen.source, f"<mutant:{key[0]}.{key[1]}>", "exec", dont_inherit=True)
    return attrs.evolve(where, checked=checked, generated=gen, namespace=run_generated(gen, code),
                        filename=code.co_filename)


@contextlib.contextmanager
def where_engine(engine: Engine, where: CompiledPolicy) -> Iterator[Engine]:
    """An engine that decides as `engine` does and answers `where_to_apply` with the rules `where`.

    `where` is a changed copy of the engine's compiled where rules (`attrs.evolve` of `where_rules`
    with another namespace, or compiled from changed trees). The copy is reached through the
    compiler's cache, under a policy hash of its own, for the `with` block only.
    """
    model = engine.compiled.model
    variant = Engine(attrs.evolve(engine.compiled, model=attrs.evolve(model, hash=f"{model.hash}+variant{id(where)}")))
    key = (variant.model.hash, model.jurisdiction)
    with pipeline._LOCK:
        pipeline._WHERE[key] = where
    try:
        yield variant
    finally:
        with pipeline._LOCK:
            pipeline._WHERE.pop(key, None)
        where_module._INNER.pop(id(where), None)


def _functions(source: str, names: Sequence[str]) -> str | None:
    """Return the source of the named top-level functions of a generated module, or None."""
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    found = set()
    keep = False
    for line in lines:
        if line.startswith("def "):
            name = line[4:].split("(", 1)[0]
            keep = name in names
            if keep:
                found.add(name)
        elif not line.startswith((" ", "\t")) and line.strip():
            keep = False
        if keep:
            out.append(line)
    return "".join(out) if found == set(names) else None
