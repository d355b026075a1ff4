import pytest

from course_lib import profiles


def test_every_row_has_one_value_per_profile():
    for notebook, name, *values in profiles.table():
        assert len(values) == len(profiles.PROFILES), (notebook, name)


def test_param_reads_the_column_of_the_profile():
    smoke, cpu, gpu = profiles.TABLE["01"]["units"]
    assert profiles.param("01", "units", "smoke") == smoke
    assert profiles.param("01", "units", "cpu") == cpu
    assert profiles.param("01_why_long_sequences_are_hard", "units", "gpu") == gpu


def test_current_profile_defaults_to_cpu(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    assert profiles.current_profile() == "cpu"
    monkeypatch.setenv(profiles.ENV_VAR, "gpu")
    assert profiles.current_profile() == "gpu"
    assert profiles.param("01", "units") == profiles.TABLE["01"]["units"][2]


def test_params_returns_the_whole_section():
    values = profiles.params("01", "smoke")
    assert set(values) == set(profiles.TABLE["01"])


def test_sizes_grow_from_smoke_to_gpu_for_sample_counts():
    for notebook, name, smoke, cpu, gpu in profiles.table():
        if isinstance(smoke, int) and not isinstance(smoke, bool) and name.endswith("samples"):
            assert smoke <= cpu <= gpu, (notebook, name)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: profiles.check_profile("laptop"), ValueError, "smoke, cpu, gpu"),
        (lambda: profiles.check_profile(3), TypeError, "must be a string"),
        (lambda: profiles.param("99", "units", "cpu"), ValueError, "unknown notebook"),
        (lambda: profiles.param("01", "nope", "cpu"), ValueError, "no parameter 'nope'"),
        (lambda: profiles.param("01", "units", "tpu"), ValueError, "unknown profile"),
        (lambda: profiles.table("huge"), ValueError, "unknown profile"),
    ],
)
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_bad_environment_variable_is_explained(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "fast")
    with pytest.raises(ValueError, match="COURSE_PROFILE='fast'"):
        profiles.current_profile()


def test_describe_prints_every_row(capsys):
    text = profiles.describe("01")
    assert text.splitlines()[0].split() == ["parameter", "smoke", "cpu", "gpu"]
    assert len(text.splitlines()) == len(profiles.TABLE["01"]) + 1
    assert capsys.readouterr().out.strip() == text.strip()


# ----- the parameter table every notebook prints after its parameters cell -----


def test_show_parameters_prints_upper_case_plain_values_only(capsys):
    text = profiles.show_parameters({"SEQ_LEN": 500, "K_PAIRS": ((4, 8),), "lower": 3,
                                     "MODEL": object(), "PROFILE": "cpu", "_HIDDEN": 2})
    assert "SEQ_LEN = 500" in text and "K_PAIRS = ((4, 8),)" in text
    assert "PROFILE = 'cpu'" in text
    assert "lower" not in text and "MODEL" not in text and "_HIDDEN" not in text
    assert capsys.readouterr().out.strip() == text.strip()
    assert all(len(line) <= 100 for line in text.splitlines())


def test_show_parameters_rounds_floats_for_reading_only():
    text = profiles.show_parameters({"MOST": 2 / 3, "LR": 1e-2, "TINY": 1e-5, "NOISE": 1.0,
                                     "RATES": (0.1, 1 / 3), "LIST": [0.5]})
    assert "MOST = 0.666667" in text and "LR = 0.01" in text and "TINY = 1e-05" in text
    assert "NOISE = 1.0" in text
    assert "RATES = (0.1, 0.333333)" in text and "LIST = [0.5]" in text


def test_show_parameters_puts_short_values_side_by_side():
    text = profiles.show_parameters({f"P{i}": i for i in range(6)}, width=60)
    assert len(text.splitlines()) < 6


@pytest.mark.parametrize(("namespace", "width", "error", "message"), [
    ([1], 100, TypeError, "namespace must be a mapping"),
    ({"a": 1}, 100, ValueError, "no UPPER_CASE"),
    ({}, 100, ValueError, "no UPPER_CASE"),
    ({"A": 1}, 39, ValueError, "width must be an int >= 40"),
    ({"A": 1}, True, ValueError, "width must be an int >= 40"),
])
def test_show_parameters_bad_arguments(namespace, width, error, message):
    with pytest.raises(error, match=message):
        profiles.show_parameters(namespace, width)
