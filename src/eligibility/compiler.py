"""Check, generate and compile a policy set once; the result is cached by content hash."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import linecache
import marshal
import os
import sys
import threading
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import attrs

from .checker import CheckedSet, Checker
from .codegen import Generated, generate
from .errors import Diagnostic, PolicyError
from .policyset import PolicySetModel, read_policy_set

#: Every decision and every load runs under this context, whatever the caller's context is.
ENGINE_CONTEXT = decimal.Context(
    prec=34, rounding=decimal.ROUND_HALF_EVEN, Emin=-999999, Emax=999999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.FloatOperation],
)


class Unset:
    """The marker of a definition not evaluated yet in a decision."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<not evaluated>"


U = Unset()


class NotInForce(Exception):
    """No version of a definition is in force on the decision date."""

    def __init__(self, index: int) -> None:
        self.index = index


class MissingParameter(Exception):
    """A parameter with no value on the decision date was used."""

    def __init__(self, index: int) -> None:
        self.index = index


def _refuse(self: MissingValue, *args: object) -> Any:
    raise MissingParameter(self.index)


class MissingValue:
    """Stands for a parameter with no value on the decision date; any use of it raises."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __neg__ = __abs__ = __bool__ = __hash__ = _refuse


class EmptyAggregate(Exception):
    """min() or max() over an empty list."""

    def __init__(self, text: str) -> None:
        self.text = text


class DateOrder(Exception):
    """age() of a date after the date it is measured on."""

    def __init__(self, born: dt.date, on: dt.date) -> None:
        self.born, self.on = born, on


def _record(t: dict[int, Any], k: int, v: Any) -> Any:
    t[k] = v
    return v


def _record_item(t: dict[int, Any], k: int, idx: tuple[int, ...], v: Any) -> Any:
    lst = t.get(k)
    if lst is None:
        t[k] = lst = []
    lst.append((idx, v))
    return v


def _per_record(c: list[Any], k: int, f: Any, h: Any, pv: Any, on: Any, x: Any) -> Any:
    memo = c[k]
    if memo is U:
        memo = c[k] = {}
    v = memo.get(id(x), U)
    if v is U:
        v = memo[id(x)] = f(h, pv, c, on, x)
    return v


def _per_record_traced(c: list[Any], k: int, f: Any, h: Any, pv: Any, on: Any, t: Any, x: Any, i: int) -> Any:
    memo = c[k]
    if memo is U:
        memo = c[k] = {}
    v = memo.get(id(x), U)
    if v is U:
        v = memo[id(x)] = f(h, pv, c, on, t, x, i)
    return v


def _age(born: dt.date, on: dt.date) -> int:
    if born > on:
        raise DateOrder(born, on)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _days(a: dt.date, b: dt.date) -> int:
    return (b - a).days


def _min_of(items: Any, text: str) -> Any:
    vals = list(items)
    if not vals:
        raise EmptyAggregate(text)
    return min(vals)


def _max_of(items: Any, text: str) -> Any:
    vals = list(items)
    if not vals:
        raise EmptyAggregate(text)
    return max(vals)


def _dec(x: Any) -> Decimal:
    """A number as a Decimal; a parameter with no value raises here as anywhere else."""
    if x.__class__ is Decimal:
        return x
    if x.__class__ is MissingValue:
        raise MissingParameter(x.index)
    return Decimal(x)


def _quant(mode: str) -> Any:
    def q(x: Decimal, step: Decimal) -> Decimal:
        if step.__class__ is not Decimal:
            step = Decimal(step)
        x = _dec(x)
        if step.as_tuple().digits == (1,):  # 0.01, 1, 10: quantize directly
            exp = step.as_tuple().exponent
            if isinstance(exp, int) and exp <= 0:
                return x.quantize(step, rounding=mode)
        return (x / step).quantize(Decimal(1), rounding=mode) * step
    return q


HELPERS: dict[str, object] = {
    "U": U, "D": _dec, "r": _record, "ri": _record_item, "age": _age, "days": _days,
    "min_of": _min_of, "max_of": _max_of, "pm": _per_record, "tpm": _per_record_traced,
    "rhu": _quant(ROUND_HALF_UP), "rup": _quant(ROUND_CEILING),
    "rdn": _quant(ROUND_FLOOR), "RHU": ROUND_HALF_UP, "RUP": ROUND_CEILING, "RDN": ROUND_FLOOR,
    "NotInForce": NotInForce, "sum": sum, "any": any, "all": all,
    "len": len, "min": min, "max": max, "abs": abs, "enumerate": enumerate,
}


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
    if any(d.severity == "error" for d in diags):
        raise PolicyError(_dedupe(diags), model.sources)
    gen = generate(checked)
    filename = f"<policy:{model.root}:{model.hash[7:19]}>"
    ns = namespace(gen, compile_generated(gen, filename))
    compiled = CompiledPolicy(model, checked, gen, filename, ns,
                              tuple(d for d in _dedupe(diags) if d.severity != "error"))
    with _LOCK:
        _CACHE[key] = compiled
    return compiled


def compile_generated(gen: Generated, filename: str, *, cache: bool = True) -> Any:
    """Register generated source in linecache (tracebacks show it) and compile it."""
    linecache.cache[filename] = (len(gen.source), None, gen.source.splitlines(keepends=True), filename)
    if cache:
        return compile_cached(gen.source, filename)
    return compile(gen.source, filename, "exec", dont_inherit=True)


def namespace(gen: Generated, code: Any) -> dict[str, Any]:
    """Run compiled generated code in a namespace of the runtime helpers and its constants only."""
    ns: dict[str, Any] = {"__builtins__": {}}
    ns.update(HELPERS)
    for i, value in enumerate(gen.constants):
        ns[f"K{i}"] = value
    exec(code, ns)  # the source is generated from the checked model, never from policy text
    return ns


def _cache_dir() -> Path | None:
    """The folder for compiled code, or None when caching is off or the folder is not safe."""
    if os.environ.get("ELIGIBILITY_CACHE", "1") == "0":
        return None
    base = os.environ.get("ELIGIBILITY_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "eligibility")
    path = Path(base)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
    except OSError:
        return None
    # Code read from here is executed: only a folder of our own that nobody else can write.
    if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
        return None
    return path


def compile_cached(source: str, filename: str) -> Any:
    """Compile generated source, reusing the code object from a previous process when it is identical.

    The cache key covers the source, the synthetic filename and the Python version; a damaged or
    foreign cache file is ignored and compiled again. ELIGIBILITY_CACHE=0 turns caching off.
    """
    folder = _cache_dir()
    key = hashlib.sha256("\0".join((sys.version, filename, source)).encode()).hexdigest()
    path = folder / f"{key}.code" if folder is not None else None
    if path is not None:
        try:
            st = path.stat()
            if not hasattr(os, "getuid") or (st.st_uid == os.getuid() and not st.st_mode & 0o022):
                return marshal.loads(path.read_bytes())
        except (OSError, EOFError, ValueError, TypeError):
            pass
    code = compile(source, filename, "exec", dont_inherit=True)
    if path is not None:
        try:
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private, whatever the umask
            with os.fdopen(fd, "wb") as f:
                f.write(marshal.dumps(code))
            os.replace(tmp, path)
        except OSError:
            pass
    return code


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
    return _dedupe(diags)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen = set()
    out = []
    for d in diags:
        key = (d.span, d.code, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
