"""Tests for course_lib.shorten (notebooks 04 and 05) and their two widgets."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from course_lib import shorten, widgets  # noqa: E402
from course_lib.data import eeg_signals, train_test_split, zipf_documents  # noqa: E402
from course_lib.techniques import fit_token_ranks, summarize  # noqa: E402

VOCAB = 300


@pytest.fixture(scope="module")
def docs():
    x, y, info = zipf_documents(40, 60, vocab_size=VOCAB, seed=3)
    words = np.concatenate([info.extra["negative_ids"], info.extra["positive_ids"]])
    return train_test_split(x, y, seed=3), words


@pytest.fixture(scope="module")
def traces():
    x, y, _ = eeg_signals(24, 32, burst_len=8, seed=5)
    return train_test_split(x, y, seed=5)


# ----------------------------------------------------------------------- words_kept & co


def test_words_kept_counts_the_share_of_occurrences():
    full = np.array([[1, 7, 2, 7], [7, 3, 3, 3]])
    assert shorten.words_kept(full, full, [7]) == 1.0
    assert shorten.words_kept(np.array([[1, 7], [3, 3]]), full, [7]) == pytest.approx(1 / 3)
    assert shorten.words_kept(full[:, :1], full, [9]) == 1.0  # no occurrences: nothing lost


@pytest.mark.parametrize("short, full, words, match", [
    (np.zeros((2, 3)), np.zeros((3, 3)), [1], "same number"),
    (np.zeros(3), np.zeros((1, 3)), [1], "2-D"),
    (np.zeros((1, 3)), np.zeros((1, 3)), [], "at least one"),
])
def test_words_kept_rejects_bad_input(short, full, words, match):
    with pytest.raises(ValueError, match=match):
        shorten.words_kept(short, full, words)


def test_mark_words_brackets_the_words_and_cuts_long_documents():
    assert shorten.mark_words(np.array([4, 5, 6]), [5]) == "4 [5] 6"
    assert shorten.mark_words(np.arange(10), [1], limit=3) == "0 [1] 2 ..."
    with pytest.raises(ValueError, match="1-D"):
        shorten.mark_words(np.zeros((2, 2), int), [1])
    with pytest.raises(ValueError, match="limit"):
        shorten.mark_words(np.arange(3), [1], limit=0)


def test_fraction_needed_is_exactly_where_summarize_starts_keeping_every_word(docs):
    (x_train, _, x_test, _), words = docs
    ranks = fit_token_ranks(x_train, VOCAB)
    needed = shorten.fraction_needed(x_test, ranks, words)
    assert needed.shape == (len(x_test),) and ((needed > 0) & (needed <= 1)).all()
    for i in range(len(x_test)):
        doc = x_test[i:i + 1]
        enough = summarize(doc, ranks, float(needed[i]))
        assert shorten.words_kept(enough, doc, words) == 1.0
        n_keep = round(needed[i] * doc.shape[1])
        if n_keep > 1:  # one token fewer loses a word (ties aside, which this data avoids)
            fewer = summarize(doc, ranks, (n_keep - 1) / doc.shape[1])
            assert shorten.words_kept(fewer, doc, words) < 1.0


def test_fraction_needed_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D int"):
        shorten.fraction_needed(np.zeros((2, 3)), np.arange(5), [1])
    with pytest.raises(ValueError, match="ranks"):
        shorten.fraction_needed(np.full((2, 3), 9), np.arange(5), [1])


# ----------------------------------------------------------------------- shorten_signals


@settings(max_examples=25, deadline=None)
@given(length=st.integers(1, 24), n_windows=st.integers(1, 4), seed=st.integers(0, 99))
def test_shorten_signals_shapes_and_determinism(length, n_windows, seed):
    x = np.random.default_rng(0).normal(size=(3, 24, 2))
    drop = shorten.shorten_signals(x, "random drop", length, seed=seed)
    assert drop.shape == (3, length, 2)
    np.testing.assert_array_equal(drop, shorten.shorten_signals(x, "random drop", length,
                                                                seed=seed))
    if length % n_windows == 0:
        win = shorten.shorten_signals(x, "random windows", length, n_windows=n_windows, seed=seed)
        assert win.shape == (3, length, 2)
        # every step of the result is a step of its own sequence
        for i in range(3):
            assert np.isin(win[i, :, 0], x[i, :, 0]).all()


def test_shorten_signals_as_is_is_an_unchanged_copy():
    x = np.ones((2, 5, 1))
    out = shorten.shorten_signals(x, "as-is", 5)
    out[0, 0, 0] = 9
    assert x[0, 0, 0] == 1


@pytest.mark.parametrize("method, length, n_windows, error, match", [
    ("shuffle", 4, 1, ValueError, "method"),
    ("as-is", 4, 1, ValueError, "must equal"),
    ("random drop", 0, 1, ValueError, "length"),
    ("random drop", 9, 1, ValueError, "length"),
    ("random windows", 4, 3, ValueError, "divide"),
    ("random windows", 4, 5, ValueError, "n_windows"),
    ("random drop", 2.5, 1, TypeError, "length"),
])
def test_shorten_signals_rejects_bad_arguments(method, length, n_windows, error, match):
    with pytest.raises(error, match=match):
        shorten.shorten_signals(np.zeros((2, 8, 1)), method, length, n_windows=n_windows)


# ----------------------------------------------------------------------- training runs


def test_keep_fraction_demo_trains_both_methods_on_the_same_length(docs):
    data, words = docs
    fig, result = shorten.keep_fraction_demo(0.25, data=data, vocab_size=VOCAB, word_ids=words,
                                             units=4, embed_dim=4, epochs=1, seed=1)
    assert hasattr(fig, "savefig") and result["length"] == 15
    plt.close(fig)
    for method in ("summarize", "truncate"):
        r = result[method]
        assert 0 <= r["test_acc"] <= 1 and 0 <= r["words_kept"] <= 1 and r["train_sec"] > 0
    # the same documents, shortened the same way, whatever the training did
    assert result["summarize"]["words_kept"] == shorten.words_kept(
        summarize(data[2], fit_token_ranks(data[0], VOCAB), 0.25), data[2], words)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"keep_fraction": 0.0}, ValueError, "keep_fraction"),
    ({"keep_fraction": 1.5}, ValueError, "keep_fraction"),
    ({"keep_fraction": 0.5, "data": (1, 2)}, ValueError, "data must be"),
    ({"keep_fraction": 0.5, "epochs": 0}, ValueError, "epochs"),
])
def test_summarize_vs_truncate_rejects_bad_arguments(docs, kwargs, error, match):
    data, words = docs
    args = {"data": data, "vocab_size": VOCAB, "word_ids": words, **kwargs}
    with pytest.raises(error, match=match):
        shorten.summarize_vs_truncate(**args)


def test_check_split_names_the_mismatch(traces):
    x_train, y_train, x_test, y_test = traces
    with pytest.raises(ValueError, match="y_train"):
        shorten.sampling_run("as-is", 32, data=(x_train, y_train[:-1], x_test, y_test))
    with pytest.raises(ValueError, match="same step shape"):
        shorten.sampling_run("as-is", 32, data=(x_train, y_train, x_test[:, :16], y_test))
    with pytest.raises(ValueError, match="3-D"):
        shorten.sampling_run("as-is", 32, data=(x_train[..., 0], y_train, x_test, y_test))


def test_sampling_run_returns_scores(traces):
    run = shorten.sampling_run("random windows", 16, data=traces, n_windows=2, units=4, epochs=1)
    assert run["length"] == 16 and 0 <= run["test_acc"] <= 1 and run["sec_per_epoch"] > 0


def test_window_demo_and_accuracy_vs_windows(traces):
    fig, aug = shorten.window_demo(8, 3, data=traces, units=4, epochs=1, seed=2)
    assert hasattr(fig, "savefig") and aug["n_windows"] == 3
    plt.close(fig)
    assert aug["train_windows"] == 3 * len(traces[0])
    assert 0 <= aug["window_acc"] <= 1 and 0 <= aug["aggregated_acc"] <= 1
    x_test, y_test = traces[2], traces[3]
    curve = shorten.accuracy_vs_windows(aug["model"], x_test, y_test, 8, [1, 4], seed=0)
    assert len(curve) == 2 and all(0 <= a <= 1 for a in curve)
    assert curve == shorten.accuracy_vs_windows(aug["model"], x_test, y_test, 8, [1, 4], seed=0)
    with pytest.raises(ValueError, match="counts"):
        shorten.accuracy_vs_windows(aug["model"], x_test, y_test, 8, [0])
    with pytest.raises(ValueError, match="x_test"):
        shorten.accuracy_vs_windows(aug["model"], x_test[..., 0], y_test, 8, [1])


def test_augment_run_rejects_bad_arguments(traces):
    with pytest.raises(ValueError, match="window"):
        shorten.augment_run(99, 3, data=traces)
    x_train, y_train, x_test, y_test = traces
    with pytest.raises(ValueError, match="binary"):
        shorten.augment_run(8, 2, data=(x_train, y_train + 1, x_test, y_test))


# ----------------------------------------------------------------------- widgets


def test_widgets_pass_the_slider_values_to_the_plain_function():
    calls = []

    def plain(**kwargs):
        calls.append(kwargs)
        return None

    box = widgets.keep_fraction_explorer(plain, 0.2, fixed={"seed": 1})
    box.run()
    assert calls[-1] == {"keep_fraction": 0.2, "seed": 1}
    box = widgets.windows_explorer(plain, 16, 4, 64, fixed={"seed": 1})
    box.controls["window"].value = 32
    box.run()
    assert calls[-1] == {"window": 32, "n_windows": 4, "seed": 1}
    with pytest.raises(ValueError, match="keep_fraction"):
        widgets.keep_fraction_explorer(plain, 0.0)
