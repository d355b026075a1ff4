"""Tests for course_lib.lessons.summarize (notebook 04) and its keep-fraction widget."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_lib import widgets  # noqa: E402
from course_lib.data import train_test_split, zipf_documents  # noqa: E402
from course_lib.lessons import summarize as lesson  # noqa: E402
from course_lib.techniques import fit_token_ranks, summarize  # noqa: E402

VOCAB = 300


@pytest.fixture(scope="module")
def docs():
    x, y, info = zipf_documents(40, 60, vocab_size=VOCAB, seed=3)
    words = np.concatenate([info.extra["negative_ids"], info.extra["positive_ids"]])
    return train_test_split(x, y, seed=3), words


# ----------------------------------------------------------------------- words_kept & co


def test_words_kept_counts_the_share_of_occurrences():
    full = np.array([[1, 7, 2, 7], [7, 3, 3, 3]])
    assert lesson.words_kept(full, full, [7]) == 1.0
    assert lesson.words_kept(np.array([[1, 7], [3, 3]]), full, [7]) == pytest.approx(1 / 3)
    assert lesson.words_kept(full[:, :1], full, [9]) == 1.0  # no occurrences: nothing lost


@pytest.mark.parametrize("short, full, words, match", [
    (np.zeros((2, 3)), np.zeros((3, 3)), [1], "same number"),
    (np.zeros(3), np.zeros((1, 3)), [1], "2-D"),
    (np.zeros((1, 3)), np.zeros((1, 3)), [], "at least one"),
])
def test_words_kept_rejects_bad_input(short, full, words, match):
    with pytest.raises(ValueError, match=match):
        lesson.words_kept(short, full, words)


def test_mark_words_brackets_the_words_and_cuts_long_documents():
    assert lesson.mark_words(np.array([4, 5, 6]), [5]) == "4 [5] 6"
    assert lesson.mark_words(np.arange(10), [1], limit=3) == "0 [1] 2 ..."
    with pytest.raises(ValueError, match="1-D"):
        lesson.mark_words(np.zeros((2, 2), int), [1])
    with pytest.raises(ValueError, match="limit"):
        lesson.mark_words(np.arange(3), [1], limit=0)


def test_fraction_needed_is_exactly_where_summarize_starts_keeping_every_word(docs):
    (x_train, _, x_test, _), words = docs
    ranks = fit_token_ranks(x_train, VOCAB)
    needed = lesson.fraction_needed(x_test, ranks, words)
    assert needed.shape == (len(x_test),) and ((needed > 0) & (needed <= 1)).all()
    for i in range(len(x_test)):
        doc = x_test[i:i + 1]
        enough = summarize(doc, ranks, float(needed[i]))
        assert lesson.words_kept(enough, doc, words) == 1.0
        n_keep = round(needed[i] * doc.shape[1])
        if n_keep > 1:  # one token fewer loses a word (ties aside, which this data avoids)
            fewer = summarize(doc, ranks, (n_keep - 1) / doc.shape[1])
            assert lesson.words_kept(fewer, doc, words) < 1.0


def test_fraction_needed_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D int"):
        lesson.fraction_needed(np.zeros((2, 3)), np.arange(5), [1])
    with pytest.raises(ValueError, match="ranks"):
        lesson.fraction_needed(np.full((2, 3), 9), np.arange(5), [1])


# ----------------------------------------------------------------------- the exercise


def test_drop_common_drops_the_stop_list_keeps_order_and_pads():
    ranks = np.array([0, 1, 3, 2, 4])  # id 0 pad, id 1 most common, then 3, 2, 4
    x = np.array([[1, 2, 1, 4, 3], [1, 1, 1, 1, 2]])
    assert lesson.drop_common(x, ranks, 2, 4).tolist() == [[2, 4, 3, 0], [2, 0, 0, 0]]
    assert lesson.drop_common(x, ranks, 3, 1).tolist() == [[2], [2]]  # id 3 dropped too, cut
    assert lesson.drop_common(x, ranks, 0, 5).tolist() == x.tolist()


def test_drop_common_rejects_bad_arguments():
    ranks = np.arange(5)
    with pytest.raises(ValueError, match="2-D int"):
        lesson.drop_common(np.zeros((2, 3)), ranks, 1, 2)
    with pytest.raises(ValueError, match="ranks"):
        lesson.drop_common(np.full((1, 3), 7), ranks, 1, 2)
    with pytest.raises(ValueError, match="n_common"):
        lesson.drop_common(np.ones((1, 3), int), ranks, -1, 2)
    with pytest.raises(ValueError, match="length"):
        lesson.drop_common(np.ones((1, 3), int), ranks, 1, 0)


def test_check_drop_common_accepts_a_correct_answer_and_rejects_wrong_ones(capsys):
    def by_keras_style_loop(x, ranks, n_common, length):
        rows = [[t for t in row if ranks[t] >= n_common][:length] for row in x]
        return np.array([r + [0] * (length - len(r)) for r in rows])

    assert lesson.check_drop_common(by_keras_style_loop)
    assert not lesson.check_drop_common(lambda x, r, n, length: np.sort(
        lesson.drop_common(x, r, n, length), axis=1))  # order lost
    assert not lesson.check_drop_common(lambda x, r, n, length: lesson.drop_common(
        x, r, n + 1, length))  # one id too many dropped
    assert not lesson.check_drop_common(lambda x, r, n, length: 1 / 0)
    assert not lesson.check_drop_common(None)
    assert "ZeroDivisionError" in capsys.readouterr().out


# ----------------------------------------------------------------------- training runs


def test_fit_token_lstm_is_deterministic_given_the_seed(docs):
    (x_train, y_train, x_test, y_test), _ = docs
    args = ((x_train[:, :10], y_train), (x_test[:, :10], y_test), VOCAB, 4, 4, 1, 7)
    acc, sec = lesson.fit_token_lstm(*args)
    assert 0 <= acc <= 1 and sec > 0
    assert lesson.fit_token_lstm(*args)[0] == acc


def test_keep_fraction_demo_trains_both_methods_on_the_same_length(docs):
    data, words = docs
    fig, result = lesson.keep_fraction_demo(0.25, data=data, vocab_size=VOCAB, word_ids=words,
                                            units=4, embed_dim=4, epochs=1, seed=1)
    assert hasattr(fig, "savefig") and result["length"] == 15
    plt.close(fig)
    for method in ("summarize", "truncate"):
        r = result[method]
        assert 0 <= r["test_acc"] <= 1 and 0 <= r["words_kept"] <= 1 and r["sec_per_epoch"] > 0
    # the same documents, shortened the same way, whatever the training did
    assert result["summarize"]["words_kept"] == lesson.words_kept(
        summarize(data[2], fit_token_ranks(data[0], VOCAB), 0.25), data[2], words)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"keep_fraction": 0.0}, ValueError, "keep_fraction"),
    ({"keep_fraction": 1.5}, ValueError, "keep_fraction"),
    ({"keep_fraction": 0.5, "data": (1, 2)}, ValueError, "data must be"),
    ({"keep_fraction": 0.5, "epochs": 0}, ValueError, "epochs"),
    ({"keep_fraction": 0.5, "seed": -1}, ValueError, "seed"),
])
def test_summarize_vs_truncate_rejects_bad_arguments(docs, kwargs, error, match):
    data, words = docs
    args = {"data": data, "vocab_size": VOCAB, "word_ids": words, **kwargs}
    with pytest.raises(error, match=match):
        lesson.summarize_vs_truncate(**args)


def test_summarize_vs_truncate_names_a_mismatched_split(docs):
    (x_train, y_train, x_test, y_test), words = docs
    with pytest.raises(ValueError, match="y_train"):
        lesson.summarize_vs_truncate(0.5, data=(x_train, y_train[:-1], x_test, y_test),
                                     vocab_size=VOCAB, word_ids=words)
    with pytest.raises(ValueError, match="same length"):
        lesson.summarize_vs_truncate(0.5, data=(x_train, y_train, x_test[:, :9], y_test),
                                     vocab_size=VOCAB, word_ids=words)


# ----------------------------------------------------------------------- widget


def test_keep_fraction_explorer_passes_the_slider_value_to_the_plain_function():
    calls = []

    def plain(**kwargs):
        calls.append(kwargs)
        return None

    box = widgets.keep_fraction_explorer(plain, 0.2, fixed={"seed": 1})
    box.run()
    assert calls[-1] == {"keep_fraction": 0.2, "seed": 1}
    with pytest.raises(ValueError, match="keep_fraction"):
        widgets.keep_fraction_explorer(plain, 0.0)
