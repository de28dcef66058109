"""Checkpoint files: round trip, atomic replacement, no pickle, clear errors."""

import json
import os

import numpy as np
import pytest

from rtrl.online import checkpoint as ck


def test_round_trip(tmp_path):
    arrays = {"p/a": np.arange(6, dtype=np.float32).reshape(2, 3), "p/t": np.array(3, np.int64)}
    ck.save_checkpoint(tmp_path / "c.npz", arrays, {"x": [1, 2.5], "name": "run"})
    loaded, meta = ck.load_checkpoint(tmp_path / "c.npz")
    assert set(loaded) == set(arrays)
    for k in arrays:
        assert loaded[k].dtype == arrays[k].dtype
        np.testing.assert_array_equal(loaded[k], arrays[k])
    assert meta["x"] == [1, 2.5] and meta["format"] == ck.CHECKPOINT_FORMAT


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    ck.save_checkpoint(path, {"a": np.ones(3)}, {"v": 1})
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ck.np, "savez", boom)
    with pytest.raises(OSError):
        ck.save_checkpoint(path, {"a": np.zeros(3)}, {"v": 2})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]


def test_object_arrays_are_refused_on_save_and_never_unpickled_on_load(tmp_path):
    with pytest.raises(ValueError):
        ck.save_checkpoint(tmp_path / "c.npz", {"a": np.array([{"x": 1}], dtype=object)}, {})
    # a hand-made file with a pickled object array: loading must refuse, not execute
    meta = np.frombuffer(json.dumps({"format": ck.CHECKPOINT_FORMAT}).encode(), np.uint8)
    np.savez(tmp_path / "evil.npz", __meta__=meta, a=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="evil.npz"):
        ck.load_checkpoint(tmp_path / "evil.npz")


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04garbage"])
def test_corrupt_files_give_value_error_naming_the_file(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="bad.npz"):
        ck.load_checkpoint(path)


def test_wrong_format_and_missing_file(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="no metadata"):
        ck.load_checkpoint(tmp_path / "plain.npz")
    meta = np.frombuffer(json.dumps({"format": "other/9"}).encode(), np.uint8)
    np.savez(tmp_path / "other.npz", __meta__=meta)
    with pytest.raises(ValueError, match="other/9"):
        ck.load_checkpoint(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError):
        ck.load_checkpoint(tmp_path / "missing.npz")
