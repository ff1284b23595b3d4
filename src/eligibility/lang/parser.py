"""Expression text -> expression nodes, through Python's ast with an allowlist of node types."""

from __future__ import annotations

import ast
import io
import keyword
import re
import tokenize
import unicodedata
from decimal import Decimal

from eligibility.base.errors import Diagnostic
from eligibility.base.i18n import N_
from eligibility.base.i18n import translate as _
from eligibility.base.source import Span, readable
from eligibility.lang.loader import scalar_positions, scalar_text_span
from eligibility.lang.model import Expr
from eligibility.lang.nodes import (
    Attr,
    BinOp,
    BoolOp,
    Call,
    Compare,
    Const,
    Gen,
    IfExp,
    Loop,
    Name,
    Node,
    Num,
    TupleLit,
    Unary,
)

MAX_LENGTH = 4000
MAX_BRACKETS = 50
MAX_NODES = 1000
MAX_DEPTH = 50
MAX_ARGS = 100
MAX_LOOPS = 2
MAX_DIGITS = 30
FUNCTIONS = frozenset({"count", "sum", "any", "all", "min", "max", "abs", "age", "age_on",
                       "days_between", "date", "round_half_up", "round_up", "round_down"})

_FULLWIDTH = {"（": "(", "）": ")", "，": ",", "＞": ">", "＜": "<", "＝": "=", "＋": "+", "－": "-",
              "＊": "*", "／": "/", "“": '"', "”": '"', "‘": "'", "’": "'", "。": ".", "：": ":",
              "≤": "<=", "≥": ">=", "≠": "!=", "×": "*", "÷": "/", "！": "!", "　": " "}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
           ast.In: "in", ast.NotIn: "not in"}
_FORBIDDEN = {
    ast.Pow: N_("the power operator ** is not part of the language"),
    ast.FloorDiv: N_("floor division // is not part of the language; use round_down(x / y, 1)"),
    ast.Mod: N_("the remainder operator % is not part of the language"),
    ast.MatMult: N_("the operator @ is not part of the language"),
    ast.Lambda: N_("lambda is not part of the language"),
    ast.NamedExpr: N_("assignment (:=) is not part of the language"),
    ast.JoinedStr: N_("f-strings are not part of the language"),
    ast.Subscript: N_("subscripts (x[...]) are not part of the language; use a generator with a filter"),
    ast.Starred: N_("starred arguments are not part of the language"),
    ast.ListComp: N_("list comprehensions are not part of the language; use count/sum/any/all over a generator"),
    ast.SetComp: N_("set comprehensions are not part of the language"),
    ast.DictComp: N_("dict comprehensions are not part of the language"),
    ast.List: N_("list literals are not part of the language; use a tuple of strings with `in`"),
    ast.Dict: N_("dict literals are not part of the language"),
    ast.Set: N_("set literals are not part of the language"),
    ast.Await: N_("await is not part of the language"),
    ast.Yield: N_("yield is not part of the language"),
    ast.YieldFrom: N_("yield is not part of the language"),
    ast.Slice: N_("slices are not part of the language"),
}


#: Python's words for the syntax errors policy staff make most, translated like ours.
PYTHON_SYNTAX = (N_("invalid syntax"), N_("invalid syntax. Perhaps you forgot a comma?"),
                 N_("'(' was never closed"), N_("'[' was never closed"), N_("'{' was never closed"),
                 N_("unmatched ')'"), N_("unexpected EOF while parsing"),
                 N_("invalid syntax. Maybe you meant '==' or ':=' instead of '='?"),
                 N_("unterminated string literal (detected at line 1)"), N_("invalid decimal literal"))


class _Reject(Exception):
    def __init__(self, node: ast.AST | None, msg: str, hint: str | None = None, code: str = "forbidden") -> None:
        self.node, self.msg, self.hint, self.code = node, msg, hint, code


class ExprParser:
    """Parse one expression, mapping every node back to its position in the YAML file."""

    def __init__(self, expr: Expr) -> None:
        self.expr = expr
        self.text = expr.text
        self.lines = self.text.split("\n")
        self.line_offsets = [0]
        for ln in self.lines[:-1]:
            self.line_offsets.append(self.line_offsets[-1] + len(ln) + 1)
        self.count = 0
        self.shift = 0  # lines added before the text when a multi-line expression is wrapped
        self.positions: list[int] | None = None

    def span_of(self, start: int, end: int) -> Span:
        if self.positions is None:
            self.positions = scalar_positions(self.expr.node, self.expr.source)
        return scalar_text_span(self.expr.node, self.expr.source, start, end, self.positions)

    def char_offset(self, lineno: int, col_bytes: int) -> int:
        lineno -= self.shift
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        col = len(line.encode("utf-8")[:col_bytes].decode("utf-8", "ignore"))
        return self.line_offsets[min(lineno, len(self.lines)) - 1] + col

    def node_range(self, node: ast.AST) -> tuple[int, int]:
        s = self.char_offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        e = self.char_offset(node.end_lineno or node.lineno, node.end_col_offset or 0)  # type: ignore[attr-defined]
        return s, e

    def parse(self, diags: list[Diagnostic]) -> Node | None:
        try:
            self.precheck()
            # A multi-line expression (a YAML block scalar) is read inside brackets, as Python
            # would read it, so line breaks need no backslashes; the pre-check has made sure
            # no closing bracket can end the wrapper early.
            source = self.text
            if "\n" in self.text.strip():
                source = "(\n" + self.text + "\n)"
                self.shift = 1
            try:
                tree = ast.parse(source, mode="eval")
            except SyntaxError as err:
                raise self.syntax(err) from None
            except (RecursionError, MemoryError, ValueError):
                raise _Reject(None, _("the expression is nested more than {MAX_DEPTH} levels deep (a long chain of "
                                      "operators such as - - - x counts too)", MAX_DEPTH=MAX_DEPTH),
                              _("split it into computed values"), code="limit-depth") from None
            return self.tr(tree.body, 0)
        except _Reject as r:
            if r.node is not None and hasattr(r.node, "lineno"):
                s, e = self.node_range(r.node)
                span = self.span_of(s, e)
            elif isinstance(r.node, tuple):
                span = self.span_of(r.node[0], r.node[1])
            else:
                span = self.expr.span
            diags.append(Diagnostic(span, r.code, r.msg, r.hint))
            return None

    def precheck(self) -> None:
        t = self.text
        if len(t) > MAX_LENGTH:
            raise _Reject(None, _("the expression is {n} characters long; the limit is {MAX_LENGTH}",
                                  n=len(t), MAX_LENGTH=MAX_LENGTH),
                          _("split it into computed values or rules"), code="limit-length")
        depth = 0
        quote_end = -1  # the index just past the string literal being skipped, if any
        for i, ch in enumerate(t):
            cat = unicodedata.category(ch)
            if ch in _FULLWIDTH:
                raise _Reject((i, i + 1), _("full-width or typographic character {ch} (U+{ch2:04X})",  # type: ignore[arg-type]
                                            ch=ch, ch2=ord(ch)),
                              _("use ASCII '{FULLWIDTH}'", FULLWIDTH=_FULLWIDTH[ch]), code="fullwidth")
            if cat in ("Cf", "Co", "Cs") or (cat == "Cc" and ch not in "\n\t\r"):
                raise _Reject((i, i + 1), _("invisible or control character U+{ch:04X} in an expression",  # type: ignore[arg-type]
                                            ch=ord(ch)),
                              _("delete it; bidi controls and zero-width characters can hide code"),
                              code="invisible-character")
            if i < quote_end:
                continue  # brackets inside a string literal or a comment are text
            if ch in "'\"" and not _prefixed_by(t, i, "fFtT"):
                quote_end = _string_end(t, i)
            elif ch == "#":
                nl = t.find("\n", i)
                quote_end = len(t) if nl < 0 else nl
            elif ch in "([{":
                depth += 1
                if depth > MAX_BRACKETS:
                    raise _Reject((i, i + 1), _("brackets are nested more than {MAX_BRACKETS} deep",  # type: ignore[arg-type]
                                                MAX_BRACKETS=MAX_BRACKETS),
                                  _("split the expression into computed values"), code="limit-depth")
            elif ch in ")]}":
                depth -= 1
                if depth < 0:
                    raise _Reject((i, i + 1), _("unmatched closing bracket '{ch}'", ch=ch),  # type: ignore[arg-type]
                                  _("remove it, or add the opening bracket it closes"), code="syntax")
        for i, ch in enumerate(t):
            if ord(ch) > 127 and (ch.isalpha() or ch.isdigit()):
                raise _Reject((i, i + 1), _("non-ASCII character '{ch}' (U+{ch2:04X}) in an expression",  # type: ignore[arg-type]
                                            ch=readable(ch), ch2=ord(ch)),
                              _("names are ASCII; Chinese belongs in titles, not in expressions"),
                              code="non-ascii")

    def syntax(self, e: SyntaxError) -> _Reject:
        msg = _(e.msg or "invalid syntax")  # Python's words; the common ones are in the catalog (PYTHON_SYNTAX)
        lineno = min(max((e.lineno or 1) - self.shift, 1), len(self.lines))
        offset = max((e.offset or 1) - 1, 0)
        # SyntaxError.offset counts characters (1-based) on its line.
        line_start = self.line_offsets[min(lineno, len(self.lines)) - 1]
        pos = min(line_start + offset, max(len(self.text) - 1, 0))
        end = pos + 1
        hint = None
        if "forgot a comma" in msg:
            # Python places this error at the first of two expressions side by side; the
            # mistake is where the second one starts (often on the next line of a block).
            stray = self.stray_token(pos)
            if stray is not None:
                pos, end = stray
            hint = _("two values side by side: join them with an operator (and, or, <, +, ...) or a comma")
        elif "was never closed" in msg or "unexpected EOF" in msg:
            hint = _("close the bracket")
        elif "'=' " in msg or "Maybe you meant '=='" in msg or re.search(r"(?<![<>=!])=(?!=)", self.text):
            hint = _("compare with '==', not '='")
        elif msg.startswith("invalid syntax"):
            hint = _("check the operators and brackets near here")
        return _Reject((pos, end), _("syntax error: {msg}", msg=msg), hint, code="syntax")  # type: ignore[arg-type]

    def stray_token(self, start: int) -> tuple[int, int] | None:
        """The character range of the first token from `start` on that follows a complete value without an operator.

        A value ends with a name, a number, a string or a closing bracket; the stray token
        starts another (a name that is not a keyword, a number or a string). None when the
        text cannot be tokenized or has no such pair.
        """
        prev: tokenize.TokenInfo | None = None
        try:
            for tok in tokenize.generate_tokens(io.StringIO(self.text).readline):
                if tok.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                    continue
                (row, col), (end_row, end_col) = tok.start, tok.end
                at = self.line_offsets[row - 1] + col if row <= len(self.lines) else len(self.text)
                if at < start:
                    continue
                if prev is not None and _ends_value(prev) and _starts_value(tok, prev):
                    return at, self.line_offsets[end_row - 1] + end_col
                prev = tok
        except (tokenize.TokenError, SyntaxError):
            pass  # the end of a text with unclosed brackets; nothing was found before it
        return None

    def tr(self, n: ast.AST, depth: int) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Reject(n, _("the expression has more than {MAX_NODES} syntax nodes", MAX_NODES=MAX_NODES),
                          _("split it into computed values"), code="limit-nodes")
        if depth > MAX_DEPTH:
            raise _Reject(n, _("the expression is nested more than {MAX_DEPTH} levels deep",
                               MAX_DEPTH=MAX_DEPTH),
                          _("split it into computed values"), code="limit-depth")
        s, e = self.node_range(n)
        span = self.span_of(s, e)
        text = self.text[s:e]
        d = depth + 1
        if isinstance(n, ast.Constant):
            v = n.value
            if isinstance(v, bool):
                return Const(span, text, value=v)
            if isinstance(v, int | float) and not isinstance(v, complex):
                return self.number(n, span, text)
            if isinstance(v, str):
                if len(v) > 256:
                    raise _Reject(n, _("string literal longer than 256 characters"), code="limit-literal")
                return Const(span, text, value=v)
            if v is None:
                raise _Reject(n, _("None is not part of the language"),
                              _("optional facts have declared defaults; compare with the default"))
            raise _Reject(n, _("{name} literals are not part of the language", name=type(v).__name__))
        if isinstance(n, ast.Name):
            return Name(span, text, id=n.id)
        if isinstance(n, ast.Attribute):
            if n.attr.startswith("_"):
                raise _Reject(n, _("attribute '{attr}' is not allowed", attr=readable(n.attr, 64)),
                              _("names never start with an underscore"))
            return Attr(span, text, obj=self.tr(n.value, d), attr=n.attr)
        if isinstance(n, ast.BinOp):
            op = _BINOPS.get(type(n.op))
            if op is None:
                hint = (_("multiply instead: x * x") if isinstance(n.op, ast.Pow) else None)
                raise _Reject(n, _(_FORBIDDEN.get(type(n.op), "operator not allowed")), hint)
            return BinOp(span, text, op=op, left=self.tr(n.left, d), right=self.tr(n.right, d))
        if isinstance(n, ast.UnaryOp):
            if isinstance(n.op, ast.Not):
                return Unary(span, text, op="not", operand=self.tr(n.operand, d))
            if isinstance(n.op, ast.USub):
                operand = self.tr(n.operand, d)
                if isinstance(operand, Num):
                    operand.value = -operand.value
                    operand.span, operand.text = span, text
                    return operand
                return Unary(span, text, op="-", operand=operand)
            if isinstance(n.op, ast.UAdd):
                return self.tr(n.operand, d)
            raise _Reject(n, _("the operator ~ is not part of the language"))
        if isinstance(n, ast.BoolOp):
            return BoolOp(span, text, op="and" if isinstance(n.op, ast.And) else "or",
                          values=[self.tr(v, d) for v in n.values])
        if isinstance(n, ast.Compare):
            ops = []
            for o in n.ops:
                if type(o) not in _CMPOPS:
                    raise _Reject(n, _("'is' comparisons are not part of the language"), _("use == or !="))
                ops.append(_CMPOPS[type(o)])
            return Compare(span, text, left=self.tr(n.left, d), ops=ops,
                           comparators=[self.tr(c, d) for c in n.comparators])
        if isinstance(n, ast.IfExp):
            return IfExp(span, text, test=self.tr(n.test, d), body=self.tr(n.body, d),
                         orelse=self.tr(n.orelse, d))
        if isinstance(n, ast.Tuple):
            items = [self.tr(x, d) for x in n.elts]
            strings = all(isinstance(i, Const) and isinstance(i.value, str) for i in items)
            numbers = all(isinstance(i, Num) for i in items)
            if not items or not (strings or numbers):
                raise _Reject(n, _("a tuple holds string literals or number literals only, for `in`"),
                              _('e.g. member.relation in ("spouse", "child") or member.disability_grade in (1, 2)'))
            return TupleLit(span, text, items=items)  # type: ignore[arg-type]
        if isinstance(n, ast.Call):
            return self.call(n, span, text, d)
        if isinstance(n, ast.GeneratorExp):
            return self.gen(n, span, text, d)
        msg = _(_FORBIDDEN[type(n)]) if type(n) in _FORBIDDEN else _(
            "'{name}' is not part of the expression language", name=type(n).__name__)
        raise _Reject(n, msg)

    def number(self, n: ast.Constant, span: Span, text: str) -> Num:
        raw = text
        if "_" in raw:
            raise _Reject(n, _("underscores are not allowed in numbers"), _("write 1000, not 1_000"))
        if raw.lower().lstrip("-+").startswith(("0x", "0o", "0b")):
            raise _Reject(n, _("only decimal numbers are allowed"), _("write the number in decimal digits"))
        if isinstance(n.value, float) and ("e" in raw.lower() or raw.lower() in ("inf", "nan")):
            raise _Reject(n, _("exponent notation is not allowed in numbers"), _("write the digits out"))
        digits = raw.lstrip("-+").replace(".", "").lstrip("0")
        if len(digits) > MAX_DIGITS:
            raise _Reject(n, _("number literal has {n} significant digits; the limit is {MAX_DIGITS}",
                               n=len(digits), MAX_DIGITS=MAX_DIGITS),
                          code="limit-literal")
        try:
            value = Decimal(raw)
        except ArithmeticError:
            raise _Reject(n, _("not a number"), code="syntax") from None
        if abs(value) >= Decimal(10) ** 18:
            raise _Reject(n, _("number literal is 10^18 or more"), code="limit-literal")
        return Num(span, text, value=value, is_int=isinstance(n.value, int))

    def call(self, n: ast.Call, span: Span, text: str, d: int) -> Node:
        if not isinstance(n.func, ast.Name):
            raise _Reject(n.func, _("only the language's functions can be called"),
                          (_("functions: ") + ", ".join(sorted(FUNCTIONS))))
        if n.keywords:
            raise _Reject(n.keywords[0].value, _("keyword arguments are not part of the language"))
        if len(n.args) > MAX_ARGS:
            raise _Reject(n, _("{n} arguments; the limit is {MAX_ARGS}", n=len(n.args), MAX_ARGS=MAX_ARGS),
                          code="limit-args")
        return Call(span, text, func=n.func.id, args=[self.tr(a, d) for a in n.args])

    def gen(self, n: ast.GeneratorExp, span: Span, text: str, d: int) -> Node:
        if len(n.generators) > MAX_LOOPS:
            raise _Reject(n, _("a generator may have at most {MAX_LOOPS} `for` clauses", MAX_LOOPS=MAX_LOOPS),
                          code="limit-loops")
        loops = []
        for g in n.generators:
            if g.is_async:
                raise _Reject(n, _("async generators are not part of the language"))
            if not isinstance(g.target, ast.Name):
                raise _Reject(g.target, _("a loop variable must be a single name"))
            ts, te = self.node_range(g.target)
            loops.append(Loop(g.target.id, self.span_of(ts, te), self.tr(g.iter, d),
                              [self.tr(c, d) for c in g.ifs]))
        return Gen(span, text, elt=self.tr(n.elt, d), loops=loops)


def _ends_value(tok: tokenize.TokenInfo) -> bool:
    if tok.type == tokenize.NAME:
        return not keyword.iskeyword(tok.string) or tok.string in ("True", "False", "None")
    return tok.type in (tokenize.NUMBER, tokenize.STRING) or tok.string in (")", "]", "}")


def _starts_value(tok: tokenize.TokenInfo, prev: tokenize.TokenInfo) -> bool:
    if tok.type == tokenize.NAME:
        return not keyword.iskeyword(tok.string) or tok.string in ("True", "False", "None")
    if tok.type == tokenize.STRING:
        return prev.type != tokenize.STRING  # "a" "b" is one string in Python
    return tok.type == tokenize.NUMBER


def _prefixed_by(text: str, quote: int, letters: str) -> bool:
    """Whether the string literal opening at `quote` has a prefix (r, b, u, f, ...) with one of `letters`.

    f-strings (and t-strings) hold expressions, brackets included, so the pre-check counts
    their brackets; the parser then rejects them anyway.
    """
    i = quote
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
        i -= 1
    prefix = text[i:quote]
    valid = len(prefix) <= 2 and all(c in "rRbBuUfFtT" for c in prefix)
    return valid and any(c in letters for c in prefix)


def _string_end(text: str, start: int) -> int:
    """The index just past the Python string literal opening at `start` (its end of line if unterminated).

    Single and double quotes, tripled or not; a backslash escapes the next character, as
    Python's tokenizer reads it (in raw strings too).
    """
    q = text[start]
    triple = text.startswith(q * 3, start)
    closer = q * 3 if triple else q
    i = start + len(closer)
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if not triple and ch == "\n":
            return i  # unterminated: Python reports it; the rest of the line is not counted
        if text.startswith(closer, i):
            return i + len(closer)
        i += 1
    return n


def parse_expr(expr: Expr, diags: list[Diagnostic]) -> Node | None:
    """Parse an expression, adding a diagnostic and returning None when it is not valid."""
    return ExprParser(expr).parse(diags)
