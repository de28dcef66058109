"""Task arguments under generated bad input: ``get_task`` returns a task or raises ``ValueError``
naming the task and option (never another exception, never a huge allocation), and
``accel-sim train --task-option`` exits 2 with one line naming the option."""

from __future__ import annotations

from hypothesis import given, strategies as st

from rtrl.tasks import TASK_NAMES, TASK_OPTIONS, get_task
from rtrl.tasks.options import MAX_VALUES
from tests.hardening.helpers import assert_bad_input, cli, examples

option_values = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.text(max_size=8), st.sampled_from(["1e9", "nan", "inf", "-0", "0x10", "1_000", " 3 ", "", "10**9"]),
)


@examples(60)
@given(name=st.sampled_from(TASK_NAMES), data=st.data())
def test_random_options_build_a_small_task_or_raise_value_error(name, data):
    keys = sorted(TASK_OPTIONS[name]) + ["bogus"]
    options = data.draw(st.dictionaries(st.sampled_from(keys), option_values, min_size=1, max_size=3))
    try:
        task = get_task(name, **options)
    except ValueError as exc:
        assert f"task {name!r}" in str(exc) and "\n" not in str(exc)
        return
    assert task.train.xs.size + task.test.xs.size <= MAX_VALUES
    assert len(task.train) >= 1 and len(task.test) >= 1


@examples(15)
@given(option=st.sampled_from(["n_train=-1", "n_train=10000000000", "pattern_length=0", "delay=x", "seed=-3",
                               "noise_std=nan", "bogus=1", "n_train", "=3", "delay=1.5"]))
def test_bad_task_options_on_the_command_line_exit_2(option):
    task = "sine" if "noise" in option else "copy"
    code, _, err = cli(["train", "--task", task, "--task-option", option, "--quiet"])
    key = option.split("=")[0] or "--task-option"
    assert_bad_input(code, err, key)


def test_unknown_task_exits_2():
    code, _, err = cli(["train", "--task", "../../etc/passwd", "--quiet"])
    assert_bad_input(code, err, "unknown task")
