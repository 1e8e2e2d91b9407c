"""API truth for answers: which APIs an answer uses that its board's firmware does not have.

The truth is the official stubs of the board's port (``stub_index``). The answer is parsed
with ``ast``, never run. Names are followed through imports (``import machine as m``,
``from machine import Pin``), module and class attributes, and objects made by a constructor
call (``led = Pin(25)``, ``self.pwm = PWM(...)``): a method called on ``led`` is looked up on
``machine.Pin``. A name bound to two different things anywhere in the program (or a function
parameter) is not followed: the check never guesses, so what it names is missing from the
stubs, and what it cannot follow is not counted.
"""

from __future__ import annotations

import ast

from pipeline.evaluate.stub_index import MISSING, Class, Function, Module, StubIndex, Value, stub_index

_CONFLICT = object()  # a name bound to different things: not followed


class _Instance:
    """An object of a stub class (made by calling the class)."""

    def __init__(self, cls: Class):
        self.cls = cls


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _label(thing: object) -> str:
    if isinstance(thing, Module):
        return thing.name
    if isinstance(thing, (Class, Function)):
        return thing.qualname
    if isinstance(thing, _Instance):
        return thing.cls.qualname
    return "?"


class _Checker:
    def __init__(self, index: StubIndex):
        self.index = index
        self.env: dict[str, object] = {}
        self.stored: set[str] = set()  # dotted names the program assigns attributes to
        self.found: list[str] = []

    def report(self, name: str) -> None:
        if name not in self.found:
            self.found.append(name)

    # --- what an expression is ---------------------------------------------------------------
    def attribute(self, owner: object, name: str) -> object:
        """``owner.name``: a stub object, None (exists, not followed) or MISSING."""
        if isinstance(owner, Module):
            found = self.index.member(owner, name)
        elif isinstance(owner, (Class, _Instance)):
            found = self.index.class_member(owner if isinstance(owner, Class) else owner.cls, name)
        else:
            return None
        if isinstance(found, Value):
            cls = self.index.class_of(found.annotation, found.module)
            return _Instance(cls) if cls else None
        return found

    def value(self, node: ast.expr) -> object:
        """The stub object an expression evaluates to, or None when not followed (never MISSING)."""
        if isinstance(node, ast.Name):
            found = self.env.get(node.id)
            return None if found is _CONFLICT else found
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted in self.env:
                found = self.env[dotted]
                return None if found is _CONFLICT else found
            found = self.attribute(self.value(node.value), node.attr)
            return None if found is MISSING else found
        if isinstance(node, ast.Call):
            callee = self.value(node.func)
            if isinstance(callee, Class):
                return _Instance(callee)
            if isinstance(callee, Function):
                cls = self.index.class_of(callee.returns, callee.module)
                return _Instance(cls) if cls else None
        return None

    # --- bindings (first pass, in source order) ----------------------------------------------
    def bind(self, name: str, thing: object) -> None:
        if thing is None:
            self.env[name] = _CONFLICT
        elif name not in self.env:
            self.env[name] = thing
        elif self.env[name] is not _CONFLICT and _label(self.env[name]) != _label(thing):
            self.env[name] = _CONFLICT

    def bind_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.partition(".")[0]
                if top not in self.index.known_modules:
                    self.report(top)
                    continue
                if alias.name not in self.index.known_modules:
                    self.report(alias.name)
                    continue
                target = alias.name if alias.asname else top
                self.bind(alias.asname or top, self.index.module(target))
            return
        if node.level or not node.module:
            return  # a relative import: nothing on the board to check it against
        if node.module not in self.index.known_modules:
            self.report(node.module)
            return
        module = self.index.module(node.module)
        for alias in node.names:
            if alias.name == "*":
                continue
            found = self.index.member(module, alias.name)
            if found is MISSING:
                self.report(f"{node.module}.{alias.name}")
                continue
            self.bind(alias.asname or alias.name, found if not isinstance(found, Value) else None)

    def bind_targets(self, target: ast.expr, value: ast.expr | None) -> None:
        dotted = _dotted(target)
        if dotted is not None:
            self.bind(dotted, self.value(value) if value is not None else None)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind_targets(element, None)

    def collect(self, tree: ast.AST) -> None:
        for node in _in_order(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self.bind_import(node)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    self.bind_targets(target, node.value)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                self.bind_targets(node.target, node.value if isinstance(node, ast.AnnAssign) else None)
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                self.bind_targets(node.target, None)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                self.bind_targets(node.optional_vars, None)
            elif isinstance(node, ast.arguments):
                for arg in [*node.posonlyargs, *node.args, *node.kwonlyargs, node.vararg, node.kwarg]:
                    if arg is not None:
                        self.bind(arg.arg, None)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.bind(node.name, None)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                base = _dotted(node.value)
                if base:
                    self.stored.add(f"{base}.{node.attr}")

    # --- uses (second pass) --------------------------------------------------------------------
    def check(self, tree: ast.AST) -> None:
        for node in _in_order(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                self.check_attribute(node)
            elif isinstance(node, ast.Call):
                self.check_keywords(node)

    def check_attribute(self, node: ast.Attribute) -> None:
        dotted = _dotted(node)
        if dotted in self.env or dotted in self.stored:
            return
        owner = self.value(node.value)
        if owner is not None and self.attribute(owner, node.attr) is MISSING:
            self.report(f"{_label(owner)}.{node.attr}")

    def check_keywords(self, node: ast.Call) -> None:
        callee = self.value(node.func)
        if isinstance(callee, Class):
            constructors = [self.index.class_member(callee, name) for name in ("__init__", "__new__")]
            signatures = [c for c in constructors if isinstance(c, Function)]
            if not signatures:
                return  # the stub does not say how it is made
            accepts = lambda keyword: any(c.accepts(keyword) for c in signatures)  # noqa: E731
        elif isinstance(callee, Function):
            accepts = callee.accepts
        else:
            return
        for keyword in node.keywords:
            if keyword.arg is not None and not accepts(keyword.arg):
                self.report(f"{_label(callee)}({keyword.arg}=...)")


def _in_order(tree: ast.AST):
    """Every node, parents before children, in source order (``ast.walk`` is breadth-first)."""
    yield tree
    for child in ast.iter_child_nodes(tree):
        yield from _in_order(child)


def invented_apis(source: str, board: str, index: StubIndex | None = None) -> list[str]:
    """Modules, classes, functions, methods and keywords ``source`` uses that ``board``'s stubs lack.

    Names come in order of first use: ``"machine.Pin.blink"``, ``"machine.PWM(frequency=...)"``,
    ``"RPi"``. An answer that does not parse uses nothing this check can see: ``[]``.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    checker = _Checker(index or stub_index(board))
    checker.collect(tree)
    checker.check(tree)
    return checker.found
