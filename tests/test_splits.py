"""Tests for course_lib.splits: round trips, reset schedules, factors, padding, bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from course_lib import splits  # noqa: E402

SETTINGS = settings(max_examples=40, deadline=None)


def stamped(n, t, f=1):
    """Return ``[n, t, f]`` values encoding (sequence, step, feature): origin is readable."""
    x = np.arange(n)[:, None, None] * 100_000 + np.arange(t)[None, :, None] * 10
    return (x + np.arange(f)[None, None, :]).astype(np.int64)


@st.composite
def layouts(draw, max_n=6, max_t=36):
    """Draw (n, t, batch_size, sub_len) with batch_size dividing n and any 1 <= sub_len <= t."""
    n = draw(st.integers(1, max_n))
    t = draw(st.integers(1, max_t))
    batch = draw(st.sampled_from(splits.factors(n)))
    sub_len = draw(st.integers(1, t))
    return n, t, batch, sub_len


# ----- factors and padding -----


@SETTINGS
@given(n=st.integers(1, 5000))
def test_factors_are_exactly_the_divisors(n):
    got = splits.factors(n)
    assert got == [d for d in range(1, n + 1) if n % d == 0]
    assert got == sorted(set(got)) and got[0] == 1 and got[-1] == n


@SETTINGS
@given(n=st.integers(1, 500), data_=st.data())
def test_nearest_factor(n, data_):
    target = data_.draw(st.integers(1, n))
    up = splits.nearest_factor(n, target)
    assert n % up == 0 and up >= target
    assert not any(target <= d < up for d in splits.factors(n))
    close = splits.nearest_factor(n, target, at_least=False)
    assert n % close == 0
    assert all(abs(close - target) <= abs(d - target) for d in splits.factors(n))


@SETTINGS
@given(n=st.integers(1, 4), t=st.integers(1, 30), multiple=st.integers(1, 12),
       side=st.sampled_from(["post", "pre"]))
def test_pad_to_multiple_keeps_data_and_marks_padding(n, t, multiple, side):
    x = stamped(n, t, 2) + 1  # +1 so no real value equals the fill value 0
    padded, mask = splits.pad_to_multiple(x, multiple, side=side)
    total = padded.shape[1]
    assert total % multiple == 0 and t <= total < t + multiple
    assert mask.shape == (n, total) and mask.sum() == n * t
    assert np.array_equal(padded[mask], x.reshape(n * t, 2))
    assert np.all(padded[~mask] == 0)
    real_first = mask[:, 0].all()
    assert real_first if side == "post" else (real_first or total == t) or not mask[:, 0].any()


# ----- round trips and reset schedules -----


@SETTINGS
@given(layout=layouts(), f=st.integers(1, 3))
def test_padded_split_round_trips_without_losing_or_duplicating_a_step(layout, f):
    n, t, batch, sub_len = layout
    x = stamped(n, t, f)
    plan = splits.padded_split(x, x, sub_len, batch_size=batch)
    pieces = -(-t // sub_len)
    assert plan.shape == (n * pieces, sub_len, f)
    assert plan.pad == pieces * sub_len - t
    assert np.array_equal(splits.join(plan), x)
    assert np.array_equal(splits.join_targets(plan), x)
    real = plan.x[plan.mask]  # every real step exactly once, nothing else
    assert real.shape == (n * t, f)
    assert np.array_equal(np.sort(real[:, 0]), np.sort(x[..., 0].ravel()))


@SETTINGS
@given(layout=layouts())
def test_reset_schedule_matches_true_sequence_boundaries(layout):
    """Walking the batches in order, each row sees one sequence's pieces in time order."""
    n, t, batch, sub_len = layout
    x = stamped(n, t)
    plan = splits.padded_split(x, None, sub_len, batch_size=batch)
    seq_of = lambda piece: int(piece[0, 0]) // 100_000  # noqa: E731
    previous = [None] * batch  # (sequence, next expected step) carried per row
    for b in range(plan.n_batches):
        rows = plan.x[b * batch:(b + 1) * batch]
        masks = plan.mask[b * batch:(b + 1) * batch]
        for r in range(batch):
            seq, first = seq_of(rows[r]), int(rows[r, 0, 0]) % 100_000 // 10
            if previous[r] is None:
                assert first == 0  # a fresh state always meets a sequence's first step
            else:
                assert previous[r] == (seq, first)  # state carries into the same sequence
            steps = masks[r].sum()
            previous[r] = (seq, first + int(steps))
        if plan.reset_mask[b]:
            assert all(p[1] == t for p in previous)  # reset exactly when sequences end
            previous = [None] * batch
    assert all(p is None for p in previous)
    assert plan.reset_mask.sum() == n // batch
    assert np.array_equal(plan.index[:, 0], plan.x[:, 0, 0] // 100_000)
    assert np.array_equal(plan.last, plan.index[:, 1] + sub_len >= t)


@SETTINGS
@given(layout=layouts(max_t=24))
def test_per_sequence_targets_are_repeated_and_recovered(layout):
    n, t, batch, sub_len = layout
    if t % sub_len:
        sub_len = splits.nearest_factor(t, sub_len)
    x = stamped(n, t)
    labels = np.arange(n) * 7 + 3
    plan = splits.naive_split(x, labels, sub_len, batch_size=batch)
    assert not plan.per_step_targets
    assert np.array_equal(plan.y, plan.index[:, 0] * 7 + 3)
    assert np.array_equal(splits.join_targets(plan), labels)
    assert plan.last.sum() == n


@SETTINGS
@given(n=st.integers(1, 5), t=st.integers(1, 30), f=st.integers(1, 2))
def test_every_technique_returns_samples_timesteps_features(n, t, f):
    x = stamped(n, t, f)
    sub = splits.factors(t)[len(splits.factors(t)) // 2]
    shapes = {
        "as-is": ((n, t, f), 1),
        "naive split": ((n * t // sub, sub, f), t // sub),
        "one step": ((n * t, 1, f), t),
        "padded split": ((n * -(-t // 4), min(4, t), f), -(-t // min(4, t))),
        "decoupled": ((n, t, f), 1),
    }
    lengths = {"naive split": sub, "padded split": min(4, t), "decoupled": sub}
    for technique, (shape, reset_every) in shapes.items():
        plan = splits.split_by(technique, x, x, lengths.get(technique))
        assert plan.shape == shape and len(plan.shape) == 3, technique
        assert plan.reset_every == reset_every, technique
        assert np.array_equal(splits.join(plan), x), technique


def test_seed_examples_have_the_documented_shapes():
    assert splits.as_is(np.zeros((100, 25))).shape == (100, 25, 1)
    plan = splits.naive_split(np.zeros((100, 50_000), np.float32), None, 500)
    assert plan.shape == (10_000, 500, 1) and plan.batch_size == 100 and plan.reset_every == 100
    plan = splits.one_step_split(np.zeros((100, 50)))
    assert plan.shape == (5000, 1, 1) and plan.reset_every == 50
    assert "reset state after every 50 batches" in plan.summary()


def test_domain_split_finds_the_period_and_uses_a_factor():
    x, y, _ = splits.noisy_sine(16, 480, period=40, noise=0.5, seed=3)
    plan = splits.domain_split(x, y)
    assert abs(plan.extra["lag"] - 40) <= 2
    assert 480 % plan.sub_len == 0 and plan.sub_len >= plan.extra["lag"]
    assert np.array_equal(splits.join(plan), x)
    lag = splits.length_from_acf(splits.autocorrelation(x, 100), rule="threshold", threshold=0.2)
    assert 1 <= lag < 40


def test_autocorrelation_of_a_pure_sine():
    t = np.arange(400)
    acf = splits.autocorrelation(np.sin(2 * np.pi * t / 20), 60)
    assert acf[0] == pytest.approx(1.0)
    assert splits.length_from_acf(acf) == 20


def test_noisy_sine_is_seeded_and_targets_lead_inputs():
    x1, y1, info = splits.noisy_sine(3, 50, period=10, noise=0.0, horizon=2, seed=5)
    x2, y2, _ = splits.noisy_sine(3, 50, period=10, noise=0.0, horizon=2, seed=5)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert x1.shape == y1.shape == (3, 50, 1) and x1.dtype == np.float32
    np.testing.assert_allclose(y1[:, :-2], x1[:, 2:], atol=1e-6)  # no noise: y is x shifted
    assert info.extra["baseline_mse"] == pytest.approx(float(np.mean(y1.astype(float) ** 2)))
    x3, _, _ = splits.noisy_sine(3, 50, period=10, seed=6)
    assert not np.array_equal(x1, x3)


def test_candidate_lengths_and_grid_search_pair_the_seeds():
    assert splits.candidate_lengths(12, min_len=2, max_len=6, extra=[5]) == [2, 3, 4, 5, 6]
    seen = []

    def evaluate(length, seed):
        seen.append((length, seed))
        return length + seed / 10

    result = splits.grid_search(evaluate, [3, 1], 3, seed=10, verbose=False)
    assert seen == [(3, 10), (3, 11), (3, 12), (1, 10), (1, 11), (1, 12)]
    assert result.scores.shape == result.seconds.shape == (2, 3)
    np.testing.assert_allclose(result.mean, [4.1, 2.1])
    np.testing.assert_allclose(result.std, [0.1, 0.1])
    assert result.best_length == 1
    assert "sub_len" in result.table()
    fig, _ = splits.plot_grid(result, baseline=5.0)
    plt.close(fig)


# ----- bad input: the message names the argument -----


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: splits.factors(0), ValueError, "n must be >= 1"),
        (lambda: splits.factors(2.5), TypeError, "n must be an int"),
        (lambda: splits.nearest_factor(10, 11), ValueError, "target must be >= 1 and <= 10"),
        (lambda: splits.pad_to_multiple([1, 2], 2), TypeError, "x must be a numpy array"),
        (lambda: splits.pad_to_multiple(np.zeros((2, 3)), 0), ValueError, "multiple must be"),
        (lambda: splits.pad_to_multiple(np.zeros((2, 3)), 2, side="mid"), ValueError, "side must"),
        (lambda: splits.naive_split(np.zeros((2, 10)), None, 3), ValueError,
         "sub_len=3 does not divide"),
        (lambda: splits.naive_split(np.zeros((2, 10)), None, 11), ValueError,
         "sub_len must be >= 1 and <= 10"),
        (lambda: splits.naive_split(np.zeros((4, 10)), None, 5, batch_size=3), ValueError,
         "batch_size must divide"),
        (lambda: splits.naive_split(np.zeros(10), None, 5), ValueError, "x must be"),
        (lambda: splits.naive_split(np.zeros((2, 10)), np.zeros(3), 5), ValueError,
         "y must have one entry per sequence"),
        (lambda: splits.naive_split(np.zeros((2, 10)), [0, 1], 5), TypeError,
         "y must be a numpy array"),
        (lambda: splits.as_is("abc"), TypeError, "x must be a numpy array"),
        (lambda: splits.decoupled_plan(np.zeros((2, 10)), None, 4, 11), ValueError,
         "k2 must be >= 1 and <= 10"),
        (lambda: splits.decoupled_plan(np.zeros((2, 10)), None, 0, 4), ValueError, "k1 must be"),
        (lambda: splits.split_by("bogus", np.zeros((2, 10)), None, 5), ValueError,
         "technique must be one of"),
        (lambda: splits.split_by("naive split", np.zeros((2, 10)), None), ValueError,
         "sub_len must be given"),
        (lambda: splits.length_from_acf(np.ones(5), rule="period"), ValueError,
         "never goes below zero"),
        (lambda: splits.length_from_acf(np.ones(5), rule="x"), ValueError, "rule must be"),
        (lambda: splits.autocorrelation(np.ones(10), 3), ValueError, "series must not be constant"),
        (lambda: splits.grid_search(lambda a, b: 0.0, [2], 0), ValueError, "repeats must be"),
        (lambda: splits.grid_search(3, [2], 1), TypeError, "evaluate must be a callable"),
        (lambda: splits.noisy_sine(2, 50, period=60), ValueError, "period must be >= 2 and <= 50"),
        (lambda: splits.noisy_sine(2, 50, period=10, noise=-1.0), ValueError, "noise must be in"),
        (lambda: splits.join("plan"), TypeError, "plan must be a SplitPlan"),
        (lambda: splits.plot_grid([1]), TypeError, "result must be a GridResult"),
    ],
)
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_join_rejects_values_laid_out_differently():
    plan = splits.naive_split(np.zeros((2, 10)), None, 5)
    with pytest.raises(ValueError, match="values must be laid out like plan.x"):
        splits.join(plan, np.zeros((3, 5, 1)))


# ----- training (small, but real Keras) -----


@pytest.fixture(scope="module")
def sine():
    x, y, info = splits.noisy_sine(4, 24, period=8, noise=0.3, seed=1)
    xt, yt, _ = splits.noisy_sine(2, 24, period=8, noise=0.3, seed=2)
    return x, y, xt, yt


def test_train_plan_is_deterministic_and_k_equals_k_matches_the_naive_split(sine):
    x, y, xt, yt = sine
    kw = {"units": 4, "epochs": 2, "learning_rate": 1e-2, "seed": 0}
    naive = splits.train_plan(splits.split_by("naive split", x, y, 6, batch_size=2), xt, yt, **kw)
    again = splits.train_plan(splits.split_by("naive split", x, y, 6, batch_size=2), xt, yt, **kw)
    assert naive.test_mse == pytest.approx(again.test_mse, rel=1e-6)
    assert naive.updates == 2 * (4 // 2) * (24 // 6) and len(naive.loss) == 2
    tbptt = splits.train_plan(splits.split_by("decoupled", x, y, 6, batch_size=2, k2=6),
                              xt, yt, **kw)
    assert tbptt.test_mse == pytest.approx(naive.test_mse, rel=1e-4)
    assert tbptt.predictions.shape == (2, 24, 1) and np.isfinite(tbptt.predictions).all()


def test_fit_plan_and_train_plan_reject_bad_plans(sine):
    x, y, xt, yt = sine
    with pytest.raises(ValueError, match="plan must carry per-step targets"):
        splits.train_plan(splits.naive_split(x, None, 6), xt, yt)
    with pytest.raises(ValueError, match="y_test must be"):
        splits.train_plan(splits.naive_split(x, y, 6), xt, yt[:, :5])
    with pytest.raises(ValueError, match="epochs must be"):
        splits.train_plan(splits.naive_split(x, y, 6), xt, yt, epochs=0)
    with pytest.raises(ValueError, match="a decoupled plan is trained by"):
        splits.fit_plan(None, splits.decoupled_plan(x, y, 4, 8))


def test_split_choice_and_its_widget(sine):
    import ipywidgets as w

    from course_lib import widgets

    x, y, xt, yt = sine
    data = {"x_train": x, "y_train": y, "x_test": xt, "y_test": yt, "batch_size": 2,
            "units": 4, "epochs": 1}
    fig, result, plan = splits.split_choice("padded split", 5, **data)
    assert plan.shape == (4 * 5, 5, 1) and plan.pad == 1 and np.isfinite(result.test_mse)
    plt.close(fig)
    box = widgets.split_explorer(splits.split_choice, "naive split", 6,
                                 ["naive split", "one step"], [3, 5, 6], fixed=data)
    assert isinstance(box, w.VBox)
    box.controls["sub_len"].value = 3
    fig, result, plan = box.run()
    assert plan.sub_len == 3 and box.status.value.startswith("done in")
    plt.close(fig)
    box.controls["sub_len"].value = 5  # not a factor of 24: shown as an error, no crash
    assert box.run() is None and box.status.value == "failed"
    with pytest.raises(ValueError, match="technique must be one of techniques"):
        widgets.split_explorer(splits.split_choice, "bogus", 6, ["one step"], [6])
    with pytest.raises(ValueError, match="sub_len must be one of lengths"):
        widgets.split_explorer(splits.split_choice, "one step", 7, ["one step"], [6])


def test_predict_plan_resets_state_exactly_at_sequence_ends(sine):
    """A stateful model fed the plan's batches must match whole sequences read from zero."""
    from course_lib import tbptt

    x, _, _, _ = sine
    plan = splits.padded_split(x, None, 7, batch_size=2)  # 24 = 3 * 7 + 3: padded too
    model = tbptt.lstm_stack(1, 3, 1, None, stateful=True, batch_size=2, seed=4)
    twin = tbptt.lstm_stack(1, 3, 1, None, seed=4)
    expected = tbptt.predict_sequences(twin, x)
    got = splits.predict_plan(model, plan)
    assert got.shape == expected.shape == (4, 24, 1)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    with pytest.raises(ValueError, match="use course_lib.tbptt.predict_sequences"):
        splits.predict_plan(model, splits.decoupled_plan(x, None, 4, 8))


# ----- non-finite input is refused at every entry point, naming the argument -----

_BAD_X = np.ones((2, 12, 1))
_BAD_X[1, 3, 0] = np.nan
_INF_Y = np.zeros((2, 12, 1))
_INF_Y[0, 0, 0] = np.inf
_GOOD = np.ones((2, 12, 1))


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: splits.make_plan(_BAD_X, None, 4), "x"),
        (lambda: splits.make_plan(_GOOD, _INF_Y, 4), "y"),
        (lambda: splits.as_is(_BAD_X), "x"),
        (lambda: splits.as_is(_GOOD, _INF_Y), "y"),
        (lambda: splits.naive_split(_BAD_X, None, 4), "x"),
        (lambda: splits.padded_split(_GOOD, _INF_Y, 5), "y"),
        (lambda: splits.one_step_split(_BAD_X), "x"),
        (lambda: splits.domain_split(_BAD_X, None), "x"),
        (lambda: splits.decoupled_plan(_BAD_X, None, 4, 4), "x"),
        (lambda: splits.decoupled_plan(_GOOD, _INF_Y, 4, 4), "y"),
        (lambda: splits.split_by("one step", _GOOD, _INF_Y), "y"),
        (lambda: splits.pad_to_multiple(_BAD_X, 5), "x"),
        (lambda: splits.autocorrelation(_BAD_X, 3), "series"),
        (lambda: splits.partial_autocorrelation(_BAD_X, 3), "series"),
        (lambda: splits.stateful_reshape(_BAD_X, 4, 1), "x"),
        (lambda: splits.train_plan(splits.naive_split(_GOOD, _GOOD, 4), _BAD_X, _GOOD), "x_test"),
        (lambda: splits.train_plan(splits.naive_split(_GOOD, _GOOD, 4), _GOOD, _INF_Y), "y_test"),
    ],
)
def test_nan_and_inf_are_refused_naming_the_argument(call, name):
    with pytest.raises(ValueError,
                       match=rf"^{name} must hold finite numbers, but 1 entries are NaN or inf"):
        call()


def test_integer_arrays_pass_the_finite_check():
    plan = splits.naive_split(stamped(2, 6), stamped(2, 6), 3)
    assert plan.shape == (4, 3, 1)


# ----- the reset schedule is computed once per plan -----


def test_reset_mask_is_computed_once_and_read_only(monkeypatch):
    calls = []
    original = splits._reset_schedule

    def counting(n_batches, reset_every):
        calls.append((n_batches, reset_every))
        return original(n_batches, reset_every)

    monkeypatch.setattr(splits, "_reset_schedule", counting)
    plan = splits.one_step_split(np.zeros((4, 300)), batch_size=2)  # 600 batches
    for b in range(plan.n_batches):
        plan.reset_mask[b]
    assert calls == [(600, 300)]
    assert plan.reset_mask is plan.reset_mask and not plan.reset_mask.flags.writeable
    assert np.flatnonzero(plan.reset_mask).tolist() == [299, 599]
    other = splits.with_reset(plan, 1)  # a new plan gets its own schedule
    assert other.reset_mask.all() and len(calls) == 2


# ----- the saved copies of notebook 09: reshape and reset callback -----


@SETTINGS
@given(n=st.integers(1, 6), t=st.integers(1, 24), f=st.integers(1, 3), data_=st.data())
def test_stateful_reshape_matches_make_plan_and_keeps_rows_continuous(n, t, f, data_):
    sub_len = data_.draw(st.sampled_from(splits.factors(t)))
    batch = data_.draw(st.sampled_from(splits.factors(n)))
    x = stamped(n, t, f)
    got = splits.stateful_reshape(x, sub_len, batch)
    assert np.array_equal(got, splits.naive_split(x, None, sub_len, batch_size=batch).x)
    pieces = t // sub_len
    for b in range(got.shape[0] // batch - 1):  # row r of batch b+1 continues row r of batch b
        if (b + 1) % pieces:
            now, later = got[b * batch:(b + 1) * batch], got[(b + 1) * batch:(b + 2) * batch]
            assert np.array_equal(later[:, 0, 0], now[:, -1, 0] + 10)


@pytest.mark.parametrize(
    "args, error, message",
    [
        (([1, 2], 1, 1), TypeError, "x must be a numpy array"),
        ((np.zeros((2, 6)), 3, 1), ValueError, r"x must be \[sequences, timesteps, features\]"),
        ((np.zeros((2, 6, 1)), 4, 1), ValueError, r"sub_len must divide T=6; factors: \[1, 2"),
        ((np.zeros((2, 6, 1)), 7, 1), ValueError, "sub_len must be >= 1 and <= 6"),
        ((np.zeros((4, 6, 1)), 3, 3), ValueError, r"batch_size must divide n=4"),
        ((np.zeros((4, 6, 1)), 3, 0), ValueError, "batch_size must be >= 1"),
    ],
)
def test_check_layout_names_the_argument(args, error, message):
    with pytest.raises(error, match=message):
        splits.stateful_reshape(*args)


def test_reset_callback_resets_exactly_where_the_schedule_says(monkeypatch):
    resets = []
    monkeypatch.setattr(splits, "reset_states", lambda model: resets.append(model))
    plan = splits.padded_split(np.zeros((6, 20)), None, 3, batch_size=2)  # 7 pieces, 3 groups
    callback = splits.ResetAtSequenceEnds(plan.reset_every)
    model = object()
    callback.set_model(model)
    for epoch in range(2):
        callback.on_epoch_begin(epoch)
        assert len(resets) == 1
        for b in range(plan.n_batches):
            resets.clear()
            callback.on_train_batch_end(b)
            assert bool(resets) == bool(plan.reset_mask[b])
        resets.clear()
    with pytest.raises(ValueError, match="every must be >= 1"):
        splits.ResetAtSequenceEnds(0)


def test_with_reset_changes_only_the_reset_rule():
    plan = splits.naive_split(np.zeros((4, 12)), np.zeros((4, 12)), 3, batch_size=2)
    each = splits.with_reset(plan, 1)
    assert each.x is plan.x and each.reset_every == 1 and plan.reset_every == 4
    with pytest.raises(ValueError, match=r"every must divide the 8 batches"):
        splits.with_reset(plan, 3)
    with pytest.raises(ValueError, match="every must be >= 1 and <= 8"):
        splits.with_reset(plan, 9)
    with pytest.raises(TypeError, match="plan must be a SplitPlan"):
        splits.with_reset("plan", 1)
    with pytest.raises(ValueError, match="a decoupled plan resets"):
        splits.with_reset(splits.decoupled_plan(np.zeros((4, 12)), None, 3, 3), 1)


def test_partial_autocorrelation_recovers_an_ar2_process():
    rng = np.random.default_rng(0)
    x = np.zeros(20_000)
    for t in range(2, len(x)):
        x[t] = 0.5 * x[t - 1] - 0.3 * x[t - 2] + rng.normal()
    pacf = splits.partial_autocorrelation(x, 6)
    acf = splits.autocorrelation(x, 6)
    assert pacf[0] == 1.0 and pacf[1] == pytest.approx(acf[1])
    assert pacf[1] == pytest.approx(0.5 / 1.3, abs=0.03)  # phi1 / (1 - phi2)
    assert pacf[2] == pytest.approx(-0.3, abs=0.03)
    assert np.all(np.abs(pacf[3:]) < 0.03)  # an AR(2) has no direct link beyond lag 2


def test_train_plan_counts_exact_updates(sine):
    x, y, xt, yt = sine
    plan = splits.naive_split(x, y, 6, batch_size=2)  # 8 batches a pass
    kw = {"units": 3, "learning_rate": 1e-2, "seed": 1}
    by_epochs = splits.train_plan(plan, xt, yt, epochs=2, **kw)
    by_updates = splits.train_plan(plan, xt, yt, updates=16, **kw)
    assert by_updates.updates == by_epochs.updates == 16
    assert by_updates.test_mse == pytest.approx(by_epochs.test_mse, rel=1e-6)
    cut = splits.train_plan(plan, xt, yt, updates=11, **kw)  # one pass + 3 batches
    assert cut.updates == 11 and len(cut.loss) == 2
    assert cut.test_mse != pytest.approx(by_epochs.test_mse, rel=1e-6)
    with pytest.raises(ValueError, match="updates must be >= 1"):
        splits.train_plan(plan, xt, yt, updates=0)
    with pytest.raises(ValueError, match="updates is for split plans"):
        splits.train_plan(splits.decoupled_plan(x, y, 6, 6), xt, yt, updates=3)
