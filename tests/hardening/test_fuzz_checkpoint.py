"""Checkpoints under generated damage: random bytes, truncations, bit flips, wrong keys, shapes
and dtypes, pickled object arrays and bad metadata. ``accel-sim train --resume`` exits 0 (damage
that changes nothing) or 2 with one line naming the file; object arrays are never unpickled."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rtrl.online.checkpoint import load_checkpoint
from tests.hardening.helpers import assert_bad_input, assert_ok_or_bad_input, cli, examples

TASK = ["--task", "copy", "--task-option", "n_train=3", "--task-option", "n_test=2",
        "--task-option", "pattern_length=2", "--hidden", "6", "--quiet"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "run.npz"
    code, _, err = cli(["train", *TASK, "--checkpoint", path])
    assert code == 0, err
    return path


def resume(path):
    return cli(["train", *TASK, "--resume", path])


def rewrite(src, dst, arrays=None, meta=None):
    """Copy a checkpoint with changed arrays / metadata (allow_pickle on save: a hostile file)."""
    loaded, doc = load_checkpoint(src)
    arrays = dict(loaded) if arrays is None else arrays
    doc = doc if meta is None else meta
    blob = np.frombuffer(json.dumps(doc).encode(), np.uint8) if not isinstance(doc, np.ndarray) else doc
    with open(dst, "wb") as fh:
        np.savez(fh, __meta__=blob, **arrays)
    return dst


def test_the_fixture_resumes_cleanly(checkpoint):
    code, _, err = resume(checkpoint)
    assert code == 0, err


@examples(20)
@given(data=st.binary(max_size=300), zip_header=st.booleans())
def test_random_bytes_are_refused(tmp_path_factory, data, zip_header):
    path = tmp_path_factory.mktemp("c") / "random.npz"
    path.write_bytes((b"PK\x03\x04" if zip_header else b"") + data)
    code, _, err = resume(path)
    assert_bad_input(code, err, path)


@examples(20)
@given(cut=st.floats(0.0, 0.999))
def test_truncated_checkpoints_are_refused(tmp_path_factory, checkpoint, cut):
    raw = checkpoint.read_bytes()
    path = tmp_path_factory.mktemp("c") / "cut.npz"
    path.write_bytes(raw[: int(cut * len(raw))])
    code, _, err = resume(path)
    assert_bad_input(code, err, path)


@examples(25)
@given(flips=st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(0, 7)), min_size=1, max_size=3))
def test_bit_flips_resume_or_exit_2(tmp_path_factory, checkpoint, flips):
    data = bytearray(checkpoint.read_bytes())
    for pos, bit in flips:
        data[int(pos * len(data))] ^= 1 << bit
    path = tmp_path_factory.mktemp("c") / "flip.npz"
    path.write_bytes(bytes(data))
    code, _, err = resume(path)
    assert_ok_or_bad_input(code, err, path)


array_damage = st.sampled_from(["drop", "reshape", "object", "string", "complex", "nan", "extra", "rename", "scalar"])


@examples(25)
@given(damage=array_damage, which=st.integers(0, 10**6))
def test_damaged_arrays_are_refused(tmp_path_factory, checkpoint, damage, which):
    arrays, _ = load_checkpoint(checkpoint)
    names = sorted(arrays)
    name = names[which % len(names)]
    value = arrays[name]
    if damage == "drop":
        del arrays[name]
    elif damage == "reshape":
        arrays[name] = np.zeros(value.size + 1, value.dtype)
    elif damage == "object":
        arrays[name] = np.array([{"__reduce__": "os.system"}], dtype=object)
    elif damage == "string":
        arrays[name] = np.full(value.shape, "x")
    elif damage == "complex":
        arrays[name] = value.astype(np.complex64)
    elif damage == "nan":
        if value.dtype.kind != "f" or value.size == 0:
            arrays[name] = np.full(value.shape + (2,), np.nan)
        else:
            arrays[name] = np.full(value.shape, np.nan, value.dtype)
    elif damage == "extra":
        arrays[f"{name.split('/')[0]}/bogus"] = np.zeros(3)
    elif damage == "rename":
        arrays[name + "_x"] = arrays.pop(name)
    elif damage == "scalar":
        arrays[name] = np.array(1.5)
    path = rewrite(checkpoint, tmp_path_factory.mktemp("c") / "arrays.npz", arrays=arrays)
    code, _, err = resume(path)
    harmless = (damage in ("nan", "reshape") and name.startswith("monitor/")) or (damage == "scalar" and value.ndim == 0)
    if harmless or (damage == "drop" and name.endswith("optimizer/t")):  # a fresh optimiser has no step count yet
        assert_ok_or_bad_input(code, err, path)  # another value of the right type and shape: may resume
    else:
        assert_bad_input(code, err, path)


meta_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=4),
                        st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@examples(40)
@given(section=st.sampled_from(["progress", "run", "config", "snapshot_step", "format", None]),
       key=st.integers(0, 100), value=meta_values, delete=st.booleans())
def test_damaged_metadata_resumes_or_exits_2(tmp_path_factory, checkpoint, section, key, value, delete):
    _, doc = load_checkpoint(checkpoint)
    if section is None:
        doc = value  # the whole document replaced
    elif isinstance(doc[section], dict) and doc[section]:
        field = sorted(doc[section])[key % len(doc[section])]
        if delete:
            del doc[section][field]
        else:
            doc[section][field] = value
    elif delete:
        del doc[section]
    else:
        doc[section] = value
    path = rewrite(checkpoint, tmp_path_factory.mktemp("c") / "meta.npz", meta=doc)
    code, _, err = resume(path)
    assert_ok_or_bad_input(code, err, path)


def test_object_arrays_are_never_unpickled(tmp_path, checkpoint, monkeypatch):
    import pickle

    def boom(*a, **k):
        raise AssertionError("pickle.loads called while loading a checkpoint")

    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "load", boom)
    arrays, _ = load_checkpoint(checkpoint)
    arrays["params/W_u"] = np.array([object()], dtype=object)
    path = rewrite(checkpoint, tmp_path / "obj.npz", arrays=arrays)
    with zipfile.ZipFile(path) as z:
        assert any(z.read(n)[:6] == b"\x93NUMPY" for n in z.namelist())
    with pytest.raises(ValueError, match="obj.npz"):
        load_checkpoint(path)
    code, _, err = resume(path)
    assert_bad_input(code, err, path)


def test_python_api_restore_raises_value_error_naming_file_and_field(tmp_path, checkpoint):
    from rtrl import make_learner
    from rtrl.online import OnlineTrainer, RunSettings, TrainConfig, build_task, make_model

    arrays, doc = load_checkpoint(checkpoint)
    arrays["learner/influence"] = np.zeros((2, 2), np.float32)
    path = rewrite(checkpoint, tmp_path / "shape.npz", arrays=arrays)
    settings = RunSettings(task="copy", task_options={"n_train": 3, "n_test": 2, "pattern_length": 2}, n_hidden=6)
    model = make_model(settings, build_task(settings))
    trainer = OnlineTrainer(model, make_learner(model, "sparse_rtrl"), TrainConfig())
    with pytest.raises(ValueError, match=r"shape\.npz: learner/influence: shape"):
        trainer.restore(str(path))
