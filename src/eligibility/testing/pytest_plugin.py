"""A thin pytest adapter: YAML policy test cases become pytest items (registered via pytest11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eligibility.base.errors import PolicyError
from eligibility.base.i18n import language_from_locale, use_language
from eligibility.lang.policyset import first_key_in
from eligibility.testing.cases import run_case

_ENGINES: dict[Path, Any] = {}


def _policy_root(path: Path) -> Path | None:
    for parent in path.parents:
        if (parent / "facts.yaml").is_file():
            return parent
    return None


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    """Collect `tests:` and `properties:` YAML files that sit inside a policy folder."""
    if file_path.suffix == ".yaml" and first_key_in(file_path, ("tests", "properties")) and _policy_root(file_path):
        return PolicyTestFile.from_parent(parent, path=file_path)
    return None


class PolicyTestFile(pytest.File):
    """A YAML file of policy test cases."""

    def collect(self) -> Any:
        root = _policy_root(self.path)
        assert root is not None  # collect_file checked it
        engine = _ENGINES.get(root)
        if engine is None:
            from eligibility.engine.runtime import load

            try:
                with use_language(language_from_locale()):  # messages follow the locale, as in `eligibility test`
                    engine = load(root)
            except PolicyError as e:
                raise PolicyLoadFailed(e.render()) from None
            _ENGINES[root] = engine
        rel = self.path.relative_to(root).as_posix()
        try:
            with use_language(language_from_locale()):
                cases = engine.model.tests
        except PolicyError as e:
            raise PolicyLoadFailed(e.render()) from None
        for case in cases:
            if case.file == rel:
                yield PolicyTestItem.from_parent(self, name=case.name, engine=engine, spec=case)
        for prop in engine.model.properties:
            if prop.file == rel:
                yield PolicyPropertyItem.from_parent(self, name=prop.name, engine=engine, spec=prop)


class PolicyLoadFailed(Exception):
    """The policy set of a YAML test file does not load."""


class _PolicyItem(pytest.Item):
    """A YAML case or property of a policy set: a failure shows where it is written and why it failed."""

    #: What the item is, in pytest's report ("case" or "property").
    kind = ""

    def __init__(self, *, engine: Any, spec: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.engine = engine
        self.spec = spec

    def run(self) -> Any:
        """Return the result (with `passed`, `where` and `message`)."""
        raise NotImplementedError

    def runtest(self) -> None:
        with use_language(language_from_locale()):
            result = self.run()
        if not result.passed:
            raise CaseFailed(result)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            r = excinfo.value.result
            return f"{r.where}: {self.spec.name}\n{r.message}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.spec.span.line - 1, f"policy {self.kind}: {self.spec.name}"


class PolicyTestItem(_PolicyItem):
    """One YAML test case."""

    kind = "case"

    def run(self) -> Any:
        return run_case(self.engine, self.spec)


class CaseFailed(Exception):
    """A YAML test case gave another result than expected."""

    def __init__(self, result: Any) -> None:
        super().__init__(result.message)
        self.result = result


class PolicyPropertyItem(_PolicyItem):
    """One YAML property, searched for a counterexample with generated households."""

    kind = "property"

    def run(self) -> Any:
        from eligibility.testing.properties import run_property

        return run_property(self.engine, self.spec)
