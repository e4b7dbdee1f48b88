"""initlab.data: every registered dataset, its known properties, the IDX parser, bad input."""

import gzip
import pickle
import random
import struct
from pathlib import Path

import numpy as np
import pytest

from initlab import data as D
from initlab.data import idx as IDX
from initlab.errors import ConfigError

FASHION = Path(IDX.FASHION_MNIST_PATH)
TOL64 = 1e-10  # standardized mean/std in float64: a few ulps times n
TOL32 = 1e-5   # the same after the cast to float32 (7 digits)


# --- an IDX writer independent of the parser under test ----------------------------------------

CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype(">i2"): 0x0B,
         np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    big = arr.astype(arr.dtype.newbyteorder(">")) if arr.dtype.itemsize > 1 else arr
    head = bytes([0, 0, CODES[big.dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + big.tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool) -> Path:
    raw = idx_bytes(arr)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.fixture(scope="module")
def fake_mnist(tmp_path_factory) -> Path:
    """Four small MNIST-layout IDX files: 40 train and 20 test images, labels i % 10.
    Images are gzipped and labels plain, so both code paths are used."""
    folder = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(7)
    for stem_img, stem_lab, n in (("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 40),
                                  ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 20)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        write_idx(folder / (stem_img + ".gz"), images, True)
        write_idx(folder / stem_lab, (np.arange(n) % 10).astype(np.uint8), False)
    return folder


# Small sizes for every registered dataset; a new entry fails here until it is added.
def small(name: str, fake: Path) -> dict:
    sizes = {"n_train": 40, "n_test": 20}
    extra = {"mnist": {"path": str(fake)}, "fashion_mnist": {"path": str(fake)}}
    return {**sizes, **extra.get(name, {})}


def test_small_sizes_cover_the_registry():
    assert set(D.DATASETS) == {"circles", "moons", "spirals", "xor", "gaussian_teacher",
                               "linear_teacher", "digits", "mnist1d", "fashion_mnist", "mnist"}


# --- registry: every dataset --------------------------------------------------------------------

@pytest.mark.parametrize("name", list(D.DATASETS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_dataset_loads_with_shapes_dtypes_labels_and_standardization(name, dtype, fake_mnist):
    ds = D.load(name, np.random.default_rng(0), dtype=dtype, **small(name, fake_mnist))
    assert ds.name == name
    assert ds.x_train.shape == (40, ds.input_dim) and ds.x_test.shape == (20, ds.input_dim)
    assert ds.x_train.dtype == dtype and ds.x_test.dtype == dtype
    assert ds.params["n_train"] == 40 and ds.params["dtype"] == np.dtype(dtype).name
    if ds.task == "classification":
        assert ds.n_classes >= 2 and ds.output_dim == ds.n_classes
        for y in (ds.y_train, ds.y_test):
            assert y.dtype == np.int64 and y.shape == (len(y),)
            assert y.min() >= 0 and y.max() < ds.n_classes
    else:
        assert ds.n_classes == 0
        assert ds.y_train.dtype == dtype and ds.y_train.shape == (40, ds.output_dim)
    x = ds.x_train.astype(np.float64)
    tol = TOL64 if dtype == np.float64 else TOL32
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=tol)
    const = ds.x_scale == 1.0  # constant on train (or std exactly 1): must be 0 or unit std
    std = x.std(axis=0)
    np.testing.assert_allclose(std[~const], 1.0, atol=tol)
    assert np.all((std[const] == 0) | (np.abs(std[const] - 1) < tol))
    assert not ds.x_train.flags.writeable


@pytest.mark.parametrize("name", list(D.DATASETS))
def test_same_seed_same_bytes_other_seed_other_data_global_state_untouched(name, fake_mnist):
    kw = small(name, fake_mnist)
    # Warm up first: importing sklearn.datasets imports rich, whose Style draws one link id
    # from Python's global ``random`` at import time. The draws themselves must touch neither.
    D.load(name, np.random.default_rng(0), **kw)
    np_state, py_state = np.random.get_state(), random.getstate()
    a = D.load(name, np.random.default_rng(123), **kw)
    b = D.load(name, np.random.default_rng(123), **kw)
    c = D.load(name, np.random.default_rng(124), **kw)
    after = np.random.get_state()
    assert after[0] == np_state[0] and after[2:] == np_state[2:]
    assert np.array_equal(after[1], np_state[1])
    assert random.getstate() == py_state
    for f in ("x_train", "y_train", "x_test", "y_test"):
        assert getattr(a, f).tobytes() == getattr(b, f).tobytes(), f
    assert a.x_train.tobytes() != c.x_train.tobytes()


@pytest.mark.parametrize("name", [n for n in D.DATASETS if n != "mnist1d"])
def test_training_split_does_not_depend_on_n_test(name, fake_mnist):
    kw = small(name, fake_mnist)
    a = D.load(name, np.random.default_rng(5), standardize=False, **kw)
    b = D.load(name, np.random.default_rng(5), standardize=False, **{**kw, "n_test": 7})
    assert b.n_test == 7
    assert a.x_train.tobytes() == b.x_train.tobytes() and a.y_train.tobytes() == b.y_train.tobytes()


def test_dataset_pickles_round_trip():
    ds = D.load("linear_teacher", np.random.default_rng(1), n_train=30, n_test=10, input_dim=4)
    back = pickle.loads(pickle.dumps(ds))
    assert type(back) is D.Dataset and back.params == ds.params and back.name == ds.name
    for f in ("x_train", "y_train", "x_test", "y_test", "x_mean", "x_scale"):
        np.testing.assert_array_equal(getattr(back, f), getattr(ds, f))
    np.testing.assert_array_equal(back.info["T"], ds.info["T"])


def test_transform_inputs_maps_raw_points_like_the_training_split():
    raw = D.load("moons", np.random.default_rng(3), standardize=False, n_train=50, n_test=10)
    std = D.load("moons", np.random.default_rng(3), n_train=50, n_test=10)
    assert std.plot_2d and std.standardized and not raw.standardized
    np.testing.assert_array_equal(std.transform_inputs(raw.x_train), std.x_train)
    np.testing.assert_array_equal(std.transform_inputs(raw.x_test), std.x_test)
    np.testing.assert_allclose(std.x_mean, raw.x_train.mean(axis=0), rtol=0, atol=1e-15)


def test_plot_2d_flag_and_listing_rows():
    flags = {n: D.DATASETS[n].plot_2d for n in D.DATASETS}
    assert {n for n, f in flags.items() if f} == {"circles", "moons", "spirals", "xor"}
    rows = D.describe()
    assert [r["name"] for r in rows] == list(D.DATASETS)
    circles = rows[0]
    assert circles["input_dim"] == 2
    assert "noise=0.05" in circles["params"] and "factor=0.8" in circles["params"]
    p = {r["param"]: r for r in D.parameters("linear_teacher")}
    assert p["sv_min"]["default"] == 1.0 and p["sv_max"]["default"] == 3.0
    assert p["n_train"]["default"] == 1000


# --- known properties ----------------------------------------------------------------------

@pytest.mark.parametrize("factor", [0.8, 0.5])
def test_circles_radii_before_standardization(factor):
    ds = D.load("circles", np.random.default_rng(0), standardize=False, noise=0.0, factor=factor,
                n_train=60, n_test=20)
    r = np.linalg.norm(ds.x_train, axis=1)
    np.testing.assert_allclose(r[ds.y_train == 0], 1.0, atol=1e-12)      # outer circle
    np.testing.assert_allclose(r[ds.y_train == 1], factor, atol=1e-12)   # inner circle
    assert np.bincount(ds.y_train).tolist() == [30, 30]
    assert D.load("circles", np.random.default_rng(0)).params["noise"] == 0.05  # notebook default


def test_xor_labels_follow_the_sign_rule_on_noiseless_data():
    ds = D.load("xor", np.random.default_rng(2), standardize=False, noise=0.0, n_train=500,
                n_test=50)
    x = ds.x_train
    assert np.all(np.abs(x) <= 1.0)
    np.testing.assert_array_equal(ds.y_train, (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(int))
    assert 0.4 < ds.y_train.mean() < 0.6


def test_spirals_k_arms_balanced():
    ds = D.load("spirals", np.random.default_rng(0), classes=3, noise=0.0, standardize=False,
                n_train=90, n_test=30)
    assert ds.n_classes == 3 and np.bincount(ds.y_train).tolist() == [30, 30, 30]
    assert np.all(np.linalg.norm(ds.x_train, axis=1) <= 1.0)


@pytest.mark.parametrize("dims", [(10, 10), (7, 4), (3, 6)])
def test_linear_teacher_singular_values_are_the_requested_spread(dims):
    d_in, d_out = dims
    ds = D.load("linear_teacher", np.random.default_rng(4), standardize=False, input_dim=d_in,
                output_dim=d_out, sv_min=0.5, sv_max=2.5, n_train=30, n_test=10)
    t = ds.info["T"]
    assert t.shape == (d_in, d_out)
    want = np.linspace(2.5, 0.5, min(dims))
    np.testing.assert_allclose(np.linalg.svd(t, compute_uv=False), want, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ds.y_train, ds.x_train @ t, rtol=0, atol=1e-12)  # noise 0
    noisy = D.load("linear_teacher", np.random.default_rng(4), standardize=False, input_dim=d_in,
                   output_dim=d_out, noise=0.1, n_train=2000, n_test=10)
    resid = noisy.y_train - noisy.x_train @ noisy.info["T"]
    assert 0.09 < resid.std() < 0.11  # 2000*d_out draws: std error < 1%


def test_gaussian_teacher_targets_are_the_teachers_output():
    ds = D.load("gaussian_teacher", np.random.default_rng(8), standardize=False, input_dim=5,
                depth=3, width=16, output_dim=2, activation="relu", n_train=30, n_test=10)
    w = ds.info["weights"]
    assert [m.shape for m in w] == [(5, 16), (16, 16), (16, 16), (16, 2)]
    h = ds.x_train
    for m in w[:-1]:
        h = np.maximum(h @ m, 0)
    np.testing.assert_allclose(ds.y_train, h @ w[-1], rtol=1e-12, atol=1e-12)


def test_digits_pixel_range_class_counts_and_relabelled_subset():
    from sklearn.datasets import load_digits

    x_ref, y_ref = load_digits(return_X_y=True)
    ds = D.load("digits", np.random.default_rng(0), standardize=False)
    assert (ds.n_train, ds.n_test) == (1297, 500)
    x = np.concatenate([ds.x_train, ds.x_test])
    assert x.min() == 0.0 and x.max() == 1.0 and np.all(x * 16 == np.round(x * 16))
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_test]), minlength=10)
    np.testing.assert_array_equal(counts, np.bincount(y_ref))
    sub = D.load("digits", np.random.default_rng(0), standardize=False, classes=[3, 8])
    assert sub.n_classes == 2 and sub.n_train + sub.n_test == np.isin(y_ref, [3, 8]).sum()
    # each training row is an original image whose digit is classes[label]
    lookup = {row.tobytes(): t for row, t in zip(x_ref / 16.0, y_ref)}
    digits = [lookup[row.tobytes()] for row in sub.x_train]
    np.testing.assert_array_equal(np.array([3, 8])[sub.y_train], digits)


def test_mnist1d_shape_classes_and_subset():
    ds = D.load("mnist1d", np.random.default_rng(0), n_train=200, n_test=50)
    assert ds.x_train.shape == (200, 40) and ds.n_classes == 10
    assert set(ds.y_train.tolist()) == set(range(10))
    sub = D.load("mnist1d", np.random.default_rng(0), n_train=40, n_test=10, classes=[1, 7])
    assert sub.n_classes == 2 and set(sub.y_train.tolist()) == {0, 1}
    assert D.DATASETS["mnist1d"].n_train == 4000 and D.DATASETS["mnist1d"].n_test == 1000


# --- the IDX parser ------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype,shape", [("u1", (3, 4, 5)), ("i1", (6,)), (">i2", (2, 3)),
                                         (">i4", (4, 2)), (">f4", (5,)), (">f8", (2, 2, 2))])
def test_read_idx_round_trips_a_file_the_test_wrote(tmp_path, gz, dtype, shape):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal(shape) * 100).astype(np.dtype(dtype).newbyteorder("="))
    back = IDX.read_idx(write_idx(tmp_path / "a.idx", arr, gz))
    assert back.shape == shape and back.dtype.kind == arr.dtype.kind and back.dtype.isnative
    np.testing.assert_array_equal(back, arr)


@pytest.mark.parametrize("raw,why", [
    (b"\x01\x00\x08\x01\x00\x00\x00\x02ab", "not an IDX"),          # bad magic
    (b"\x00\x00\x07\x01\x00\x00\x00\x02ab", "not an IDX"),          # unknown type byte
    (b"\x00\x00\x08\x03\x00\x00", "truncated"),                     # header cut short
    (b"\x00\x00\x08\x01\x00\x00\x00\x05ab", "header says"),          # 2 bytes, header says 5
    (b"", "not an IDX"),
])
def test_read_idx_rejects_a_corrupt_file_with_one_line(tmp_path, raw, why):
    p = tmp_path / "bad-idx"
    p.write_bytes(raw)
    with pytest.raises(ConfigError) as e:
        IDX.read_idx(p)
    assert e.value.field == "data.path" and why in str(e.value) and "\n" not in str(e.value)


@pytest.fixture(scope="module")
def fashion():
    if not (FASHION / "train-labels-idx1-ubyte.gz").is_file():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    return {s: [IDX.read_idx(FASHION / (stem + ".gz")) for stem in IDX.FILES[s]] for s in IDX.FILES}


def test_real_fashion_mnist_files(fashion):
    (tr_x, tr_y), (te_x, te_y) = fashion["train"], fashion["test"]
    assert tr_x.shape == (60000, 28, 28) and te_x.shape == (10000, 28, 28)
    assert tr_x.dtype == np.uint8
    assert tr_y.shape == (60000,) and te_y.shape == (10000,)
    assert set(np.unique(tr_y)) == set(range(10)) and np.all(np.bincount(tr_y) == 6000)
    with gzip.open(FASHION / "train-labels-idx1-ubyte.gz", "rb") as f:  # an independent read
        head = f.read(9)
    assert struct.unpack(">I", head[:4])[0] == 0x801 and struct.unpack(">I", head[4:8])[0] == 60000
    assert tr_y[0] == head[8] == 9  # the first training image is an ankle boot


def test_fashion_mnist_loads_from_the_debian_path(fashion):
    ds = D.load("fashion_mnist", np.random.default_rng(0), n_train=300, n_test=100,
                standardize=False, classes=[0, 9])
    assert ds.x_train.shape == (300, 784) and ds.n_classes == 2
    assert ds.params["path"] == str(FASHION)
    assert ds.x_train.min() >= 0 and ds.x_train.max() <= 1 and set(ds.y_train.tolist()) == {0, 1}


def test_idx_loader_uses_every_image_by_default_and_relabels(fake_mnist):
    ds = D.load("mnist", np.random.default_rng(0), path=str(fake_mnist), classes=[2, 5],
                standardize=False)
    assert (ds.n_train, ds.n_test) == (8, 4)  # 40 and 20 images with labels i % 10
    assert np.bincount(ds.y_train).tolist() == [4, 4]
    with pytest.raises(ConfigError) as e:
        D.load("mnist", np.random.default_rng(0), path=str(fake_mnist), n_train=41)
    assert e.value.field == "data.n_train" and "at most 40" in str(e.value)


# --- bad input ---------------------------------------------------------------------------------

def bad(name="circles", **kw) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        D.load(name, np.random.default_rng(0), **kw)
    assert "\n" not in str(e.value)
    return e.value


def test_unknown_dataset_names_the_field_choices_and_a_close_match():
    e = bad("circle")
    assert e.field == "data.name" and "did you mean 'circles'" in str(e) and "mnist1d" in str(e)


def test_unknown_parameter_gets_a_did_you_mean():
    e = bad("circles", nosie=0.1)
    assert e.field == "data.nosie" and "did you mean 'noise'" in str(e) and "factor" in str(e)
    e = bad("gaussian_teacher", activation="tahn")
    assert e.field == "data.activation" and "did you mean 'tanh'" in str(e)


@pytest.mark.parametrize("noise", [-0.1, float("nan"), float("inf"), "0.1", True, None])
def test_bad_noise(noise):
    e = bad(noise=noise)
    assert e.field == "data.noise" and "[0, inf)" in str(e)


@pytest.mark.parametrize("key,value", [("n_train", 0), ("n_train", -3), ("n_train", 2.5),
                                       ("n_test", 0), ("n_train", True)])
def test_bad_sizes(key, value):
    e = bad(**{key: value})
    assert e.field == f"data.{key}" and "integer" in str(e)


@pytest.mark.parametrize("classes", [[0, 10], [1, 1], [3], "abc", [0.5, 1], []])
def test_classes_not_a_subset(classes):
    e = bad("digits", classes=classes)
    assert e.field == "data.classes" and "distinct integers in [0, 9]" in str(e)


def test_other_bad_values():
    assert bad(factor=1.0).field == "data.factor"
    assert bad("spirals", classes=1).field == "data.classes"
    assert bad("linear_teacher", sv_min=4.0).field == "data.sv_min"
    assert bad(dtype="float16").field == "data.dtype"
    assert bad(standardize="yes").field == "data.standardize"
    assert bad("digits", n_train=1700, n_test=200).field == "data.n_train"
    with pytest.raises(TypeError):
        D.load("circles", 0)


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
def test_missing_idx_path_is_one_line_naming_data_path(tmp_path, name):
    e = bad(name, path=str(tmp_path / "nowhere"))
    assert e.field == "data.path" and "not found" in str(e) and str(tmp_path / "nowhere") in str(e)
    if name == "fashion_mnist":
        assert "install Debian's dataset-fashion-mnist or set data.path" in str(e)
