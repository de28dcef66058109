"""A store's results belong to its spec and to the contents of the configs it names: a resume
after a base config was edited is refused (the points' keys name configs, not their contents)."""

from codesign.sweep import load_spec
from tests.codesign.codesign_helpers import write_spec


def test_resuming_after_a_config_edit_is_refused(tmp_path):
    import pytest

    from codesign.sweep.executor import open_store

    spec_path = write_spec(tmp_path)
    open_store(load_spec(spec_path), tmp_path / "out", None, restart=False).close()
    open_store(load_spec(spec_path), tmp_path / "out", None, restart=False).close()  # same: resumes
    (tmp_path / "beta_skipping.yaml").write_text("# edited\n")
    with pytest.raises(ValueError, match="different spec"):
        open_store(load_spec(spec_path), tmp_path / "out", None, restart=False)
