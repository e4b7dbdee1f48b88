"""Activation functions: each one a frozen record with its derivative, gains and ranges.

Every ``fn``/``deriv`` takes an array and an optional ``out`` buffer and returns the result
array; dtypes are preserved. ``fn`` may be evaluated in place (``out`` may be the input itself);
``deriv`` needs an ``out`` distinct from its argument (several derivatives read their argument
after writing the first partial result).

``deriv`` is evaluated on the activation's *output* ``h`` when ``deriv_from == "output"``
(tanh: 1 - h**2) and on the pre-activation ``z`` otherwise. The backward pass uses this to
keep one array per layer instead of two.

Gains
-----
``torch_gain`` is ``torch.nn.init.calculate_gain`` where PyTorch defines one (linear and
sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + a**2)), selu 3/4) and ``None``
elsewhere. ``variance_gain`` is computed numerically for every activation as
``1 / sqrt(E[act(z)**2])`` with z ~ N(0, 1): the weight scale that keeps the second moment of a
unit-variance pre-activation through one layer (Kumar 2017; for ReLU it equals sqrt(2), He et
al. 2015). ``recommended_gain`` is the torch gain where it exists, else the variance gain; it is
what ``gain: auto`` resolves to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np

from initlab.engine.gaussian import gaussian_expectation
from initlab.errors import ConfigError, lookup

ArrayFn = Callable[..., np.ndarray]

# SELU constants, Klambauer et al. 2017 ("Self-Normalizing Neural Networks"), eq. 14.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
# LeCun et al. 1998 "Efficient BackProp", section 4.4: f(x) = 1.7159 tanh(2x/3), f(+-1) = +-1.
LECUN_A = 1.7159
LECUN_B = 2.0 / 3.0


@dataclass(frozen=True)
class Activation:
    """One activation function and everything initlab needs to know about it."""

    name: str
    fn: ArrayFn = field(repr=False)
    deriv: ArrayFn = field(repr=False)
    deriv_from: str  # "output" (h) or "input" (z)
    formula: str
    source: str
    hist_range: tuple[float, float]
    saturation: tuple[float, float] | None = None  # saturated if h <= lo or h >= hi
    torch_gain: float | None = None
    params: dict = field(default_factory=dict)
    kinks: tuple[float, ...] = ()  # points other than 0 where fn or deriv has a kink or a jump

    def __reduce__(self):
        """Pickled as its name and parameters, rebuilt by :func:`get` (``fn`` may be a closure)."""
        return (_rebuild, (self.name, dict(self.params)))

    @cached_property
    def variance_gain(self) -> float:
        """``1 / sqrt(E[act(z)^2])``, z ~ N(0, 1), by the Gaussian quadrature of
        :mod:`initlab.engine.gaussian` (kinks on panel edges; accurate to ~1e-12)."""
        second = gaussian_expectation(self._square, 1.0, self.kinks)
        return 1.0 / math.sqrt(float(second))

    def _square(self, x: np.ndarray) -> np.ndarray:
        h = self.fn(x)
        return h * h

    @property
    def recommended_gain(self) -> float:
        """torch's gain where it defines one, else :attr:`variance_gain`."""
        return self.torch_gain if self.torch_gain is not None else self.variance_gain

    @property
    def spec(self) -> dict | str:
        """The config form: the bare name, or ``{name: ..., **params}``."""
        return {"name": self.name, **self.params} if self.params else self.name

    def label(self) -> str:
        if not self.params:
            return self.name
        return self.name + "(" + ", ".join(f"{k}={v:g}" for k, v in self.params.items()) + ")"


def _out(x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    return np.empty_like(x) if out is None else out


# --- the functions -------------------------------------------------------------------------

def _linear(x, out=None):
    if out is None:
        return x.copy()
    if out is not x:
        np.copyto(out, x)
    return out


def _ones(x, out=None):
    out = _out(x, out)
    out.fill(1.0)
    return out


def _tanh(x, out=None):
    return np.tanh(x, out=_out(x, out))


def _tanh_deriv_h(h, out=None):  # 1 - h^2
    out = np.multiply(h, h, out=_out(h, out))
    np.subtract(1.0, out, out=out)
    return out


def _sigmoid(x, out=None):
    # With e = exp(-|x|) (never overflows): 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0,
    # so every finite x keeps its relative accuracy: (1 + tanh(x / 2)) / 2 is exactly 0 below
    # about -37 (float64) or -17 (float32), which counted zeros and dead units that are not there.
    neg = x < 0
    e = np.exp(-np.abs(x))
    out = np.add(e, 1.0, out=_out(x, out))
    return np.divide(np.where(neg, e, e.dtype.type(1)), out, out=out)


def _sigmoid_deriv_h(h, out=None):  # h (1 - h)
    out = np.subtract(1.0, h, out=_out(h, out))
    out *= h
    return out


def _relu(x, out=None):
    return np.maximum(x, 0.0, out=_out(x, out))


def _positive(h, out=None):  # 1 where h > 0 else 0
    return np.greater(h, 0.0, out=_out(h, out), casting="unsafe")


def make_leaky_relu(negative_slope: float = 0.01) -> Activation:
    a = float(negative_slope)
    if not math.isfinite(a):
        raise ConfigError("negative_slope", f"must be a finite number, got {negative_slope!r}")

    def fn(x, out=None):
        out = _out(x, out)
        if a >= 0:  # max(x, a x) for 0 <= a <= 1, min for a > 1
            tmp = np.multiply(x, a)
            return (np.maximum if a <= 1 else np.minimum)(x, tmp, out=out)
        neg = x < 0
        np.copyto(out, x)
        out[neg] *= a
        return out

    def deriv(y, out=None):
        out = _out(y, out)
        pos = y > 0  # h > 0 iff z > 0 when a >= 0; for a < 0 we are given z
        np.copyto(out, a)
        out[pos] = 1.0
        return out

    return Activation(
        "leaky_relu", fn, deriv, "output" if a >= 0 else "input",
        formula="max(x, 0) + a min(x, 0)", source="Maas et al. 2013",
        hist_range=(min(-1.0, -4.0 * a), 4.0),
        torch_gain=math.sqrt(2.0 / (1.0 + a * a)), params={"negative_slope": a},
    )


def make_elu(alpha: float = 1.0) -> Activation:
    al = float(alpha)
    if not (math.isfinite(al) and al > 0):
        raise ConfigError("alpha", f"must be a positive number, got {alpha!r}")

    def fn(x, out=None):
        out = _out(x, out)
        neg = x < 0
        np.copyto(out, x)
        out[neg] = al * np.expm1(x[neg])
        return out

    def deriv(h, out=None):  # z > 0: 1, else alpha e^z = h + alpha
        out = _out(h, out)
        np.add(h, al, out=out)
        out[h > 0] = 1.0
        return out

    return Activation(
        "elu", fn, deriv, "output", formula="x if x > 0 else alpha (e^x - 1)",
        source="Clevert et al. 2016", hist_range=(-al, 4.0), params={"alpha": al},
    )


def _selu(x, out=None):
    out = _out(x, out)
    neg = x < 0
    np.copyto(out, x)
    out[neg] = SELU_ALPHA * np.expm1(x[neg])
    out *= SELU_SCALE
    return out


def _selu_deriv_h(h, out=None):  # z > 0: scale, else scale alpha e^z = h + scale alpha
    out = _out(h, out)
    np.add(h, SELU_SCALE * SELU_ALPHA, out=out)
    out[h > 0] = SELU_SCALE
    return out


def _ndtr(x):
    from scipy.special import ndtr  # exact Gaussian CDF; imported on first use only

    return ndtr(x)


def _gelu(x, out=None):
    out = _out(x, out)
    np.multiply(x, _ndtr(x), out=out)
    return out


def _gelu_deriv(z, out=None):  # Phi(z) + z phi(z)
    out = _out(z, out)
    phi = np.exp(-0.5 * z * z) * (1.0 / math.sqrt(2.0 * math.pi))
    np.multiply(z, phi, out=out)
    out += _ndtr(z)
    return out


def _silu(x, out=None):
    s = _sigmoid(x)
    return np.multiply(x, s, out=_out(x, out))


def _silu_deriv(z, out=None):  # s (1 + z (1 - s))
    s = _sigmoid(z)
    out = np.subtract(1.0, s, out=_out(z, out))
    out *= z
    out += 1.0
    out *= s
    return out


def _mish(x, out=None):
    sp = np.logaddexp(0.0, x)
    np.tanh(sp, out=sp)
    return np.multiply(x, sp, out=_out(x, out))


def _mish_deriv(z, out=None):  # tanh(sp) + z sech^2(sp) sigmoid(z), sp = softplus(z)
    t = np.tanh(np.logaddexp(0.0, z))
    out = np.multiply(t, t, out=_out(z, out))
    np.subtract(1.0, out, out=out)
    out *= z
    out *= _sigmoid(z)
    out += t
    return out


def make_softplus(beta: float = 1.0) -> Activation:
    b = float(beta)
    if not (math.isfinite(b) and b > 0):
        raise ConfigError("beta", f"must be a positive number, got {beta!r}")

    def fn(x, out=None):
        out = np.multiply(x, b, out=_out(x, out))
        np.logaddexp(0.0, out, out=out)
        out *= 1.0 / b
        return out

    def deriv(h, out=None):  # sigmoid(b z) = 1 - e^(-b h)
        out = np.multiply(h, -b, out=_out(h, out))
        np.expm1(out, out=out)
        np.negative(out, out=out)
        return out

    return Activation(
        "softplus", fn, deriv, "output", formula="log(1 + e^(beta x)) / beta",
        source="Dugas et al. 2001", hist_range=(0.0, 4.0), params={"beta": b},
    )


def make_hardtanh(min_val: float = -1.0, max_val: float = 1.0) -> Activation:
    lo, hi = float(min_val), float(max_val)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ConfigError("min_val", f"needs finite min_val < max_val, got {min_val!r}, {max_val!r}")

    def fn(x, out=None):
        return np.clip(x, lo, hi, out=_out(x, out))

    def deriv(h, out=None):  # 1 strictly inside (lo, hi), 0 where clipped
        out = _out(h, out)
        np.logical_and(h > lo, h < hi, out=out, casting="unsafe")
        return out

    mid, half = 0.5 * lo + 0.5 * hi, 0.5 * hi - 0.5 * lo  # no overflow at +-1e308
    if not mid - 0.99 * half < mid + 0.99 * half:
        raise ConfigError("max_val", f"must exceed min_val by more than float64 resolves (the saturation "
                                     f"band lies 1% inside [min_val, max_val]), got {min_val!r}, {max_val!r}")
    return Activation(
        "hardtanh", fn, deriv, "output", formula="clip(x, min_val, max_val)",
        source="Collobert 2004", hist_range=(lo, hi),
        saturation=(mid - 0.99 * half, mid + 0.99 * half), params={"min_val": lo, "max_val": hi},
        kinks=(lo, hi),
    )


def _lecun_tanh(x, out=None):
    out = np.multiply(x, LECUN_B, out=_out(x, out))
    np.tanh(out, out=out)
    out *= LECUN_A
    return out


def _lecun_tanh_deriv_h(h, out=None):  # a b (1 - (h / a)^2) = b (a - h^2 / a)
    out = np.multiply(h, h, out=_out(h, out))
    out *= -LECUN_B / LECUN_A
    out += LECUN_A * LECUN_B
    return out


def _fixed(act: Activation) -> Callable[[], Activation]:
    def factory() -> Activation:
        return act

    factory.__doc__ = act.formula
    return factory


LINEAR = Activation("linear", _linear, _ones, "output", "x", "identity", (-4.0, 4.0), torch_gain=1.0)
TANH = Activation("tanh", _tanh, _tanh_deriv_h, "output", "tanh(x)", "LeCun et al. 1998",
                  (-1.0, 1.0), saturation=(-0.99, 0.99), torch_gain=5.0 / 3.0)
SIGMOID = Activation("sigmoid", _sigmoid, _sigmoid_deriv_h, "output", "1 / (1 + e^-x)",
                     "Rumelhart et al. 1986", (0.0, 1.0), saturation=(0.01, 0.99), torch_gain=1.0)
RELU = Activation("relu", _relu, _positive, "output", "max(x, 0)", "Nair & Hinton 2010",
                  (0.0, 4.0), torch_gain=math.sqrt(2.0))
SELU = Activation("selu", _selu, _selu_deriv_h, "output",
                  "scale (x if x > 0 else alpha (e^x - 1)), scale 1.0507, alpha 1.6733",
                  "Klambauer et al. 2017", (-SELU_SCALE * SELU_ALPHA, 4.0), torch_gain=0.75)
GELU = Activation("gelu", _gelu, _gelu_deriv, "input", "x Phi(x), Phi the N(0,1) CDF (exact, erf)",
                  "Hendrycks & Gimpel 2016", (-0.5, 4.0))
SILU = Activation("silu", _silu, _silu_deriv, "input", "x sigmoid(x)",
                  "Elfwing et al. 2018; Ramachandran et al. 2017 (swish)", (-0.5, 4.0))
MISH = Activation("mish", _mish, _mish_deriv, "input", "x tanh(softplus(x))", "Misra 2019",
                  (-0.5, 4.0))
LECUN_TANH = Activation("lecun_tanh", _lecun_tanh, _lecun_tanh_deriv_h, "output",
                        "1.7159 tanh(2x / 3)", "LeCun et al. 1998, Efficient BackProp",
                        (-LECUN_A, LECUN_A), saturation=(-0.99 * LECUN_A, 0.99 * LECUN_A))

#: name -> factory(**params) -> Activation. Aliases are plain entries.
ACTIVATIONS: dict[str, Callable[..., Activation]] = {
    "linear": _fixed(LINEAR),
    "tanh": _fixed(TANH),
    "sigmoid": _fixed(SIGMOID),
    "relu": _fixed(RELU),
    "leaky_relu": make_leaky_relu,
    "elu": make_elu,
    "selu": _fixed(SELU),
    "gelu": _fixed(GELU),
    "silu": _fixed(SILU),
    "swish": _fixed(SILU),
    "mish": _fixed(MISH),
    "softplus": make_softplus,
    "hardtanh": make_hardtanh,
    "lecun_tanh": _fixed(LECUN_TANH),
}

ALIASES = {"swish": "silu"}


def get(name: str, **params) -> Activation:
    """The activation ``name`` with ``params``; a :class:`ConfigError` names valid choices."""
    factory = lookup(ACTIVATIONS, name, "activation")
    from initlab.engine._params import call_with_params

    return call_with_params(factory, params, what=f"activation '{name}'")


def _rebuild(name: str, params: dict) -> Activation:
    return get(name, **params)
