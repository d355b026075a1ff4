import pytest

from course_lib import environment


def test_required_packages_come_from_the_project_metadata():
    wanted = environment.required_packages()
    assert wanted["keras"] == "3.14"
    assert "tensorflow" in wanted and "papermill" in wanted
    assert "pytest" in environment.required_packages("test")


def test_report_has_the_facts_the_manifest_needs():
    report = environment.environment_report()
    for key in ("python", "cpu_count", "memory_total_gb", "gpus", "versions", "missing"):
        assert key in report
    assert report["missing"] == []  # the test environment has everything


def test_check_env_prints_versions_and_hardware(capsys):
    environment.check_env()
    out = capsys.readouterr().out
    assert "TensorFlow" in out and "GPU:" in out and "every required package" in out


def test_platform_detection(monkeypatch):
    monkeypatch.setenv("BINDER_SERVICE_HOST", "1")
    assert environment.platform_name() == "binder"


def test_set_seed_makes_numbers_repeat():
    import keras

    environment.set_seed(3)
    a = keras.random.normal((3,)).numpy()
    environment.set_seed(3)
    b = keras.random.normal((3,)).numpy()
    assert (a == b).all()


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_bad_seed_is_rejected(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        environment.set_seed(seed)
