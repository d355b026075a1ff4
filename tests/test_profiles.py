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
