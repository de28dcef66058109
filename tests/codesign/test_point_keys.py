"""A hardware point's key follows its config file's content, not only its name."""

from codesign.sweep import expand, load_spec
from tests.codesign.codesign_helpers import write_spec


def test_editing_a_config_file_makes_new_points(tmp_path):
    spec_path = write_spec(tmp_path)
    before = {p.hardware.config: p.hardware.key for p in expand(load_spec(spec_path))}
    again = {p.hardware.config: p.hardware.key for p in expand(load_spec(spec_path))}
    assert before == again  # stable while nothing changes
    (tmp_path / "alpha.yaml").write_text("# edited base config\n")
    after = {p.hardware.config: p.hardware.key for p in expand(load_spec(spec_path))}
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"alpha.yaml"}


def test_resuming_after_a_config_edit_is_refused(tmp_path):
    import pytest

    from codesign.sweep.executor import open_store

    spec_path = write_spec(tmp_path)
    open_store(load_spec(spec_path), tmp_path / "out", None, restart=False).close()
    open_store(load_spec(spec_path), tmp_path / "out", None, restart=False).close()  # same: resumes
    (tmp_path / "beta_skipping.yaml").write_text("# edited\n")
    with pytest.raises(ValueError, match="different spec"):
        open_store(load_spec(spec_path), tmp_path / "out", None, restart=False)
