"""Find the repository paths a document mentions and say which point nowhere.

A *path* is a token with a slash whose first part is a top-level entry of the repository
(``rtrl/...``, ``docs/...``), or that starts with ``./`` or ``../`` (resolved from the document's
folder, as configs resolve theirs; one that leaves the repository is a problem), or an absolute
path under one of :data:`MACHINE_FOLDERS`: the repository must stand alone. Globs (``hw_configs/*.yaml``) must match a
file; a ``<placeholder>`` part ends the check; paths under ``reports/`` and the build outputs in
:data:`GENERATED` are written by the tools, so they need not exist, only stay inside the repo.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Top-level entries a path may start with (``shared`` is not one: it is outside the repository).
TOP_LEVEL = ("rtrl", "accel_sim", "codesign", "docs", "tests", "traces", "hw_configs", "benchmarks",
             "reports", ".ci", "build", "shared")
#: Outputs of the tools, named in the docs but not in the repository (path prefix -> what writes it).
GENERATED = {
    "reports/": "accel-sim demo / sweep / report (reports/README.md)",
    "rtrl/kernels/_influence.so": "make (rtrl/kernels/native.py builds it)",
    "benchmarks/RESULTS_GPU.md": "python benchmarks/gpu_check.py",
    "build/": "scratch space of the build and the GPU session scripts (ignored by git)",
}
#: Folders of a machine: a committed file must not depend on them (spelt from their names, so that
#: this list is not itself a committed machine path).
MACHINE_FOLDERS = tuple(f"/{name}/" for name in ("work", "home", "root", "tmp", "mnt", "Users"))
DESIGN_CITATION = re.compile(r"DESIGN(\.md)?\s*§|DESIGN\.md")

_TOKEN = re.compile(r"(?<![\w.:/@-])(?:\.{1,2}/)*[\w.*<>{}-]+(?:/[\w.*<>{}-]*)+")
_ABSOLUTE = re.compile(r"(?<![\w.:/@-])/[\w.-]+(?:/[\w.*-]*)+")


@dataclass(frozen=True)
class Document:
    """Text to check: ``path`` is where it lives (relative paths resolve from its folder)."""

    path: Path
    text: str
    what: str  # "file" or "module docstring"


def documents() -> list[Document]:
    """README.md, docs/*.md, traces/README.md, reports/README.md, benchmarks/RESULTS.md,
    hw_configs/**/*.yaml, and the module docstring of every Python file of the project and tests."""
    files = [ROOT / "README.md", ROOT / "traces" / "README.md", ROOT / "reports" / "README.md",
             ROOT / "benchmarks" / "RESULTS.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "hw_configs").rglob("*.yaml"))]
    docs = [Document(p, p.read_text(encoding="utf-8"), "file") for p in files if p.is_file()]
    for package in ("rtrl", "accel_sim", "codesign", "benchmarks", "traces", "tests"):
        for source in sorted((ROOT / package).rglob("*.py")):
            doc = ast.get_docstring(ast.parse(source.read_text(encoding="utf-8")), clean=False)
            if doc:
                docs.append(Document(source, doc, "module docstring"))
    return docs


def mentioned_paths(text: str) -> list[str]:
    """Every token of ``text`` that names a repository path or a machine folder."""
    found = []
    for match in _TOKEN.finditer(text):
        token = match.group(0).rstrip(".,;:")
        first = token.split("/")[0]
        if first in (".", "..") or first in TOP_LEVEL:
            found.append(token)
    found += [m.group(0).rstrip(".,;:") for m in _ABSOLUTE.finditer(text)
              if m.group(0).startswith(MACHINE_FOLDERS)]
    return found


def problem(doc: Document, token: str) -> str | None:
    """Why ``token`` (mentioned in ``doc``) points nowhere, or None if it is fine."""
    if token.startswith("/"):
        return f"{token}: a folder of this machine, not of the repository"
    base = doc.path.parent if token.startswith(("./", "../")) else ROOT
    parts = token.rstrip("/").split("/")
    checked = []
    for part in parts:
        if "<" in part or "{" in part:
            break  # a placeholder: what follows depends on the user
        checked.append(part)
    target = (base / "/".join(checked)).resolve()
    if not target.is_relative_to(ROOT):
        return f"{token}: outside the repository"
    relative = target.relative_to(ROOT).as_posix()
    if "*" in relative:
        return None if list(ROOT.glob(relative)) else f"{token}: matches no file"
    if target.exists() or any(relative == g.rstrip("/") or relative.startswith(g) for g in GENERATED if g.endswith("/")) \
            or relative in GENERATED:
        return None
    return f"{token}: no such file or folder in the repository"


def problems(doc: Document) -> list[str]:
    """Every dangling path and every citation of the design document outside the repository."""
    out = [p for t in mentioned_paths(doc.text) if (p := problem(doc, t))]
    out += [f"cites {m.group(0)!r} (not in the repository; cite a file that is)" for m in DESIGN_CITATION.finditer(doc.text)]
    return out
