"""Docs that point somewhere: every repository path that README.md, docs/*.md, traces/README.md,
reports/README.md, benchmarks/RESULTS.md, hw_configs/**/*.yaml and the module docstrings mention
exists inside the repository, and none cites the design document, which is not part of it."""

from __future__ import annotations

import pytest

from tests.docs.doc_paths import ROOT, Document, documents, mentioned_paths, problems

#: A checkout folder of some machine, built from its parts (no machine path is committed).
MACHINE_PATH = "/" + "/".join(("work", "main"))

DOCUMENTS = documents()


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda d: f"{d.path.relative_to(ROOT)} ({d.what})")
def test_every_mentioned_path_exists_in_the_repository(doc):
    assert problems(doc) == []


def test_the_documents_are_found_and_mention_paths():
    names = {d.path.relative_to(ROOT).as_posix() for d in DOCUMENTS if d.what == "file"}
    assert {"README.md", "docs/model.md", "traces/README.md", "hw_configs/sweeps/demo.yaml"} <= names
    readme = next(d for d in DOCUMENTS if d.path == ROOT / "README.md")
    assert {"rtrl/cell.py", "docs/model.md", "hw_configs/sweeps/sparsity_grid.yaml"} <= set(mentioned_paths(readme.text))


def test_the_checker_finds_what_points_nowhere(tmp_path):
    doc = Document(ROOT / "hw_configs" / "sweeps" / "x.yaml", "\n".join([
        "see `rtrl/cell.py` and docs/model.md, and hw_configs/*.yaml;",   # fine
        "configs: [../edge_tiny.yaml]",                                   # fine, relative to the file
        "reports/demo/index.html and reports/sweeps/<spec name>/",        # generated: fine
        "the model of DESIGN §3",                                          # 1: cites the design document
        "reference in ../../../shared/reference/peer.md",                  # 2: outside the repository
        "also shared/reference/peer_gemm_16x16.md",                        # 3: not in the repository
        f"and {MACHINE_PATH}/README.md",                                   # 4: this machine's folder
        "rtrl/nothing_here.py, docs/*.nothing",                            # 5, 6: missing, empty glob
    ]), "file")
    found = problems(doc)
    assert len(found) == 6, found
    for needle in ("DESIGN §", "outside the repository", "shared/reference", MACHINE_PATH, "rtrl/nothing_here.py",
                   "matches no file"):
        assert any(needle in p for p in found), (needle, found)
