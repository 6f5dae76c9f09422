"""Stamps that tell ``make`` what a step depends on, rewritten only when their content changes.

``make`` compares modification times, so a file whose content did not change must keep
its time. Two kinds of stamp, under ``outputs/.stamps/``:

* ``code-<step>.txt``: the digest of the ``fipro`` modules a notebook (or a once-per-run
  step) imports, followed through every ``import`` inside those modules (module-level and
  inside functions), plus the notebook file itself. A change to ``fipro/site.py`` then
  re-runs no model notebook, and a change to ``fipro/health/`` re-runs the notebooks that
  import the health model, not all 64.
* ``key-salt.txt``: a digest of the key salt (the views and the hand-off are keyed by it).
* ``deps.mk``: make rules for what a notebook reads of other notebooks (same quarter, the
  quarters the life-stage model pools, the previous quarter's saved life-stage model).

No notebook reads a later quarter: a measurement that compares a quarter with the one
after it belongs to the later quarter's notebook, so a delivery with one more quarter runs
that quarter's notebooks and nothing of the earlier ones. A notebook's data dependency is the history state of its quarter
(``data/processed/history/<q>/<part>.json``, rewritten only when the state is rebuilt:
when a table up to ``q`` or a part's code changed), see the Makefile.

The import graph is read from the source with :mod:`ast`, not by importing, so writing the
stamps costs a fraction of a second.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Optional, Sequence

from fipro import config, datasets

PACKAGE = "fipro"
PACKAGE_DIR = Path(__file__).resolve().parent


def stamps_dir() -> Path:
    """``outputs/.stamps``."""
    return config.OUTPUTS_DIR / ".stamps"


def module_path(name: str) -> Optional[Path]:
    """Source file of ``fipro.x.y`` (a module or a package's ``__init__``), ``None`` if it is no module."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported(tree: ast.AST, current: str) -> set[str]:
    """``fipro`` modules named by the import statements of ``tree`` (module ``current``)."""
    out: set[str] = set()
    package = current if module_path(current) and module_path(current).name == "__init__.py" else current.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module.split(".")[0] != PACKAGE:
                continue
            out.add(module)
            # `from fipro import history`: the name may be a module itself
            out.update(f"{module}.{a.name}" for a in node.names if module_path(f"{module}.{a.name}"))
    # a module's parent packages run their __init__ first
    for name in list(out):
        pieces = name.split(".")
        out.update(".".join(pieces[:i]) for i in range(1, len(pieces)))
    return {m for m in out if module_path(m) is not None}


@lru_cache(maxsize=None)
def _module_imports(name: str) -> frozenset:
    path = module_path(name)
    return frozenset(_imported(ast.parse(path.read_text(encoding="utf-8")), name)) if path else frozenset()


def closure(roots: Iterable[str]) -> list[str]:
    """Every ``fipro`` module reachable from ``roots`` by imports, sorted."""
    seen: set[str] = set()
    todo = [m for m in roots if module_path(m) is not None]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(_module_imports(m) - seen)
    return sorted(seen)


def notebook_imports(path: Path) -> set[str]:
    """``fipro`` modules imported by a notebook's code cells."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    out: set[str] = set()
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", []))
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        out |= _imported(tree, PACKAGE)
    return out


def code_digest(modules: Sequence[str], extra: Sequence[Path] = ()) -> str:
    """Digest of the modules' sources (and ``extra`` files), in name order."""
    h = hashlib.sha256()
    for m in sorted(modules):
        h.update(m.encode())
        h.update(module_path(m).read_bytes())
    for path in extra:
        h.update(Path(path).name.encode())
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:20]


# once-per-run steps that are not notebooks: the modules they start from
STEP_ROOTS: dict[str, tuple[str, ...]] = {
    "lifestage-selection": ("fipro.lifestage.selection",),
    # the per-quarter tail of `make all`: the views' lookup tables and the DB hand-off's parts
    "views": ("fipro.views.data",),
    "handoff": ("fipro.handoff",),
}


def step_roots(step: str) -> tuple[str, ...]:
    """The modules a step starts from. The hand-off imports its models' declarations by name
    (``handoff.MODEL_SOURCES``, invisible to :mod:`ast`), so they are added here, read from the
    source so that writing the stamps imports no model."""
    roots = STEP_ROOTS[step]
    if step == "handoff":
        tree = ast.parse(module_path("fipro.handoff").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "MODEL_SOURCES":
                roots += tuple(spec.split(":")[0] for spec in ast.literal_eval(node.value))
    return roots


SALT_STAMP = "key-salt.txt"


def salt_stamp() -> str:
    """Text of ``key-salt.txt``: a one-way digest of the installation's secret (never the secret),
    so that the views and the hand-off parts, keyed by it, are rebuilt when it changes."""
    from fipro import privacy  # privacy pulls pandas: `fipro stamps` runs at every make without it

    try:
        value = privacy.secret(create=False)
    except KeyError:
        return "none\n"
    return hashlib.sha256(f"fipro-salt-stamp:{value}".encode()).hexdigest()[:20] + "\n"


# notebooks that read what notebooks saved for the previous quarter: the drift notebook scores
# the previous quarter's saved life-stage and risk models on this quarter (the temporal checks,
# fipro.decay) and reads, for its thresholds, the drift tables of the quarters before; the
# recommendation measurement reads the previous quarter's saved log, or (where it compares
# alternatives) ranks that quarter again on its segments. The model notebooks themselves never
# wait for the previous quarter's (a life-stage chain of eight ~200 s fits set a 53-minute
# full-scale rebuild), so quarters run side by side.
PREVIOUS_QUARTER_DEPS: dict[str, tuple[str, ...]] = {"07_recommendation": ("05_clustering", "07_recommendation"),
                                                     "08_drift": ("03_lifestage", "06_health_score", "08_drift")}
# notebooks that read another notebook's outputs of the same quarter
SAME_QUARTER_DEPS: dict[str, tuple[str, ...]] = {
    "03_lifestage": ("02_feature_engineering",),
    # recommendations use the quarter's segments (thin-history customers) and health tiers (products)
    "07_recommendation": ("05_clustering", "06_health_score"),
    # drift compares every model's saved outputs (and the data check's) with the previous quarter's
    "08_drift": ("00_data_check", "02_feature_engineering", "03_lifestage", "04_anomaly", "05_clustering",
                 "06_health_score", "07_recommendation"),
}


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds it (so its time moves only on change)."""
    path = Path(path)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True


def code_stamps(notebooks: Sequence[Path]) -> dict[str, str]:
    """Step name → text of its code stamp (the digest and the modules it covers)."""
    out = {}
    for nb in notebooks:
        modules = closure(notebook_imports(nb))
        out[Path(nb).stem] = f"{code_digest(modules, [nb])}\n" + "\n".join(modules) + "\n"
    for step in STEP_ROOTS:
        modules = closure(step_roots(step))
        out[step] = f"{code_digest(modules)}\n" + "\n".join(modules) + "\n"
    return out


def notebook_deps(quarters: Sequence[str], stems: Sequence[str]) -> str:
    """Make rules for what a notebook reads of other notebooks and other quarters: the
    same-quarter notebooks of :data:`SAME_QUARTER_DEPS`, the previous quarter's of
    :data:`PREVIOUS_QUARTER_DEPS`, the feature notebooks of the quarters the life-stage
    model pools. No notebook reads a later quarter: a measurement belongs to the quarter it
    is measured on (the temporal checks of notebook 08, the recommendations)."""
    from fipro.lifestage.data import DEFAULT_HISTORY, pooled_quarters  # pandas-heavy: only when stamps are written

    lines = ["# written by `python -m fipro stamps`: what each notebook reads of other notebooks"]
    ordered = sorted(quarters)
    for i, q in enumerate(ordered):
        for stem in stems:
            deps = [f"$(OUT)/{q}/{d}.ipynb" for d in SAME_QUARTER_DEPS.get(stem, ()) if d in stems]
            if i > 0:
                deps += [f"$(OUT)/{ordered[i - 1]}/{d}.ipynb" for d in PREVIOUS_QUARTER_DEPS.get(stem, ()) if d in stems]
            if stem == "03_lifestage":
                deps += [f"$(OUT)/{p}/02_feature_engineering.ipynb" for p in pooled_quarters(q, quarters, DEFAULT_HISTORY)]
            if deps:
                lines.append(f"$(OUT)/{q}/{stem}.ipynb: " + " ".join(deps))
    return "\n".join(lines) + "\n"


def write_stamps(notebooks: Optional[Sequence[Path]] = None) -> list[Path]:
    """Write every code stamp and the notebook rules (``deps.mk``);
    return the files that changed."""
    notebooks = notebooks if notebooks is not None else sorted(config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    quarters = datasets.available_quarters()
    texts = {f"code-{step}.txt": text for step, text in code_stamps(notebooks).items()}
    texts["deps.mk"] = notebook_deps(quarters, [Path(nb).stem for nb in notebooks])
    texts[SALT_STAMP] = salt_stamp()
    return [stamps_dir() / name for name, text in texts.items() if write_if_changed(stamps_dir() / name, text)]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m fipro stamps``: refresh the stamps ``make`` reads."""
    parser = argparse.ArgumentParser(prog="python -m fipro stamps", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    changed = write_stamps()
    if changed:
        print("바뀐 의존성: " + ", ".join(p.stem for p in changed), flush=True)
    return 0
