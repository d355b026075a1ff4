"""Tests for the shipped real data set (ACSF1) and notebook 12's plumbing (capstone)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from course_lib import data, profiles
from course_lib.lessons import capstone

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "data" / data.ACSF1_FILE


# ----- the file and its loader -----------------------------------------------------------


def test_shipped_file_matches_its_checksum_and_readme():
    assert SHIPPED.is_file()
    assert data.file_sha256(SHIPPED) == data.ACSF1_SHA256
    assert data.ACSF1_SHA256 in (REPO / "data" / "README.md").read_text(encoding="utf-8")
    assert SHIPPED.stat().st_size < 2_000_000  # "a few MB at most"


@pytest.mark.parametrize(("split", "n"), [("train", 100), ("test", 100), ("all", 200)])
def test_load_acsf1_shapes_and_classes(split, n):
    x, y, info = data.load_acsf1(split)
    assert x.shape == (n, 1460, 1) and x.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int32
    assert np.array_equal(np.bincount(y), np.full(10, n // 10))  # balanced, labels 0..9
    assert np.isfinite(x).all()
    # the archive z-normalises every series
    assert np.allclose(x.mean(axis=1), 0, atol=1e-3) and np.allclose(x.std(axis=1), 1, atol=1e-2)
    assert info.shape == x.shape and info.n_classes == 10 and info.extra["split"] == split


def test_all_is_train_then_test():
    x_all, y_all, _ = data.load_acsf1("all")
    x_tr, y_tr, _ = data.load_acsf1("train")
    x_te, y_te, _ = data.load_acsf1("test")
    assert np.array_equal(x_all, np.concatenate([x_tr, x_te]))
    assert np.array_equal(y_all, np.concatenate([y_tr, y_te]))
    assert not np.array_equal(x_tr, x_te)


def test_bad_split_is_named():
    with pytest.raises(ValueError, match="split must be one of"):
        data.load_acsf1("validation")


def test_missing_file_raises_with_the_folders_searched(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found; looked in") as err:
        data.load_acsf1(dirs=[tmp_path])
    assert str(tmp_path) in str(err.value) and data.DATA_DIR_ENV in str(err.value)


def test_altered_file_raises(tmp_path):
    copy = tmp_path / data.ACSF1_FILE
    shutil.copy(SHIPPED, copy)
    raw = bytearray(copy.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte
    copy.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="altered or damaged"):
        data.load_acsf1(dirs=[tmp_path])


def test_truncated_file_raises(tmp_path):
    (tmp_path / data.ACSF1_FILE).write_bytes(SHIPPED.read_bytes()[:1000])
    with pytest.raises(ValueError, match="altered or damaged"):
        data.load_acsf1(dirs=[tmp_path])


def test_a_good_copy_is_found_after_an_altered_one(tmp_path):
    bad, good = tmp_path / "bad", tmp_path / "good"
    bad.mkdir()
    good.mkdir()
    (bad / data.ACSF1_FILE).write_bytes(b"not the data")
    shutil.copy(SHIPPED, good / data.ACSF1_FILE)
    assert data.find_data_file(data.ACSF1_FILE, data.ACSF1_SHA256, [bad, good]).parent == good


def test_environment_variable_folder_is_searched_first(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    dirs = data.data_dirs()
    assert dirs[0] == tmp_path and REPO / "data" in dirs
    assert any(str(d).endswith(str(Path("share") / "course-lib" / "data")) for d in dirs)


def test_find_data_file_rejects_paths():
    with pytest.raises(ValueError, match="bare file name"):
        data.find_data_file("../acsf1.npz", data.ACSF1_SHA256)


def test_pyproject_installs_the_file_for_non_editable_installs():
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"share/course-lib/data"' in text and '"data/acsf1.npz"' in text


def test_converter_reproduces_the_shipped_bytes(tmp_path):
    """The converter's parser and writer give the shipped file from the .ts text."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("convert_acsf1",
                                                  REPO / "data" / "convert_acsf1.py")
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    arrays = dict(np.load(SHIPPED))
    out = tmp_path / "again.npz"
    convert.write_npz(out, arrays)
    assert out.read_bytes() == SHIPPED.read_bytes()
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["x_test.npy", "x_train.npy", "y_test.npy",
                                              "y_train.npy"]
    # the .ts parser: header lines skipped, one series per line with its ":label"
    values = ",".join(["0.5"] * convert.SEQ_LEN)
    text = "#comment\n@problemName X\n@data\n" + "".join(
        f"{values}:{i % 10}\n" for i in range(convert.N_PER_SPLIT))
    x, y = convert.parse_ts(text)
    assert x.shape == (convert.N_PER_SPLIT, convert.SEQ_LEN) and y[:3].tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="unexpected series block"):
        convert.parse_ts("@data\n1,2,3:0\n")


# ----- notebook 12's plumbing --------------------------------------------------------------


def test_stratified_splits_keep_class_shares_and_differ():
    y = np.repeat(np.arange(10), 20)
    splits = capstone.stratified_splits(y, 5, 0.3, seed=1)
    assert len(splits) == 5
    for train, test in splits:
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 200
        assert np.array_equal(np.bincount(y[test]), np.full(10, 6))
    assert not np.array_equal(splits[0][1], splits[1][1])
    again = capstone.stratified_splits(y, 5, 0.3, seed=1)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again, strict=True))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"repeats": 0}, ValueError, "repeats must be >= 1"),
        ({"test_fraction": 1.0}, ValueError, r"test_fraction must be in \(0, 1\)"),
        ({"test_fraction": 0.0}, ValueError, r"test_fraction must be in \(0, 1\)"),
        ({"y": np.array([0, 1, 1])}, ValueError, "at least 2 samples of every class"),
        ({"y": np.array([0.5, 1.0])}, ValueError, "non-negative int labels"),
    ],
)
def test_stratified_splits_bad_input(kwargs, error, message):
    args = {"y": np.repeat(np.arange(3), 4), "repeats": 2, "test_fraction": 0.25, **kwargs}
    with pytest.raises(error, match=message):
        capstone.stratified_splits(args.pop("y"), **args)


def test_subsample_takes_per_class_and_checks_range():
    y = np.repeat(np.arange(4), 5)
    keep = capstone.subsample(y, 2, seed=0)
    assert np.array_equal(np.bincount(y[keep]), [2, 2, 2, 2])
    with pytest.raises(ValueError, match="per_class must be >= 1 and <= 5"):
        capstone.subsample(y, 6)


def test_evaluate_runs_recipes_and_honours_max_splits():
    y = np.repeat(np.arange(2), 6)
    x = np.zeros((12, 5, 1), np.float32) + y[:, None, None]
    splits = capstone.stratified_splits(y, 3, 0.34, seed=0)

    def perfect(x_train, y_train, x_test):
        return np.stack([1 - x_test[:, 0, 0], x_test[:, 0, 0]], axis=1)

    def always_zero(x_train, y_train, x_test):
        return np.tile([1.0, 0.0], (len(x_test), 1))

    rows = capstone.evaluate({"perfect": perfect, "zero": always_zero}, x, y, splits,
                             max_splits={"zero": 1}, progress=None)
    summary = capstone.summarize(rows)
    assert summary["perfect"]["n"] == 3 and summary["perfect"]["mean"] == 1.0
    assert summary["zero"]["n"] == 1 and summary["zero"]["mean"] == 0.5
    assert summary["zero"]["std"] == 0.0
    assert all(r["train_s"] >= 0 and r["mem_mb"] >= 0 for r in rows)
    assert capstone.paired_wins(rows, "perfect", "zero") == (1, 1)
    text = capstone.table_text(summary, {"perfect": 5})
    assert "perfect" in text and "1.000 ± 0.000" in text


def test_evaluate_bad_input():
    y = np.repeat(np.arange(2), 4)
    x = np.zeros((8, 3, 1), np.float32)
    splits = capstone.stratified_splits(y, 1, 0.5)
    ok = {"a": lambda a, b, c: np.ones((len(c), 2))}
    with pytest.raises(ValueError, match="non-empty mapping"):
        capstone.evaluate({}, x, y, splits)
    with pytest.raises(TypeError, match="must be callable"):
        capstone.evaluate({"a": 3}, x, y, splits)
    with pytest.raises(ValueError, match=r"x must be \[samples, timesteps, features\]"):
        capstone.evaluate(ok, x[:, :, 0], y, splits)
    with pytest.raises(ValueError, match="unknown recipes"):
        capstone.evaluate(ok, x, y, splits, max_splits={"b": 1})
    with pytest.raises(ValueError, match="returned shape"):
        capstone.evaluate({"a": lambda a, b, c: np.ones(len(c))}, x, y, splits, progress=None)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        capstone.evaluate(ok, x, y, splits, seed=-1)


def test_pooled_std_and_its_input():
    assert capstone.pooled_std([1.0, 3.0], [2.0, 2.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 2 values"):
        capstone.pooled_std([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="not in rows"):
        capstone.paired_wins([{"technique": "a", "split": 0, "accuracy": 1.0}], "a", "b")


def test_block_mean_checker_accepts_right_and_rejects_wrong():
    def right(x, k):
        n = x.shape[1] // k
        return x[:, :n * k].reshape(x.shape[0], n, k, x.shape[2]).mean(axis=2)

    assert capstone.check_block_mean(right)
    assert not capstone.check_block_mean(lambda x, k: x[:, ::k])  # skips steps
    assert not capstone.check_block_mean(lambda x, k: 1 / 0)
    assert not capstone.check_block_mean("not a function")


def test_profile_rows_of_notebook_12():
    p = {name: profiles.param("12", name, prof) for prof in profiles.PROFILES
         for name in profiles.TABLE["12"]}
    assert p  # the section exists
    for prof in profiles.PROFILES:
        q = profiles.params("12", prof)
        assert 1 <= q["asis_splits"] <= q["repeats"]
        assert 2 <= q["per_class"] <= 20
        assert 0 < q["test_fraction"] < 1


def test_figure_marks_notes_and_checks_chance():
    rows = [{"technique": t, "split": i, "accuracy": a, "train_s": s, "mem_mb": 0.0}
            for t, s in (("as-is", 20.0), ("conv downsample", 5.0))
            for i, a in enumerate((0.4, 0.6))]
    fig, ax = capstone.figure(rows, capstone.summarize(rows), chance=0.1, title="t",
                              notes={"as-is": "6 epochs"})
    labels = ax.get_legend_handles_labels()[1]
    assert "as-is (2 splits, 6 epochs)" in labels and "conv downsample (2 splits)" in labels
    capstone.plots.plt.close(fig)
    with pytest.raises(ValueError, match="chance must be in"):
        capstone.figure(rows, capstone.summarize(rows), chance=2.0, title="t")
