"""The package's layers: imports only go down, so no module imports one that (indirectly) imports it back."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("videostar_env", "videostar_agents", "videostar_trainers")
# The layers of videostar_env, bottom first (docs/architecture.md): one folder each, but for the few base modules
# at the package root. A module may import its own layer and those below.
BASE = {"errors", "paths", "registry", "knowledge", "actions"}
LAYERS = [BASE, {"video"}, {"perception"}, {"datasets"}, {"clients"}, {"backends"}, {"tools"}, {"tasks"}, {"core"},
          {"wrappers"}, {"jobs", "server"}, {"cli", "__init__"}]
MAX_ROOT_MODULES = 6  # the base modules and __init__
MAX_LINES = 400


def package_dirs() -> dict[str, Path]:
    """Installed package name -> its folder in the checkout (agents/ and trainers/ install under other names)."""
    folders = {"videostar_env": "videostar_env", "videostar_agents": "agents", "videostar_trainers": "trainers"}
    return {name: ROOT / folder for name, folder in folders.items()}


def module_name(package: str, folder: Path, path: Path) -> str:
    parts = [package, *path.relative_to(folder).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules `module` imports anywhere in its source (function-level imports count too)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            prefix = (base + "." + node.module if node.module else base) if node.level else node.module
            # "from pkg import sub" imports pkg.sub when sub is a module, else a name of pkg.
            names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in known else prefix for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p, d, f): f for p, d in package_dirs().items() for f in d.rglob("*.py")}
    known = set(files)
    return {m: imports_of(m, f, known) for m, f in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_installed_packages_have_no_import_circle():
    assert cycles(import_graph()) == []


def test_the_circle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    return next(i for i, layer in enumerate(LAYERS) if top in layer)


@pytest.mark.parametrize("module", sorted(m for m in import_graph() if m.startswith("videostar_env")))
def test_imports_only_go_down_the_layers(module):
    upward = [m for m in import_graph()[module] if m.startswith("videostar_env") and layer_of(m) > layer_of(module)]
    assert upward == [], f"{module} (layer {layer_of(module)}) imports from a higher layer: {upward}"


def test_the_package_root_holds_only_the_base_modules():
    root = sorted(f.stem for f in (ROOT / "videostar_env").glob("*.py"))
    assert len(root) <= MAX_ROOT_MODULES and set(root) <= BASE | {"__init__"}, root


def test_every_folder_of_the_package_is_a_layer():
    folders = {d.name for d in (ROOT / "videostar_env").iterdir() if (d / "__init__.py").exists()}
    assert folders == set().union(*LAYERS) - BASE - {"__init__"}


def test_no_source_file_is_longer_than_the_limit():
    files = [f for folder in (*package_dirs().values(), ROOT / "benchmarks") for f in folder.rglob("*.py")]
    long = {str(f.relative_to(ROOT)): n for f in files if (n := len(f.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these files (at most {MAX_LINES} lines each): {long}"


@pytest.mark.parametrize("module", sorted(m for m in import_graph() if m.startswith("videostar_env")))
def test_the_env_package_never_imports_the_agents_or_the_trainers(module):
    # They plug in through entry points (setup.cfg: videostar_env.agents, videostar_env.commands), as others' do.
    above = sorted(m for m in import_graph()[module] if m.split(".")[0] in ("videostar_agents", "videostar_trainers"))
    assert above == [], f"{module} imports {above}; register them through an entry point instead"


def test_files_are_written_atomically_in_one_place():
    """paths.atomic_path is the one atomic write: no other module makes temporary files and renames them."""
    writers = [str(f.relative_to(ROOT)) for folder in package_dirs().values() for f in folder.rglob("*.py")
               if f.name != "paths.py" and any(call in f.read_text() for call in ("os.replace(", "mkstemp("))]
    assert writers == []
