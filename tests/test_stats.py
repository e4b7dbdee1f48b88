"""Statistics against numpy's own, histograms against np.histogram, all values counted."""

import numpy as np
import pytest

from initlab.engine import stats


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("loc,scale", [(0.0, 1.0), (0.5, 1e-3), (1e4, 1.0), (0.0, 1e-30)])
def test_moments_match_numpy(dtype, rtol, loc, scale):
    x = (loc + scale * np.random.default_rng(0).standard_normal((300, 200))).astype(dtype)
    m = stats.moments(x)
    ref = x.astype(np.float64)
    assert m.mean == pytest.approx(ref.mean(), rel=rtol, abs=1e-300)
    assert m.std == pytest.approx(ref.std(), rel=max(rtol, 1e-9) * 10)
    assert m.nonfinite == 0


def test_moments_count_and_skip_nonfinite():
    x = np.array([1.0, 2.0, np.inf, np.nan, 3.0])
    m = stats.moments(x)
    assert m.nonfinite == 2
    assert m.mean == pytest.approx(2.0) and m.std == pytest.approx(np.std([1, 2, 3]))
    allbad = stats.moments(np.array([np.inf, -np.inf]))
    assert allbad.nonfinite == 2 and np.isnan(allbad.std)


def test_moments_of_huge_finite_values():
    x = np.array([1e300, -1e300, 1e300, -1e300])
    m = stats.moments(x)
    assert m.nonfinite == 0 and m.std == pytest.approx(1e300) and m.mean == pytest.approx(0.0, abs=1e285)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_histogram_equals_np_histogram_and_counts_everything(dtype):
    rng = np.random.default_rng(3)
    x = (1.3 * rng.standard_normal(200_000)).astype(dtype)
    x[:50] = 1.0  # exactly the upper edge: numpy puts it in the last bin
    x[50:60] = -1.0
    h = stats.Histogrammer(-1.0, 1.0, 50)(x)
    ref, _ = np.histogram(x, bins=50, range=(-1.0, 1.0))
    np.testing.assert_array_equal(h.counts, ref)
    assert h.below == np.count_nonzero(x < -1) and h.above == np.count_nonzero(x > 1)
    assert h.total == x.size


def test_histogram_skips_and_counts_nonfinite():
    x = np.array([0.1, np.nan, np.inf, -np.inf, 0.5])
    m = stats.moments(x)
    h = stats.Histogrammer(0.0, 1.0, 10)(x, m.nonfinite)
    assert h.nonfinite == 3 and h.counts.sum() == 2 and h.total == 5


def test_zero_stats_and_dead_units():
    h = np.maximum(np.random.default_rng(0).standard_normal((100, 8)), 0)
    h[:, [2, 5]] = 0.0
    frac, dead = stats.zero_stats(h)
    assert dead == 2 and frac == pytest.approx(np.mean(h == 0))
    assert stats.zero_stats(np.ones((3, 3))) == (0.0, 0)


def test_saturated_fraction():
    h = np.array([-1.0, -0.995, 0.0, 0.5, 0.99, 0.999])
    assert stats.saturated_fraction(h, (-0.99, 0.99)) == pytest.approx(4 / 6)
    assert stats.saturated_fraction(h, None) is None


@pytest.mark.parametrize("batch,fan_in,fan_out", [(16, 64, 48), (200, 30, 20)])
def test_weight_gradient_moments_with_and_without_forming_dw(batch, fan_in, fan_out):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, fan_in)) + 0.3
    dz = rng.standard_normal((batch, fan_out))
    dw = x.T @ dz
    m = stats.weight_gradient_moments(x, dz)
    assert m.mean == pytest.approx(dw.mean(), rel=1e-9, abs=1e-12)
    assert m.std == pytest.approx(dw.std(), rel=1e-9)
