"""The import graph follows DESIGN.md: every import of ours is an allowed arrow; there is no cycle.

Every module of the library and the scripts is parsed (imports inside functions included) and
each import of ours is checked against the table in DESIGN.md.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Top-level folder -> the package it installs as (pyproject.toml's package-dir).
FOLDERS = {
    "riley_gym": "riley_gym",
    "nets": "riley_gym.nets",
    "envs": "riley_gym.envs",
    "agents": "riley_gym.agents",
    "kt": "riley_gym.kt",
    "web": "riley_gym.web",
    "scripts": "scripts",
}
BARE_NAMES = {"kt", "nets", "agents", "envs", "web", "tests", "scripts"}


def allowed_imports() -> dict[str, list[str]]:
    """Module prefix -> the prefixes it may import, from DESIGN.md's table."""
    text = (ROOT / "DESIGN.md").read_text()
    start = text.index("<!-- architecture table")
    table = text[start : text.index("<!-- end of architecture table", start)]
    rules = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        rules[cells[0].strip("`")] = re.findall(r"`([\w.]+)`", cells[1])
    return rules


def library_modules() -> dict[str, Path]:
    """Dotted name -> file of every module in the installed folders and the scripts."""
    modules = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


def imports_of(path: Path, name: str) -> list[tuple[int, str]]:
    """(line, dotted target) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def resolve(target: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``target`` that is one of our modules.

    In ``from x import y``, y may be a name rather than a module.
    """
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def rule_for(name: str, rules: dict[str, list[str]]) -> tuple[str, list[str]]:
    matches = [prefix for prefix in rules if name == prefix or name.startswith(prefix + ".")]
    assert matches, f"{name} matches no row of DESIGN.md's table"
    prefix = max(matches, key=len)
    return prefix, rules[prefix]


def within(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


MODULES = library_modules()
RULES = allowed_imports()


def graph() -> dict[str, set[str]]:
    return {
        name: {
            resolved
            for _, target in imports_of(path, name)
            if (resolved := resolve(target, MODULES)) is not None and resolved != name
        }
        for name, path in MODULES.items()
    }


def test_the_design_table_covers_every_folder():
    assert {"riley_gym.nets", "riley_gym.envs", "riley_gym.agents", "riley_gym.kt.data"} <= set(
        RULES
    )
    for name in MODULES:
        rule_for(name, RULES)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_import_of_ours_is_an_allowed_arrow(name):
    path = MODULES[name]
    prefix, allowed = rule_for(name, RULES)
    own = [name] if prefix == "riley_gym" else [prefix]  # the root package owns only itself
    bad = []
    for line, target in imports_of(path, name):
        first = target.split(".")[0]
        if first in BARE_NAMES and not (name.startswith("scripts") and first == "scripts"):
            bad.append(f"{path.name}:{line} imports {target} by a bare folder name")
            continue
        if not within(target, "riley_gym"):
            continue  # not ours
        resolved = resolve(target, MODULES) or target
        if resolved == "riley_gym" and name != "riley_gym":
            continue  # `from riley_gym import nets` names a subpackage, resolved below
        if not any(within(resolved, allowed_prefix) for allowed_prefix in [*own, *allowed]):
            bad.append(f"{path.name}:{line} imports {resolved} ({prefix} may import {allowed})")
    assert not bad, "\n".join(bad)


def test_scripts_are_imported_by_nothing():
    for name, path in MODULES.items():
        for line, target in imports_of(path, name):
            assert target.split(".")[0] not in ("scripts", "tests"), (
                f"{path}:{line} imports {target}"
            )
            if name.startswith("scripts."):
                script_names = {
                    other.split(".")[1] for other in MODULES if other.startswith("scripts.")
                }
                assert target.split(".")[0] not in script_names, f"{path}:{line} imports a script"


def test_there_is_no_import_cycle():
    edges = graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_a_forbidden_arrow_and_a_cycle(tmp_path):
    # The oracle: a module written here that breaks both rules is caught.
    bad = tmp_path / "bad.py"
    bad.write_text("from riley_gym.kt.experiments.runs import train_and_report\nimport kt\n")
    found = imports_of(bad, "riley_gym.nets.bad")
    assert ("riley_gym.kt.experiments.runs.train_and_report") in [target for _, target in found]
    prefix, allowed = rule_for("riley_gym.nets.bad", RULES)
    assert prefix == "riley_gym.nets" and not allowed
    assert (
        resolve("riley_gym.kt.experiments.runs.train_and_report", MODULES)
        == "riley_gym.kt.experiments.runs"
    )
