"""The package's layout: the lesson at the top, the machinery in subpackages, imports pointing down."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nst_tutorial"
# Lowest first. A module may import from its own layer or a lower one, never from a higher one.
LAYERS = (
    {"errors", "decode", "speed"},  # knows nothing of style transfer
    {"lesson", "control", "video"},  # the Config, the four steps, stylize; the controls its Config switches on; video
    {"judge", "cost", "batch"},  # measure and run the lesson
    {"plots", "widgets", "classroom", "cli"},  # show it, to one learner or a class
)
LESSON = {"__init__", "__main__", "config", "data", "images", "vgg", "style_losses", "losses", "targets", "augment",
          "solve", "stages", "stylize"}


def room(module: str) -> str:
    """"speed" for nst_tutorial.speed.fastconv, "lesson" for a top-level module of the lesson."""
    parts = module.split(".")[1:]
    if parts == ["__main__"]:  # `python -m nst_tutorial` is the command line's front door
        return "cli"
    if not parts or parts[0] in LESSON:
        return "lesson"
    return parts[0]


def layer(module: str) -> int:
    return next(i for i, rooms in enumerate(LAYERS) if room(module) in rooms)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Each package module and the package modules it imports (anywhere in its body)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base, parts = node.module or "", package.split(".")
                if node.level:  # relative: climb node.level - 1 packages up from this one
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rsplit(".", 1)[0] if "." in target else ""
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def test_the_top_level_holds_the_lesson_and_subpackages_the_rest():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == LESSON | {"errors", "decode"}
    rooms = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert rooms == {"speed", "control", "video", "judge", "cost", "batch", "plots", "widgets", "classroom", "cli"}


def test_no_module_imports_from_a_layer_above_it():
    upward = [f"{a} -> {b}" for a, bs in imports().items() for b in bs
              if b.startswith("nst_tutorial") and layer(b) > layer(a)]
    assert upward == []


def test_no_import_cycles():
    graph = imports()

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for b in graph[todo.pop()]:
                if b not in seen:
                    seen.add(b)
                    todo.append(b)
        return seen

    cycles = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a]
                     if a in reach(b) and not b.startswith(a + ".")})
    assert cycles == []


def test_the_layer_check_sees_an_upward_import():
    """The checks above must be able to fail: an import from the lesson into `batch` is upward."""
    assert layer("nst_tutorial.batch.sweep") > layer("nst_tutorial.stylize")
    assert layer("nst_tutorial.speed.fastconv") < layer("nst_tutorial.vgg")
    assert "nst_tutorial.speed.fastconv" in imports()["nst_tutorial.vgg"]
