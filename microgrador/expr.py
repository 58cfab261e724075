"""A safe parser for formulas such as "tanh(x*w + b)": text in, a graph of Values out.

    out, inputs = build_expression("tanh(x*w + b)", {"x": 1, "w": -2, "b": 0.5})
    out.backward(); inputs["w"].grad

The text is parsed by Python's `ast` module (parsing runs no code) and every node of
the tree is checked against a whitelist: numbers, the declared variables, the
operators + - * / ** (and unary -, +), and calls of the functions in FUNCTIONS.
Anything else (attributes, indexing, strings, lambdas, keywords, ...) is rejected
with an ExpressionError naming the construct and its column. Nothing is ever
passed to eval or exec: the checked tree is walked and each node applied as an op.
"""
from __future__ import annotations

import ast
import keyword
import math
import re
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import ops
from .engine import Value, as_float
from .ops import Scalar

MAX_LENGTH = 10_000      # characters: keeps parsing time and tree depth bounded


def _leaky_relu(x: Scalar, slope: Scalar = 0.01) -> Scalar:
    if isinstance(slope, Value):
        raise ValueError("leaky_relu's slope must be a number, not depend on a variable")
    return ops.leaky_relu(x, slope)


# name -> (function, least and most arguments; None = any number)
FUNCTIONS: Dict[str, Tuple[Callable[..., Scalar], int, Optional[int]]] = {
    "exp": (ops.exp, 1, 1),
    "log": (ops.log, 1, 1),
    "sqrt": (ops.sqrt, 1, 1),
    "tanh": (ops.tanh, 1, 1),
    "sigmoid": (ops.sigmoid, 1, 1),
    "relu": (ops.relu, 1, 1),
    "leaky_relu": (_leaky_relu, 1, 2),
    "abs": (ops.absolute, 1, 1),
    "sin": (ops.sin, 1, 1),
    "cos": (ops.cos, 1, 1),
    "sum": (lambda *xs: ops.sum_of(list(xs)), 1, None),               # one n-ary node
    "logsumexp": (lambda *xs: ops.logsumexp(list(xs)), 1, None),   # log(sum e^x_i)
}

_BINARY = {ast.Add: ("+", ops.add), ast.Sub: ("-", ops.sub), ast.Mult: ("*", ops.mul),
           ast.Div: ("/", ops.div), ast.Pow: ("**", ops.power)}
_UNARY = {ast.USub: ("-", ops.neg), ast.UAdd: ("+", lambda x: x)}
_REFUSED_BINARY = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<",
                   ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&"}
_REFUSED_UNARY = {ast.Not: "not", ast.Invert: "~"}
_CONSTRUCTS = [   # what a refused node is called in the error
    ("Attribute", "attribute access"), ("Subscript", "indexing"), ("Slice", "a slice"),
    ("Lambda", "a lambda"), ("Compare", "a comparison"), ("BoolOp", "and/or"),
    ("IfExp", "an if-else expression"), ("ListComp", "a comprehension"),
    ("SetComp", "a comprehension"), ("DictComp", "a comprehension"),
    ("GeneratorExp", "a generator expression"), ("List", "a list"), ("Tuple", "a tuple"),
    ("Dict", "a dict"), ("Set", "a set"), ("JoinedStr", "an f-string"),
    ("FormattedValue", "an f-string"), ("NamedExpr", "an assignment (:=)"),
    ("Await", "await"), ("Yield", "yield"), ("YieldFrom", "yield"),
    ("Starred", "a starred argument"),
]
_NAMES = {getattr(ast, cls): what for cls, what in _CONSTRUCTS if hasattr(ast, cls)}
_VARIABLE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class ExpressionError(ValueError):
    """The expression is not allowed or cannot be evaluated; says what and where.

    `column` (1-based, in characters) and `line` point at the offending part."""

    def __init__(self, message: str, text: str, line: int = 1, column: int = 1) -> None:
        self.message, self.text, self.line, self.column = message, text, line, column
        lines = text.split("\n") or [""]
        where = f"column {column}" if len(lines) == 1 else f"line {line}, column {column}"
        source = lines[line - 1] if 0 < line <= len(lines) else ""
        super().__init__(f"{message} (at {where}):\n    {source}\n    {' ' * (column - 1)}^\n"
                         f"{_allowed()}")


def _allowed() -> str:
    return ("Allowed: numbers, the declared variables, + - * / ** and the functions "
            + ", ".join(FUNCTIONS) + ".")


def check_variable_names(names: Iterable[str]) -> List[str]:
    """The names, if each is a letter then letters, digits or _ and not a function name."""
    out = []
    for name in names:
        if not isinstance(name, str) or not _VARIABLE.match(name):
            raise ValueError(f"variable name {name!r} is not allowed: use a letter followed by "
                             f"letters, digits or _ (such as x, w1, bias_2)")
        if keyword.iskeyword(name):
            raise ValueError(f"variable name {name!r} is a Python keyword; choose another name")
        if name in FUNCTIONS:
            raise ValueError(f"variable name {name!r} is taken by the function {name}(); "
                             f"choose another name")
        out.append(name)
    return out


def parse_expression(text: str, variables: Iterable[str]) -> ast.Expression:
    """The syntax tree of `text`, after checking that it only uses the whitelist and
    the given variable names; else an ExpressionError for the leftmost problem."""
    if not isinstance(text, str):
        raise TypeError(f"parse_expression: expected the expression as a str, got "
                        f"{type(text).__name__}")
    names = set(check_variable_names(variables))
    if not text.strip():
        raise ExpressionError("the expression is empty", text, 1, 1)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(text)} characters long, more than "
                              f"the {MAX_LENGTH} allowed", text, 1, MAX_LENGTH + 1)
    if "\x00" in text:
        line, column = _position_of(text, text.index("\x00"))
        raise ExpressionError("a NUL character is not allowed", text, line, column)
    lone = _LONE_SURROGATE.search(text)
    if lone:   # half of a UTF-16 pair, e.g. from a badly decoded command line: not text
        line, column = _position_of(text, lone.start())
        raise ExpressionError(f"the character {lone.group()!r} (a lone surrogate, not a real "
                              f"character) is not allowed", text, line, column)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        if not e.offset:   # offset 0: Python gave up at the end of the input, as in "x+"
            line, column = _position_of(text, len(text.rstrip()))
            raise ExpressionError("this is not a valid expression: it ends too early",
                                  text, line, column) from None
        line, column = _syntax_position(text, e)
        raise ExpressionError(f"this is not a valid expression: {e.msg}", text, line, column) from None
    except (RecursionError, MemoryError):
        raise ExpressionError("the expression is nested too deeply to parse", text, 1, 1) from None
    problems = _problems(tree, names, text.strip())
    if problems:
        (line, column, _), message = min(problems)
        raise ExpressionError(message, text, *_unstripped(text, line, column))
    return tree


def build_expression(text: str, values: Mapping[str, float]) -> Tuple[Value, Dict[str, Value]]:
    """Parse `text` and compute it on Values: returns (the result, {name: input Value}).

    Each variable becomes one leaf Value labelled with its name (used twice, it is
    the same node twice); numbers in the text become constant leaves where they meet
    a Value. The result has not been through backward() yet.
    """
    names = check_variable_names(list(values))
    tree = parse_expression(text, names)
    inputs = {name: Value(as_float(values[name], f"the value of {name}"), label=name)
              for name in names}
    out = _evaluate(tree, inputs, text)
    if not isinstance(out, Value):   # only numbers in the expression: a single leaf
        out = Value(out, label=text.strip())
    return out, inputs


# --- checking ----------------------------------------------------------------------------
def _problems(tree: ast.Expression, names, text: str):
    """((line, column, -depth), message) for every node outside the whitelist; the
    smallest is the leftmost, and the innermost of nodes that start together."""
    found = []
    lines = text.split("\n")

    def add(node: ast.AST, depth: int, message: str, column: Optional[int] = None) -> None:
        line = getattr(node, "lineno", 1)
        col = _char_column(lines, line, node.col_offset) if column is None else column
        found.append(((line, col, -depth), message))

    stack = [(tree.body, 0, False)]     # (node, depth, is the function of a Call)
    while stack:
        node, depth, is_callee = stack.pop()
        t = type(node)
        if is_callee and t in (ast.Constant, ast.BinOp, ast.UnaryOp, ast.Call):
            # "(1)(2)" or "exp(x)(1)": a number or a result is not a function
            add(node, depth, "only a function name can be called; to multiply, write *, "
                             "as in (x+1)*(2)")
        if t is ast.BinOp:
            if type(node.op) in _BINARY:
                pass
            else:
                symbol = _REFUSED_BINARY.get(type(node.op), type(node.op).__name__)
                add(node, depth + 1, f"the operator {symbol!r} is not allowed",
                    _operator_column(lines, node, symbol))
            stack += [(node.left, depth + 1, False), (node.right, depth + 1, False)]
        elif t is ast.UnaryOp:
            if type(node.op) not in _UNARY:
                symbol = _REFUSED_UNARY.get(type(node.op), type(node.op).__name__)
                add(node, depth, f"the operator {symbol!r} is not allowed")
            stack.append((node.operand, depth + 1, False))
        elif t is ast.Call:
            stack.append((node.func, depth + 1, True))
            stack += [(a, depth + 1, False) for a in node.args]
            for k in node.keywords:
                what = f"keyword argument '{k.arg}='" if k.arg else "a ** argument"
                add(k if hasattr(k, "col_offset") else node, depth + 1,
                    f"{what} is not allowed: pass arguments by position")
                stack.append((k.value, depth + 2, False))
            f = node.func
            if type(f) is ast.Name and f.id in FUNCTIONS and not node.keywords:
                _, least, most = FUNCTIONS[f.id]
                n = len(node.args)
                if n < least or (most is not None and n > most):
                    wanted = (f"{least}" if least == most else f"{least} or {most}"
                              if most is not None else f"at least {least}")
                    add(node, depth, f"{f.id}() takes {wanted} argument"
                        f"{'s' if wanted != '1' else ''}, got {n}")
        elif t is ast.Name:
            if is_callee:
                if node.id not in FUNCTIONS:
                    kind = "a variable, not a function" if node.id in names else "not a known function"
                    add(node, depth, f"{node.id!r} is {kind}")
            elif node.id in FUNCTIONS:
                add(node, depth, f"{node.id!r} is a function: call it, as in {node.id}(x)")
            elif node.id not in names:
                declared = ", ".join(sorted(names)) or "none"
                add(node, depth, f"unknown name {node.id!r} (declared variables: {declared})")
        elif t is ast.Constant:
            value = node.value
            if type(value) not in (int, float):
                add(node, depth, f"{_constant_kind(value)} is not allowed: only numbers")
        else:
            what = _NAMES.get(t, type(node).__name__)
            if t is ast.Attribute:
                what = f"attribute access '.{node.attr}'"
            if is_callee:
                what += " as a function"
            add(node, depth, f"{what} is not allowed")
            # look inside as well: an unknown name deeper left is the better report
            # (not into assignment targets: `y` in `(y := 2)` is no unknown variable)
            stack += [(child, depth + 1, False) for child in ast.iter_child_nodes(node)
                      if isinstance(child, ast.expr)
                      and not isinstance(getattr(child, "ctx", None), ast.Store)]
    return found


def _constant_kind(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {value!r}"
    if isinstance(value, str):
        return f"the string {value!r:.40}"
    if isinstance(value, bytes):
        return f"the bytes {value!r:.40}"
    if isinstance(value, complex):
        return f"the complex number {value!r}"
    return f"the constant {value!r:.40}"


def _char_column(lines: List[str], line: int, byte_offset: int) -> int:
    """1-based character column from ast's 0-based UTF-8 byte offset."""
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    return len(source.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore")) + 1


def _operator_column(lines: List[str], node: ast.BinOp, symbol: str) -> Optional[int]:
    """Where the operator sits: between the end of the left operand and the right one."""
    left, right = node.left, node.right
    if not (left.end_lineno == right.lineno == node.lineno):
        return None
    raw = lines[node.lineno - 1].encode("utf-8")
    between = raw[left.end_col_offset:right.col_offset]
    at = between.find(symbol.encode())
    if at < 0:
        return None
    return _char_column(lines, node.lineno, left.end_col_offset + at)


def _unstripped(text: str, line: int, column: int) -> Tuple[int, int]:
    """A (line, column) in text.strip(), what ast parses, as the same place in `text`:
    the stripped leading blanks shift the first line's columns and the later lines."""
    offset = len(text) - len(text.lstrip())
    if line == 1:
        return line, column + offset
    return line + text[:offset].count("\n"), column


def _syntax_position(text: str, e: SyntaxError) -> Tuple[int, int]:
    line, column = _unstripped(text, e.lineno or 1, max(1, e.offset or 1))
    lines = text.split("\n")
    width = len(lines[line - 1]) + 1 if 0 < line <= len(lines) else 1
    return line, min(column, width)


def _position_of(text: str, index: int) -> Tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


# --- evaluating ----------------------------------------------------------------------------
def _evaluate(tree: ast.Expression, inputs: Dict[str, Value], text: str) -> Scalar:
    """Apply the checked tree, children before parents, with an explicit stack (a long
    chain such as x+x+...+x is a deep tree, deeper than Python's recursion limit)."""
    stripped = text.strip()
    lines = stripped.split("\n")
    results: List[Scalar] = []
    stack = [(tree.body, False)]
    while stack:
        node, ready = stack.pop()
        t = type(node)
        if not ready:
            stack.append((node, True))
            children = ([node.left, node.right] if t is ast.BinOp else
                        [node.operand] if t is ast.UnaryOp else
                        node.args if t is ast.Call else [])
            stack += [(child, False) for child in reversed(children)]
            continue
        try:
            if t is ast.Constant:
                value = float(node.value)
                if not math.isfinite(value):
                    raise OverflowError("the number is too large for a float")
                results.append(value)
            elif t is ast.Name:
                results.append(inputs[node.id])
            elif t is ast.BinOp:
                b = results.pop()
                a = results.pop()
                results.append(_BINARY[type(node.op)][1](a, b))
            elif t is ast.UnaryOp:
                results.append(_UNARY[type(node.op)][1](results.pop()))
            else:   # a Call (parse_expression let nothing else through)
                n = len(node.args)
                args = results[len(results) - n:]
                del results[len(results) - n:]
                results.append(FUNCTIONS[node.func.id][0](*args))
        except (ValueError, ArithmeticError, TypeError) as e:
            reason = str(e)
            if isinstance(e, OverflowError) and ("out of range" in reason or "int too large" in reason):
                reason = "the result is too large for a float"
            line, column = _unstripped(text, node.lineno, _char_column(lines, node.lineno, node.col_offset))
            part = ast.get_source_segment(stripped, node) or ""
            raise ExpressionError(f"cannot compute {part!r:.60}: {reason}", text, line, column) from None
    return results[0]


__all__ = ["FUNCTIONS", "ExpressionError", "parse_expression", "build_expression",
           "check_variable_names"]
