"""What a generated answer does, beyond compiling: does it hold code, call the APIs the task needs,
and avoid looping?

An empty, comment-only or docstring-only answer compiles (mpy-cross accepts it), and a small
model often answers with one line repeated until the token budget runs out. These checks keep
such answers from scoring: an answer counts as code only with at least one statement, matches
the task when it calls at least one API the reference calls (``Pin``, ``duty_u16``: function
names and method names, builtins like ``print`` excluded), and loops when most of its
non-blank lines repeat an earlier one. The code is parsed with ``ast``, never executed; an
answer that does not parse (cut off mid-line) falls back to a regex over its non-comment lines.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass

_BUILTINS = frozenset(dir(builtins))
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
LOOP_MIN_LINES = 4  # fewer lines cannot tell a loop from a short answer
LOOP_REPEATED_SHARE = 0.5  # half of the lines or more repeat an earlier one


@dataclass(frozen=True)
class AnswerCheck:
    statements: int  # statements that do something (not a lone string or `pass`/`...`)
    calls: frozenset[str]  # called names: functions, classes and methods (last attribute)
    repeated_line_share: float  # 1 - unique / total over stripped non-blank lines

    @property
    def looping(self) -> bool:
        return self.repeated_line_share >= LOOP_REPEATED_SHARE


def _code_lines(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]


def _meaningful(node: ast.stmt) -> bool:
    if isinstance(node, ast.Pass):
        return False
    return not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def repeated_line_share(source: str) -> float:
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    if len(lines) < LOOP_MIN_LINES:
        return 0.0
    return 1 - len(set(lines)) / len(lines)


def check_answer(source: str) -> AnswerCheck:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        lines = _code_lines(source)
        calls = {name for line in lines for name in _CALL.findall(line)}
        return AnswerCheck(len(lines), frozenset(calls - _BUILTINS), repeated_line_share(source))
    statements = sum(1 for node in ast.walk(tree) if isinstance(node, ast.stmt) and _meaningful(node))
    calls = {_called_name(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    return AnswerCheck(statements, frozenset(calls - _BUILTINS - {None}), repeated_line_share(source))


def shares_api(answer: AnswerCheck, reference: AnswerCheck) -> bool | None:
    """Does the answer call an API the reference calls? None when the reference calls none."""
    if not reference.calls:
        return None
    return bool(answer.calls & reference.calls)
