"""Which identifiers of a snippet may be renamed without changing what it does.

A name qualifies only when every occurrence of it resolves (LEGB, class scopes skipped
for nested functions) to a binding made inside the snippet. Everything reached from
outside stays: attributes, imported names, builtins and MicroPython's extra builtins,
dunders, keyword-argument names, class-body names (they become attributes), names in
f-strings (their positions inside the string token are unreliable), and every name in a
``@micropython.asm_thumb/asm_xtensa/viper/native`` or ``@rp2.asm_pio`` function, whose
bodies are assembler or typed DSLs (mpy-cross rejects a renamed register, data.md §5.1).
"""

from __future__ import annotations

import ast
import builtins
import keyword
from dataclasses import dataclass, field

DSL_DECORATORS = frozenset({"asm_thumb", "asm_xtensa", "asm_pio", "viper", "native"})
# MicroPython builtins and viper type names that CPython's builtins module lacks.
MICROPYTHON_BUILTINS = frozenset({"const", "micropython", "ptr", "ptr8", "ptr16", "ptr32", "uint", "self", "cls"})
PROTECTED = frozenset(dir(builtins)) | MICROPYTHON_BUILTINS | frozenset(keyword.kwlist)
# Code that reaches names through strings cannot be renamed safely at all.
DYNAMIC_ACCESS = frozenset(
    {"getattr", "setattr", "hasattr", "delattr", "globals", "locals", "vars", "eval", "exec", "__import__"}
)


@dataclass
class _Scope:
    kind: str  # module | function | class
    parent: _Scope | None
    bound: set[str] = field(default_factory=set)
    global_decl: set[str] = field(default_factory=set)
    nonlocal_decl: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Occurrence:
    """Where a renameable name is written: a node and how to find its token."""

    name: str
    lineno: int
    col_offset: int  # UTF-8 byte offset, as ast reports it
    locate: str  # "exact" (token starts here) | "after:def" | "after:class" | "after:as" | "statement"
    end_lineno: int = 0


def decorator_name(node: ast.expr) -> str:
    """``@rp2.asm_pio(...)`` → ``asm_pio``; ``@micropython.viper`` → ``viper``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


class _ScopeWalker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.module = _Scope("module", None)
        self.scope = self.module
        self.class_bound: set[str] = set()
        self.imported: set[str] = set()
        self.kwarg_names: set[str] = set()
        self.param_names: set[str] = set()
        self.fstring_names: set[str] = set()
        self.dsl_names: set[str] = set()
        self.uses: list[tuple[_Scope, str]] = []
        self.all_bound: set[str] = set()
        self.occurrences: list[Occurrence] = []

    def _bind(self, name: str) -> None:
        self.all_bound.add(name)
        if name in self.scope.global_decl:
            self.module.bound.add(name)
        elif name not in self.scope.nonlocal_decl:
            self.scope.bound.add(name)
        if self.scope.kind == "class":
            self.class_bound.add(name)

    def _enter(self, kind: str, body: list[ast.AST]) -> None:
        outer, self.scope = self.scope, _Scope(kind, self.scope)
        for child in body:
            self.visit(child)
        self.scope = outer

    def _visit_all(self, nodes: list) -> None:
        for node in nodes:
            if node is not None:
                self.visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._visit_all(node.decorator_list)
        if any(decorator_name(d) in DSL_DECORATORS for d in node.decorator_list):
            self.dsl_names.add(node.name)
            self.dsl_names.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
            self.dsl_names.update(a.arg for a in ast.walk(node) if isinstance(a, ast.arg))
            self._bind(node.name)
            return
        self._visit_all(node.args.defaults + node.args.kw_defaults)
        self._visit_all([a.annotation for a in _all_args(node.args)] + [node.returns])
        self._bind(node.name)
        self.occurrences.append(Occurrence(node.name, node.lineno, node.col_offset, "after:def"))
        self._enter("function", [*_all_args(node.args), *node.body])

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_all(node.args.defaults + node.args.kw_defaults)
        self._enter("function", [*_all_args(node.args), node.body])

    def visit_arg(self, node: ast.arg) -> None:
        self._bind(node.arg)
        self.param_names.add(node.arg)
        self.occurrences.append(Occurrence(node.arg, node.lineno, node.col_offset, "exact"))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._visit_all(node.decorator_list + node.bases + node.keywords)
        self._bind(node.name)
        self.occurrences.append(Occurrence(node.name, node.lineno, node.col_offset, "after:class"))
        self._enter("class", node.body)

    def _visit_comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        results = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        self._enter("function", [*node.generators, *results])

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_comprehension

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.global_decl.update(node.names)
        self._statement_names(node)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.nonlocal_decl.update(node.names)
        self._statement_names(node)

    def _statement_names(self, node: ast.Global | ast.Nonlocal) -> None:
        for name in node.names:
            self.occurrences.append(
                Occurrence(name, node.lineno, node.col_offset, "statement", node.end_lineno or node.lineno)
            )
            self.uses.append((self.scope, name))

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._bind(node.name)
            self.occurrences.append(Occurrence(node.name, node.lineno, node.col_offset, "after:as"))
        self._visit_all(node.body)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            self.imported.add(name)
            self._bind(name)

    visit_ImportFrom = visit_Import

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg:
            self.kwarg_names.add(node.arg)
        self.visit(node.value)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self.fstring_names.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._bind(node.id)
        self.uses.append((self.scope, node.id))
        self.occurrences.append(Occurrence(node.id, node.lineno, node.col_offset, "exact"))


def _all_args(args: ast.arguments) -> list[ast.arg]:
    extra = [a for a in (args.vararg, args.kwarg) if a is not None]
    return [*args.posonlyargs, *args.args, *extra, *args.kwonlyargs]


def _resolves_inside(scope: _Scope, name: str, module: _Scope) -> bool:
    """True when this use of ``name`` refers to a binding the snippet makes."""
    if name in scope.global_decl:
        return name in module.bound
    if name in scope.nonlocal_decl or name in scope.bound:
        return True
    outer = scope.parent
    while outer is not None:
        if outer.kind != "class" and name in outer.bound:
            return True
        outer = outer.parent
    return False


def _declared_all(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            names.update(
                c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)
            )
    return names


def renameable_names(tree: ast.Module) -> tuple[set[str], list[Occurrence]]:
    """Names safe to rename in this parsed snippet, and every place each one is written."""
    walker = _ScopeWalker()
    walker.visit(tree)
    all_names = {name for _, name in walker.uses} | walker.all_bound
    if all_names & DYNAMIC_ACCESS:
        return set(), []
    external = {name for scope, name in walker.uses if not _resolves_inside(scope, name, walker.module)}
    candidates = {n for n in all_names if not (n.startswith("__") and n.endswith("__"))}
    candidates -= PROTECTED | external | walker.imported | walker.class_bound | walker.fstring_names
    candidates -= walker.dsl_names | (walker.param_names & walker.kwarg_names) | _declared_all(tree)
    return candidates, [o for o in walker.occurrences if o.name in candidates]
