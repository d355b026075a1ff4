"""Tests for course_lib.techniques: shapes, order kept, determinism, no leakage, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import data
from course_lib import techniques as tq

SETTINGS = settings(max_examples=40, deadline=None)


def stamped(n, t, f=None):
    """Return sequences whose value encodes (sample, step): easy to check order and origin."""
    x = (np.arange(n)[:, None] * 1000 + np.arange(t)[None, :]).astype(np.int64)
    return x if f is None else np.repeat(x[:, :, None], f, axis=2)


dims = st.tuples(st.integers(1, 6), st.integers(1, 40))

# ----- truncate -----


@SETTINGS
@given(dims=dims, data_=st.data())
def test_truncate_keeps_the_named_end(dims, data_):
    n, t = dims
    maxlen = data_.draw(st.integers(1, t))
    x = stamped(n, t, 2)
    pre, post = tq.truncate(x, maxlen, "pre"), tq.truncate(x, maxlen, "post")
    assert pre.shape == post.shape == (n, maxlen, 2)
    assert np.array_equal(pre, x[:, t - maxlen:]) and np.array_equal(post, x[:, :maxlen])


def test_truncate_validates():
    x = np.zeros((2, 5))
    with pytest.raises(ValueError, match="maxlen must be >= 1 and <= 5"):
        tq.truncate(x, 6)
    with pytest.raises(ValueError, match="side"):
        tq.truncate(x, 2, "middle")
    with pytest.raises(ValueError, match="2-D"):
        tq.truncate(np.zeros(5), 2)


def test_truncate_returns_a_copy():
    x = np.zeros((2, 5))
    tq.truncate(x, 3)[:] = 1
    assert x.sum() == 0


# ----- summarize -----


def test_fit_token_ranks_orders_by_train_frequency():
    x = np.array([[3, 3, 3, 1, 1, 0, 0, 0, 0]])
    ranks = tq.fit_token_ranks(x, 5)
    assert ranks[0] == 0  # padding first
    assert ranks[3] == 1 and ranks[1] == 2  # then most frequent
    assert ranks[2] == 3 and ranks[4] == 4  # unseen last, ties by id
    assert sorted(ranks) == list(range(5))


@SETTINGS
@given(n=st.integers(1, 5), t=st.integers(1, 30), frac=st.floats(0.01, 1.0),
       seed=st.integers(0, 99))
def test_summarize_keeps_rarest_in_order(n, t, frac, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 12, size=(n, t)).astype(np.int32)
    ranks = tq.fit_token_ranks(x, 12)
    out = tq.summarize(x, ranks, frac)
    keep = tq.summarized_length(t, frac)
    assert out.shape == (n, keep)
    for row, kept in zip(x, out, strict=True):
        # kept is a subsequence of row (order preserved) ...
        it = iter(row.tolist())
        assert all(tok in it for tok in kept.tolist())
        # ... and no dropped token is rarer than the most common kept token
        dropped = np.setdiff1d(row, kept)
        if len(dropped):
            assert ranks[dropped].max() <= ranks[kept].min()


def test_summarize_uses_only_the_ranks_it_is_given():
    """Ranks are fitted on train; test documents do not change them (no leakage)."""
    train = np.array([[1, 1, 1, 2, 2, 3]])
    test = np.array([[3, 3, 3, 3, 1, 2]])
    ranks = tq.fit_token_ranks(train, 4)
    before = ranks.copy()
    out = tq.summarize(test, ranks, 0.5)
    assert np.array_equal(ranks, before)
    # by TRAIN frequency 3 is rarest, then 2: keep the three rarest in order
    assert out.tolist() == [[3, 3, 3]]
    # ranks fitted on test would have kept 1 and 2 instead
    assert tq.summarize(test, tq.fit_token_ranks(test, 4), 0.5).tolist() == [[3, 1, 2]]


def test_summarize_keeps_planted_words_better_than_truncation():
    x, y, info = data.zipf_documents(400, 200, vocab_size=600, position="anywhere", seed=0)
    xtr, _, xte, _ = data.train_test_split(x, y, seed=0)
    ranks = tq.fit_token_ranks(xtr, 600)
    special = np.concatenate([info.extra["negative_ids"], info.extra["positive_ids"]])
    summary = tq.summarize(xte, ranks, 0.3)
    cut = tq.truncate(xte, summary.shape[1], "post")
    assert np.isin(summary, special).sum() > np.isin(cut, special).sum()


def test_summarize_validates():
    ranks = tq.fit_token_ranks(np.array([[1, 2]]), 3)
    with pytest.raises(ValueError, match="keep_fraction"):
        tq.summarize(np.array([[1, 2]]), ranks, 0.0)
    with pytest.raises(ValueError, match="x ids must be in"):
        tq.summarize(np.array([[1, 7]]), ranks, 0.5)
    with pytest.raises(TypeError, match="integer token ids"):
        tq.summarize(np.array([[1.0, 2.0]]), ranks, 0.5)
    with pytest.raises(ValueError, match="x_train ids"):
        tq.fit_token_ranks(np.array([[5]]), 3)


def test_summarized_length_is_not_fooled_by_rounding():
    assert tq.summarized_length(300, 0.1) == 30
    assert tq.summarized_length(10, 0.01) == 1


# ----- random sampling -----


@SETTINGS
@given(dims=dims, data_=st.data(), seed=st.integers(0, 999))
def test_random_drop_steps_is_ordered_subset(dims, data_, seed):
    n, t = dims
    keep = data_.draw(st.integers(1, t))
    x = stamped(n, t, 3)
    out = tq.random_drop_steps(x, keep, seed=seed)
    assert out.shape == (n, keep, 3)
    steps = out[:, :, 0] % 1000
    assert np.all(np.diff(steps, axis=1) > 0)  # strictly increasing: order kept, no repeats
    assert np.all(out[:, :, 0] // 1000 == np.arange(n)[:, None])  # rows stay in their sample
    assert np.array_equal(out, tq.random_drop_steps(x, keep, seed=seed))


@SETTINGS
@given(dims=dims, data_=st.data(), seed=st.integers(0, 999), overlap=st.booleans())
def test_random_windows_are_contiguous_and_ordered(dims, data_, seed, overlap):
    n, t = dims
    window = data_.draw(st.integers(1, t))
    most = t // window if not overlap else 4
    n_windows = data_.draw(st.integers(1, max(1, most)))
    x = stamped(n, t)
    out = tq.random_windows(x, window, n_windows, overlap=overlap, seed=seed)
    assert out.shape == (n, n_windows * window)
    pieces = out.reshape(n, n_windows, window) % 1000
    assert np.all(np.diff(pieces, axis=2) == 1)  # each window is contiguous
    starts = pieces[:, :, 0]
    assert np.all(np.diff(starts, axis=1) >= 0)  # windows in time order
    if not overlap:
        assert np.all(np.diff(starts, axis=1) >= window)


def test_random_windows_validate():
    with pytest.raises(ValueError, match="n_windows \\* window"):
        tq.random_windows(np.zeros((2, 10)), 4, 3, overlap=False)
    with pytest.raises(ValueError, match="window must be"):
        tq.random_windows(np.zeros((2, 10)), 11)


@SETTINGS
@given(dims=dims, data_=st.data(), seed=st.integers(0, 999))
def test_augment_windows_carry_labels(dims, data_, seed):
    n, t = dims
    window = data_.draw(st.integers(1, t))
    k = data_.draw(st.integers(1, 5))
    x = stamped(n, t, 2)
    y = np.arange(n) * 10
    xa, ya, src = tq.augment_windows(x, y, window, k, seed=seed)
    assert xa.shape == (n * k, window, 2) and ya.shape == (n * k,)
    assert np.array_equal(xa[:, 0, 0] // 1000, src)  # every window comes from its source
    assert np.array_equal(ya, y[src])  # and carries that source's label
    assert np.all(np.diff(xa[:, :, 0] % 1000, axis=1) == 1)


def test_augment_after_split_has_no_leakage():
    x = stamped(40, 50, 1)
    y = (np.arange(40) % 2).astype(np.int32)
    xtr, ytr, xte, yte = data.train_test_split(x, y, seed=0)
    a_tr = tq.augment_windows(xtr, ytr, 10, 5, seed=1)[0]
    a_te = tq.augment_windows(xte, yte, 10, 5, seed=2)[0]
    assert not set(np.unique(a_tr[:, 0, 0] // 1000)) & set(np.unique(a_te[:, 0, 0] // 1000))


def test_aggregate_by_source_averages_per_sequence():
    preds = np.array([0.2, 0.4, 0.9, 0.7])
    src = np.array([0, 0, 1, 1])
    assert np.allclose(tq.aggregate_by_source(preds, src), [0.3, 0.8])
    with pytest.raises(ValueError, match="at least one window"):
        tq.aggregate_by_source(preds, src, n_samples=3)
    with pytest.raises(ValueError, match="one entry per prediction"):
        tq.aggregate_by_source(preds, src[:3])


# ----- parallel pieces and halves -----


@SETTINGS
@given(n=st.integers(1, 4), pieces=st.integers(1, 6), length=st.integers(1, 8), f=st.integers(1, 3))
def test_parallel_subsequences_round_trip(n, pieces, length, f):
    t = pieces * length
    x = stamped(n, t, f)
    out = tq.parallel_subsequences(x, pieces)
    assert out.shape == (n, length, pieces * f)
    for p in range(pieces):
        assert np.array_equal(out[:, :, p * f:(p + 1) * f], x[:, p * length:(p + 1) * length])
    parts = tq.split_n(x, pieces)
    assert np.array_equal(np.concatenate(parts, axis=1), x)


def test_split_halves_and_errors():
    x = stamped(2, 6, 1)
    a, b = tq.split_halves(x)
    assert a.shape == b.shape == (2, 3, 1)
    assert np.array_equal(np.concatenate([a, b], axis=1), x)
    with pytest.raises(ValueError, match="divisible"):
        tq.split_halves(stamped(2, 5, 1))
    with pytest.raises(ValueError, match="divisible"):
        tq.parallel_subsequences(stamped(2, 7), 2)
    assert tq.parallel_subsequences(stamped(2, 8), 2).shape == (2, 4, 2)


# ----- hashing and projection -----


@SETTINGS
@given(n=st.integers(1, 4), g=st.integers(1, 4), length=st.integers(1, 10),
       buckets=st.integers(2, 50), seed=st.integers(0, 99))
def test_hash_tokens_shape_range_determinism(n, g, length, buckets, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 1000, size=(n, g * length))
    out = tq.hash_tokens(x, buckets, ngram=g, seed=seed)
    assert out.shape == (n, length)
    assert out.min() >= 1 and out.max() < buckets
    assert np.array_equal(out, tq.hash_tokens(x, buckets, ngram=g, seed=seed))
    # equal n-grams hash equally, wherever they are
    twice = np.concatenate([x[:, :g], x[:, :g]], axis=1)
    h = tq.hash_tokens(twice, buckets, ngram=g, seed=seed)
    assert np.array_equal(h[:, 0], h[:, 1])


def test_hash_tokens_keeps_padding_and_spreads():
    x = np.array([[0, 0, 5, 6]])
    assert tq.hash_tokens(x, 10, ngram=2)[0, 0] == 0
    ids = np.arange(1, 5001)[None, :]
    counts = np.bincount(tq.hash_tokens(ids, 11).ravel(), minlength=11)
    assert counts[0] == 0 and counts[1:].min() > 300  # roughly uniform buckets
    with pytest.raises(ValueError, match="divisible by ngram"):
        tq.hash_tokens(np.ones((1, 5), dtype=int), 4, ngram=2)
    with pytest.raises(ValueError, match="n_buckets"):
        tq.hash_tokens(np.ones((1, 4), dtype=int), 1)


def test_random_projection_shapes_and_distance():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 64, 3)).astype(np.float32)
    out = tq.random_projection(x, 8, 200, seed=1)
    assert out.shape == (2, 8, 200) and out.dtype == np.float32
    assert np.array_equal(out, tq.random_projection(x, 8, 200, seed=1))
    blocks = x.reshape(2, 8, 24)
    ratio = np.linalg.norm(out, axis=2) / np.linalg.norm(blocks, axis=2)
    assert np.all((ratio > 0.7) & (ratio < 1.3))  # lengths roughly kept
    with pytest.raises(ValueError, match="divisible by window"):
        tq.random_projection(x, 7, 4)
    with pytest.raises(ValueError, match="out_dim"):
        tq.projection_matrix(4, 0)


# --- uniform placements and NaN/inf refusal (issues 12 and 10) ------------------------

CHI2_5DOF_P001 = 20.52  # chi-square critical value, 5 degrees of freedom, p = 0.001


def _chi_square(counts, expected):
    counts = np.asarray(counts, dtype=float)
    return float(((counts - expected) ** 2 / expected).sum())


def test_non_overlapping_windows_are_uniform_over_placements():
    # 2 windows of 2 steps in 6 steps: 6 placements (slack pairs (0,0), (0,1), ... (2,2)).
    # Sorting two independent draws would give (a, a) half the weight of (a, b): chi2 ~ 660.
    n = 6000
    starts = tq.window_starts(6, 2, 2, n, overlap=False, seed=11)
    assert (np.diff(starts, axis=1) >= 2).all() and starts.min() >= 0 and starts.max() <= 4
    placements, counts = np.unique(starts, axis=0, return_counts=True)
    assert len(placements) == 6
    seen = dict(zip(map(tuple, placements), counts, strict=True))
    assert _chi_square(counts, n / 6) < CHI2_5DOF_P001, seen


def test_overlapping_window_starts_are_independent_uniform_draws():
    n = 6000
    starts = tq.window_starts(6, 2, 2, n, overlap=True, seed=12)
    assert (np.diff(starts, axis=1) >= 0).all()  # sorted, may coincide
    # sorted pairs of two independent uniform draws on 0..4: (a, a) 1/25, (a, b) 2/25
    placements, counts = np.unique(starts, axis=0, return_counts=True)
    expected = np.where(placements[:, 0] == placements[:, 1], n / 25, 2 * n / 25)
    assert len(placements) == 15
    assert _chi_square(counts, expected) < 36.12  # chi2, 14 dof, p = 0.001


FLOAT_ENTRY_POINTS = {
    "truncate": lambda x: tq.truncate(x, 2),
    "random_drop_steps": lambda x: tq.random_drop_steps(x, 2),
    "random_windows": lambda x: tq.random_windows(x, 2),
    "augment_windows": lambda x: tq.augment_windows(x, np.zeros(len(x)), 2, 2),
    "split_n": lambda x: tq.split_n(x, 2),
    "split_halves": tq.split_halves,
    "parallel_subsequences": lambda x: tq.parallel_subsequences(x, 2),
    "random_projection": lambda x: tq.random_projection(x, 2, 3),
}


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("entry", sorted(FLOAT_ENTRY_POINTS))
def test_entry_points_refuse_nan_and_inf_in_x(entry, bad):
    x = np.ones((3, 4, 2), np.float32)
    FLOAT_ENTRY_POINTS[entry](x)  # finite input is fine
    x[1, 2, 0] = bad
    with pytest.raises(ValueError, match=r"x must hold finite numbers.*index \(1, 2, 0\)"):
        FLOAT_ENTRY_POINTS[entry](x)
    with pytest.raises(ValueError, match="x must hold finite numbers"):
        FLOAT_ENTRY_POINTS[entry](x[:, :, 0].astype(np.float64))  # 2-D too


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_labels_and_predictions_refuse_nan_and_inf(bad):
    x = np.ones((3, 4), np.float32)
    y = np.array([0.0, bad, 1.0])
    with pytest.raises(ValueError, match="y must hold finite numbers"):
        tq.augment_windows(x, y, 2, 2)
    preds = np.array([[0.2], [bad], [0.4]])
    with pytest.raises(ValueError, match="predictions must hold finite numbers"):
        tq.aggregate_by_source(preds, np.array([0, 0, 1]))


def test_integer_token_ids_pass_the_finiteness_check_unchanged():
    x = np.arange(12, dtype=np.int32).reshape(2, 6)
    assert np.array_equal(tq.truncate(x, 3), x[:, 3:])
    assert tq.hash_tokens(x, 5).shape == (2, 6)


def test_random_drop_steps_keeps_every_subset_equally_often():
    n = 6000
    x = np.tile(np.arange(4), (n, 1))
    kept = tq.random_drop_steps(x, 2, seed=13)  # 6 possible ordered pairs of kept steps
    subsets, counts = np.unique(kept, axis=0, return_counts=True)
    assert len(subsets) == 6
    assert _chi_square(counts, n / 6) < CHI2_5DOF_P001, counts


# ----- hashing: the mixing step (splitmix64 finaliser) -----


def _expected_buckets(n_ids, m):
    """Expected distinct buckets when n_ids distinct ids land uniformly in m buckets."""
    return m * (1 - (1 - 1 / m) ** n_ids)


@pytest.mark.parametrize(("n_ids", "n_buckets"), [(256, 1024), (1000, 1024), (300, 64)])
def test_hash_tokens_fills_buckets_like_a_random_hash_over_100_seeds(n_ids, n_buckets):
    ids = np.arange(1, n_ids + 1)[None, :]  # consecutive ids: the hardest case for a linear hash
    used = np.array([len(np.unique(tq.hash_tokens(ids, n_buckets, seed=s))) for s in range(100)])
    expected = _expected_buckets(n_ids, n_buckets - 1)  # bucket 0 is padding
    assert abs(used.mean() / expected - 1) < 0.02, (used.mean(), expected)
    assert np.all(np.abs(used / expected - 1) < 0.08), (used.min(), used.max(), expected)


def test_mix64_is_a_deterministic_scrambling_bijection():
    z = np.arange(100_000, dtype=np.uint64)
    out = tq.mix64(z)
    assert out.dtype == np.uint64 and out.shape == z.shape
    assert len(np.unique(out)) == len(z)  # distinct in, distinct out
    assert tq.mix64(0) == 0 and int(tq.mix64(1)) == 0x5692161D100B05E5  # splitmix64 finaliser
    # Neighbouring inputs differ in about half of their 64 output bits.
    flipped = np.unpackbits((out[1:] ^ out[:-1]).view(np.uint8)).reshape(-1, 64).sum(axis=1)
    assert 30 < flipped.mean() < 34


# ----------------------------------------------------------------------- notebook 04's page


@SETTINGS
@given(seed=st.integers(0, 10_000), keep=st.integers(1, 12))
def test_summarize_steps_keeps_the_rarest_in_order_like_a_plain_loop(seed, keep):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 9, size=(3, 12))
    ranks = tq.token_ranks(rng.integers(0, 9, size=(5, 12)), 9)
    out = tq.summarize_steps(x, ranks, keep)
    for row, got in zip(x, out, strict=True):
        # rarest first; among equal ranks the earlier position wins; then document order
        best = sorted(range(12), key=lambda i: (-ranks[row[i]], i))[:keep]
        assert got.tolist() == row[sorted(best)].tolist()


def test_validated_wrappers_call_the_page_copies():
    x = np.array([[3, 1, 1, 2, 0, 1]])
    ranks = tq.fit_token_ranks(x, 5)
    assert ranks.tolist() == tq.token_ranks(x, 5, 0).tolist() == [0, 1, 2, 3, 4]
    assert tq.summarize(x, ranks, 0.5).tolist() == tq.summarize_steps(x, ranks, 3).tolist()
    assert tq.summarize_steps(x, ranks, 3).tolist() == [[3, 1, 2]]  # ties: the earlier 1


# ----------------------------------------------------------------------- notebook 05's page


@SETTINGS
@given(seed=st.integers(0, 10_000), window=st.integers(1, 9), n_windows=st.integers(1, 4))
def test_gather_windows_matches_slicing_each_window(seed, window, n_windows):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 9, 2))
    starts = rng.integers(0, 9 - window + 1, size=(3, n_windows))
    out = tq.gather_windows(x, starts, window)
    assert out.shape == (3, n_windows, window, 2)
    for i in range(3):
        for j, s in enumerate(starts[i]):
            np.testing.assert_array_equal(out[i, j], x[i, s:s + window])


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(1, 5), n_windows=st.integers(1, 5))
def test_average_windows_agrees_with_aggregate_by_source(seed, n, n_windows):
    prob = np.random.default_rng(seed).random(n * n_windows)
    source = np.repeat(np.arange(n), n_windows)
    np.testing.assert_allclose(tq.average_windows(prob, n_windows),
                               tq.aggregate_by_source(prob, source, n))


def test_check_seed_is_public_in_data():
    assert data.check_seed(3) == 3
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="seed"):
            data.check_seed(bad)
