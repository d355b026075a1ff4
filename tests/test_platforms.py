"""pyproject.toml is the single source of versions; the conda and Binder files must agree."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
REQ = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(?:>=\s*([0-9][0-9A-Za-z.]*))?")
# Binder installs the CPU-only wheel of TensorFlow under another name.
ALIASES = {"tensorflow-cpu": "tensorflow"}


def pyproject_requirements(extras=()):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return dict(REQ.match(line).groups() for line in lines)


def yml_requirements(path):
    spec = yaml.safe_load(path.read_text())
    found = {}
    for item in spec["dependencies"]:
        entries = item["pip"] if isinstance(item, dict) else [item]
        for entry in entries:
            if entry.startswith("-e") or entry.startswith("python") or entry == "pip":
                continue
            name, minimum = REQ.match(entry).groups()
            found[ALIASES.get(name.lower(), name.lower())] = minimum
    return found, spec


def test_environment_yml_matches_pyproject():
    found, spec = yml_requirements(ROOT / "environment.yml")
    assert "conda-forge" in spec["channels"]
    assert found == pyproject_requirements(("test", "zh"))


def test_binder_matches_pyproject_and_uses_cpu_tensorflow():
    found, spec = yml_requirements(ROOT / "binder" / "environment.yml")
    # Binder also lets students switch JupyterLab itself to Chinese (issue 13)
    assert found == pyproject_requirements(("zh",))
    assert "jupyterlab-language-pack-zh-cn" in found
    pip_section = next(item["pip"] for item in spec["dependencies"] if isinstance(item, dict))
    assert any(p.startswith("tensorflow-cpu") for p in pip_section)
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post_build


@pytest.mark.parametrize("path", ["environment.yml", "binder/environment.yml"])
def test_python_version_is_supported(path):
    spec = yaml.safe_load((ROOT / path).read_text())
    assert "python=3.11" in spec["dependencies"]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    test_command = next(b.strip() for b in blocks if b.strip().endswith("pytest"))
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()
    run_command = next(b.strip() for b in blocks if b.strip().endswith("course run"))
    assert "pip install -e ." in run_command


def test_the_chinese_readme_gives_the_same_two_commands():
    def commands(name):
        blocks = re.findall(r"```bash\n(.*?)```", (ROOT / name).read_text(encoding="utf-8"), re.S)
        return [b.strip() for b in blocks if b.strip().endswith(("pytest", "course run"))]

    english = commands("README.md")
    assert len(english) == 2 and commands("README.zh-CN.md") == english
    assert "README.zh-CN.md" in (ROOT / "README.md").read_text(encoding="utf-8")
