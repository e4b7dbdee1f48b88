"""MNIST and Fashion-MNIST read from their IDX files, parsed here with numpy.

The IDX format (LeCun, Cortes & Burges, "The MNIST database", yann.lecun.com/exdb/mnist):
two zero bytes, a type byte (0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float,
0x0E double), a byte giving the number of dimensions, then each dimension as a big-endian
uint32, then the data in C order, big-endian. Files may be gzip-compressed (detected by the
gzip magic bytes, not by the name).

Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, "Fashion-MNIST: a Novel Image Dataset for
Benchmarking Machine Learning Algorithms") uses the same four file names as MNIST. Debian's
``dataset-fashion-mnist`` package installs them gzipped in ``/usr/share/datasets/fashion-mnist``
(the default ``path``). Debian ships no MNIST package; ``mnist`` defaults to the parallel
``/usr/share/datasets/mnist``: put the four MNIST files there (gzipped or not) or set ``path``.

Images are flattened to 784 values and divided by 255 (so [0, 1] before standardization). The
training split is drawn without replacement from the 60000 training images by the ``train``
stream and the test split from the 10000 test images by the ``test`` stream (a permutation's
prefix: a larger ``n_train`` extends the smaller one). Unset sizes take every image of the
selected classes.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .base import CLASSIFICATION, Draw, Spec, class_subset, directory
from .images import relabel

FIELD = "data.path"
IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_MNIST_PATH = "/usr/share/datasets/fashion-mnist"  # Debian: dataset-fashion-mnist
MNIST_PATH = "/usr/share/datasets/mnist"


def parse_idx(buf: bytes, name: str = "<bytes>") -> np.ndarray:
    """The array stored in the (uncompressed) IDX bytes ``buf``, in native byte order.

    A bad magic, a truncated header or a data size that disagrees with the dimensions raises
    :class:`ConfigError` at ``data.path`` naming ``name``.
    """
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] not in IDX_TYPES or buf[3] == 0:
        raise ConfigError(FIELD, f"{name}: not an IDX file (magic {buf[:4].hex() or 'empty'}; "
                                 f"expected 0000 + type byte 08/09/0b/0c/0d/0e + ndim >= 1)")
    ndim = buf[3]
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise ConfigError(FIELD, f"{name}: IDX header truncated ({len(buf)} bytes, {ndim} dims)")
    dims = struct.unpack(f">{ndim}I", buf[4:header])
    dtype = np.dtype(IDX_TYPES[buf[2]])
    count = int(np.prod(dims, dtype=np.int64))
    if len(buf) - header != count * dtype.itemsize:
        raise ConfigError(FIELD, f"{name}: IDX data is {len(buf) - header} bytes but the header "
                                 f"says {'x'.join(map(str, dims))} of {dtype.itemsize} bytes")
    arr = np.frombuffer(buf, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # a native, writable copy


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array in the IDX file ``path``, gzip-compressed or not (see :func:`parse_idx`)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(FIELD, f"IDX file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(FIELD, f"cannot read {path}: {exc.strerror or exc}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ConfigError(FIELD, f"{path}: corrupt gzip data ({exc})") from None
    return parse_idx(raw, str(path))


def find_file(folder: Path, stem: str, what: str, hint: str) -> Path:
    """``folder/stem`` or ``folder/stem.gz``, else a one-line :class:`ConfigError`."""
    for p in (folder / stem, folder / (stem + ".gz")):
        if p.is_file():
            return p
    raise ConfigError(FIELD, f"{what} files not found: {folder / stem}[.gz]; {hint}")


def read_split(folder: str, split: str, what: str, hint: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, rows*cols)`` uint8 and labels ``(n,)`` int64 of one split, checked."""
    folder = Path(folder).expanduser()
    img_path, lab_path = (find_file(folder, stem, what, hint) for stem in FILES[split])
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ConfigError(FIELD, f"{img_path}: expected 3-d ubyte images, got {images.ndim}-d "
                                 f"{images.dtype}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ConfigError(FIELD, f"{lab_path}: expected {len(images)} labels, "
                                 f"got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ConfigError(FIELD, f"{lab_path}: labels outside 0..9")
    return images.reshape(len(images), -1), labels.astype(np.int64)


def _subsample(rng, images, labels, classes, n, key, what):
    keep, y = relabel(labels, classes)
    pool = np.flatnonzero(keep)
    if n is None:
        n = len(pool)
    if n > len(pool):
        of = "" if classes is None else f" of classes {classes}"
        raise ConfigError(f"data.{key}", f"must be at most {len(pool)} (the {what} images{of}), "
                                         f"got {n}")
    idx = pool[rng.permutation(len(pool))[:n]]
    return images[idx].astype(np.float64) / 255.0, y[idx], n


def _generate(streams, n_train, n_test, *, path, classes, what, hint) -> Draw:
    # Both splits are read (and checked) before any sampling, so a missing test file is
    # reported whatever the sizes.
    tr_img, tr_lab = read_split(path, "train", what, hint)
    te_img, te_lab = read_split(path, "test", what, hint)
    x_tr, y_tr, n_train = _subsample(streams.train, tr_img, tr_lab, classes, n_train, "n_train",
                                     f"{len(tr_lab)} {what} training")
    x_te, y_te, n_test = _subsample(streams.test, te_img, te_lab, classes, n_test, "n_test",
                                    f"{len(te_lab)} {what} test")
    return Draw(x_tr, y_tr, x_te, y_te, n_classes=10 if classes is None else len(classes),
                resolved={"n_train": n_train, "n_test": n_test})


def generate_fashion_mnist(streams, n_train, n_test, *, path, classes) -> Draw:
    """Fashion-MNIST (Xiao et al. 2017) from the IDX files in ``path``."""
    return _generate(streams, n_train, n_test, path=path, classes=classes, what="fashion_mnist",
                     hint="install Debian's dataset-fashion-mnist or set data.path")


def generate_mnist(streams, n_train, n_test, *, path, classes) -> Draw:
    """MNIST (LeCun et al. 1998) from the IDX files in ``path``."""
    return _generate(streams, n_train, n_test, path=path, classes=classes, what="mnist",
                     hint="put the four MNIST IDX files (gzipped or not) there or set data.path")


_CLASSES = "subset of classes to keep, relabelled 0..k-1 in the order given"

SPECS = [
    Spec("fashion_mnist", CLASSIFICATION, generate_fashion_mnist,
         {"path": directory(FASHION_MNIST_PATH, help="folder of the IDX files"),
          "classes": class_subset(10, help=_CLASSES)},
         n_train=60000, n_test=10000, input_dim=784, n_classes=10, sized_by_pool=True,
         source="Xiao et al. 2017 (Debian dataset-fashion-mnist), IDX files",
         summary="28x28 clothing images, pixels / 255"),
    Spec("mnist", CLASSIFICATION, generate_mnist,
         {"path": directory(MNIST_PATH, help="folder of the IDX files"),
          "classes": class_subset(10, help=_CLASSES)},
         n_train=60000, n_test=10000, input_dim=784, n_classes=10, sized_by_pool=True,
         source="LeCun et al. 1998, IDX files", summary="28x28 handwritten digits, pixels / 255"),
]
