"""The official MicroPython stubs, indexed: what a port's firmware really has.

The stub packages (``micropython-<port>-stubs`` 1.29, PyPI wheels of ``.pyi`` files, pinned with
their hashes in ``stub_wheels.txt``) are fetched by ``make setup`` into ``var/stubs`` and read
straight from the wheel zips: installed side by side, the three ports would overwrite each other's
``machine.pyi``. Standard modules come from ``micropython-stdlib-stubs``, which every port's stubs
depend on. ``stubs.invented_apis`` checks an answer against this index.

A stub module exports what it defines, ``from M import *`` and ``import X as X`` re-exports (the
typeshed convention); a plain import inside a stub only serves to resolve that stub's own names.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
WHEEL_LIST = PACKAGE_DIR / "stub_wheels.txt"
PORT_STUBS = {
    "pico": "micropython-rp2-rpi-pico-stubs",
    "esp32": "micropython-esp32-stubs",
    "esp8266": "micropython-esp8266-stubs",
}
STDLIB_STUBS = "micropython-stdlib-stubs"
# micropython-lib drivers a maker copies to the board (`mip install ssd1306`) where the firmware does
# not freeze them; their API is the stub of the port that does.
DRIVERS = {"ssd1306": "esp8266"}
MISSING = object()  # a lookup that found nothing (None means found, of no type we follow)


def stubs_dir() -> Path:
    """Where `make setup` put the wheels: ``$MPYFORGE_STUBS_DIR`` or var/stubs."""
    return Path(os.environ.get("MPYFORGE_STUBS_DIR", PACKAGE_DIR.parents[1] / "var" / "stubs"))


@dataclass(frozen=True)
class PinnedWheel:
    name: str
    version: str
    sha256: str

    def path(self, directory: Path) -> Path:
        stem = f"{self.name.replace('-', '_')}-{self.version}-"
        found = sorted(Path(directory).glob(f"{stem}*.whl"))
        if not found:
            raise FileNotFoundError(
                f"{directory}: no wheel of {self.name}=={self.version}; "
                f"run `make setup` (it downloads what {WHEEL_LIST.name} pins)"
            )
        digest = hashlib.sha256(found[0].read_bytes()).hexdigest()
        if digest != self.sha256:
            raise ValueError(f"{found[0]}: sha256 {digest} is not the pinned {self.sha256} ({WHEEL_LIST})")
        return found[0]


def pinned_wheels(path: Path = WHEEL_LIST) -> dict[str, PinnedWheel]:
    """``name -> PinnedWheel`` from the requirements file `make setup` downloads."""
    wheels = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, _, digest = line.partition(" --hash=sha256:")
        name, _, version = requirement.partition("==")
        if not (name and version and digest):
            raise ValueError(f"{path}:{number}: expected 'NAME==VERSION --hash=sha256:HEX', got {line!r}")
        wheels[name.strip()] = PinnedWheel(name.strip(), version.strip(), digest.strip())
    return wheels


# --- the model of a stub -------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    keywords: frozenset[str]  # parameters a call may name
    any_keyword: bool  # it takes **kwargs


def _signature(args: ast.arguments, is_method: bool) -> Signature:
    positional = args.args[1:] if is_method and not args.posonlyargs else args.args  # without self / cls
    named = [a.arg for a in positional] + [a.arg for a in args.kwonlyargs]
    return Signature(frozenset(named), args.kwarg is not None)


@dataclass
class Function:
    qualname: str
    signatures: list[Signature]
    returns: ast.expr | None
    module: Module

    def accepts(self, keyword: str) -> bool:
        return any(s.any_keyword or keyword in s.keywords for s in self.signatures)


@dataclass
class Value:
    annotation: ast.expr | None
    module: Module


@dataclass
class Class:
    qualname: str
    module: Module
    members: dict[str, object] = field(default_factory=dict)
    bases: list[ast.expr] = field(default_factory=list)
    open: bool = False  # defines __getattr__: any attribute may exist


@dataclass
class Import:
    """A name a stub binds by importing it: ``module`` itself (name None) or one of its names."""

    module: str
    name: str | None


@dataclass
class Module:
    name: str
    members: dict[str, object] = field(default_factory=dict)  # exported
    private: dict[str, object] = field(default_factory=dict)  # plain imports: resolution only
    star: list[str] = field(default_factory=list)  # `from M import *`
    open: bool = False


def _flatten(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements of a stub body with `if` / `try` branches inlined (all of them: version checks)."""
    out = []
    for node in body:
        if isinstance(node, ast.If):
            out += _flatten(node.body) + _flatten(node.orelse)
        elif isinstance(node, ast.Try):
            out += _flatten(node.body) + [s for h in node.handlers for s in _flatten(h.body)]
        else:
            out.append(node)
    return out


def _add_function(
    scope: dict, node: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str, module: Module, method: bool
):
    signature = _signature(node.args, method and not any(_is_staticmethod(d) for d in node.decorator_list))
    existing = scope.get(node.name)
    if isinstance(existing, Function):  # @overload: one more signature of the same function
        existing.signatures.append(signature)
    else:
        scope[node.name] = Function(f"{qualname}.{node.name}", [signature], node.returns, module)


def _is_staticmethod(decorator: ast.expr) -> bool:
    return isinstance(decorator, ast.Name) and decorator.id == "staticmethod"


def _class(node: ast.ClassDef, qualname: str, module: Module) -> Class:
    cls = Class(f"{qualname}.{node.name}", module, bases=list(node.bases))
    for item in _flatten(node.body):
        _add_definition(cls, item, cls.qualname, module, method=True)
    return cls


def _add_definition(owner: Class | Module, node: ast.stmt, qualname: str, module: Module, method: bool) -> bool:
    """Record a function, class or annotated/assigned name defined in a class or module body.

    False for any other statement (imports are the module's own business).
    """
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        owner.open |= node.name == "__getattr__"
        _add_function(owner.members, node, qualname, module, method=method)
    elif isinstance(node, ast.ClassDef):
        owner.members[node.name] = _class(node, qualname, module)
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        owner.members[node.target.id] = Value(node.annotation, module)
    elif isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Name):
                owner.members[target.id] = Value(None, module)
    else:
        return False
    return True


def parse_module(name: str, text: str, is_package: bool = False) -> Module:
    module = Module(name)
    package = name if is_package else name.rpartition(".")[0]
    for node in _flatten(ast.parse(text).body):
        if _add_definition(module, node, name, module, method=False):
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.partition(".")[0]
                target = alias.name if alias.asname else bound
                (module.members if alias.asname == alias.name else module.private)[bound] = Import(target, None)
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:  # relative import inside a stub package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{source}".strip(".")
            for alias in node.names:
                if alias.name == "*":
                    module.star.append(source)
                else:
                    scope = module.members if alias.asname == alias.name else module.private
                    scope[alias.asname or alias.name] = Import(source, alias.name)
    return module


# --- one board's index ---------------------------------------------------------------------------


class StubIndex:
    """The modules one port has: its own stubs, then the standard library's, then installable drivers."""

    def __init__(self, board: str, directory: Path | None = None):
        if board not in PORT_STUBS:
            raise ValueError(f"board {board!r} is unknown; expected one of {sorted(PORT_STUBS)}")
        directory = Path(directory or stubs_dir())
        wheels = pinned_wheels()
        self.board = board
        port = zipfile.ZipFile(wheels[PORT_STUBS[board]].path(directory))
        stdlib = zipfile.ZipFile(wheels[STDLIB_STUBS].path(directory))
        # (zip, prefix) searched in order for a module's file
        self._roots: list[tuple[zipfile.ZipFile, str]] = [(port, ""), (stdlib, "stdlib/"), (stdlib, "")]
        self._drivers = {
            name: zipfile.ZipFile(wheels[PORT_STUBS[source]].path(directory)) for name, source in DRIVERS.items()
        }
        self._port_modules = frozenset(_module_names(port, ""))
        stdlib_modules = {m for m in _module_names(stdlib, "stdlib/") if not m.startswith("_")}
        self.known_modules = self._port_modules | stdlib_modules | frozenset(DRIVERS)
        self._modules: dict[str, Module | None] = {}

    def module(self, name: str) -> Module | None:
        """The stub of module ``name`` as this port sees it, or None when there is none."""
        if name not in self._modules:
            self._modules[name] = None  # an import cycle between stubs resolves to nothing
            self._modules[name] = self._load(name)
        return self._modules[name]

    def _load(self, name: str) -> Module | None:
        top = name.partition(".")[0]
        roots = [(self._drivers[top], "")] if top in self._drivers and top not in self._port_modules else self._roots
        path = name.replace(".", "/")
        for archive, prefix in roots:
            for candidate, package in ((f"{prefix}{path}.pyi", False), (f"{prefix}{path}/__init__.pyi", True)):
                try:
                    text = archive.read(candidate).decode("utf-8")
                except KeyError:
                    continue
                return parse_module(name, text, is_package=package)
        return None

    def member(self, module: Module, name: str, seen: frozenset[str] = frozenset()) -> object:
        """What ``module.name`` is (``Function``/``Class``/``Value``/``Module``), or MISSING."""
        if module.name in seen:
            return MISSING
        seen = seen | {module.name}
        found = module.members.get(name, MISSING)
        if found is MISSING:
            for source in module.star:
                star_module = self.module(source)
                if star_module is not None and not name.startswith("_"):
                    found = self.member(star_module, name, seen)
                    if found is not MISSING:
                        break
        if found is MISSING:
            found = self.module(f"{module.name}.{name}") or MISSING  # a submodule of a package
        if found is MISSING and module.open:
            return None
        return self._resolve(found, seen)

    def _resolve(self, found: object, seen: frozenset[str]) -> object:
        if isinstance(found, Import):
            target = self.module(found.module)
            if target is None:
                return None  # a typing helper or a module no stub describes: known, not followed
            return target if found.name is None else self.member(target, found.name, seen)
        return found

    def name_in(self, module: Module, name: str) -> object:
        """A name as seen inside a stub (for its annotations and base classes), or None."""
        found = module.members.get(name) or module.private.get(name)
        if found is None:
            found = self.member(module, name)
        resolved = self._resolve(found, frozenset())
        return None if resolved is MISSING else resolved

    def class_of(self, annotation: ast.expr | None, module: Module) -> Class | None:
        """The stub class an annotation names (``Pin``, ``machine.Pin``), when it names one."""
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return None
        if isinstance(annotation, ast.Name):
            found = self.name_in(module, annotation.id)
            return found if isinstance(found, Class) else None
        return None

    def class_member(self, cls: Class, name: str, seen: frozenset[str] = frozenset()) -> object:
        """``cls.name`` through the class and its bases, or MISSING."""
        if cls.qualname in seen:
            return MISSING
        if name in cls.members:
            return cls.members[name]
        for base in cls.bases:
            base_cls = self.class_of(base, cls.module)
            if base_cls is None:
                if not (isinstance(base, ast.Name) and base.id in {"object", "Protocol", "Generic"}):
                    return None  # a base no stub describes (a typing construct): anything may be there
                continue
            found = self.class_member(base_cls, name, seen | {cls.qualname})
            if found is not MISSING:
                return found
        return None if cls.open else MISSING


def _module_names(archive: zipfile.ZipFile, prefix: str) -> set[str]:
    names = set()
    for entry in archive.namelist():
        if not entry.startswith(prefix) or not entry.endswith(".pyi") or ".dist-info/" in entry:
            continue
        module = entry[len(prefix) : -len(".pyi")].removesuffix("/__init__").replace("/", ".")
        if module and module != "__builtins__" and "-" not in module:
            names.add(module)
    return names


@functools.lru_cache(maxsize=8)
def stub_index(board: str, directory: str | None = None) -> StubIndex:
    """The index of one board (parsed stubs are cached per process)."""
    return StubIndex(board, Path(directory) if directory else None)
