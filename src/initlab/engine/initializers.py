"""Weight initializers: one variance-scaling core, named specializations, ``INITIALIZERS``.

Layout
------
A dense weight is an array of shape ``(fan_in, fan_out)`` used as ``x @ W`` (JAX/Flax and Keras
layout). PyTorch stores the transpose, ``(fan_out, fan_in)`` used as ``x @ W.T``: our ``W`` is
torch's ``weight.T``. Fans (:func:`compute_fans`) follow JAX: a 1-D shape ``(n,)`` has
``fan_in = fan_out = n``; a kernel of shape ``(*receptive, in, out)`` has
``fan_in = in * prod(receptive)`` and ``fan_out = out * prod(receptive)``.

Initializers
------------
Each entry of :data:`INITIALIZERS` is a factory ``name(**params) -> Initializer``. The record
holds a pure sampling function ``sample(rng, shape, dtype)`` that uses only the
``numpy.random.Generator`` it is given, draws directly in the requested dtype (float32 or
float64) and returns exactly that dtype, and ``moments(fan_in, fan_out)``: the exact mean and
variance of one entry.

Names
-----
"normal" always means untruncated; a truncated normal says so. Where the libraries disagree we
follow PyTorch for the paper names (``he_normal``, ``lecun_normal``: untruncated normals, as
``torch.nn.init.kaiming_normal_``) and offer the Keras/JAX versions, which truncate at two
standard deviations and rescale, through ``variance_scaling(distribution="truncated_normal")``
(and ``flax_default``).
"""

from __future__ import annotations

import inspect
import math
import sys
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from initlab.engine import _params, draw
from initlab.errors import ConfigError, lookup, unknown
from initlab.fmt import param

Sample = Callable[[np.random.Generator, tuple, Any], np.ndarray]
Moments = Callable[[int, int], "tuple[float, float] | None"]

# Standard deviation of N(0, 1) truncated to [-2, 2]:
#   sqrt(1 - 4 phi(2) / (2 Phi(2) - 1)) = 0.8796256610342398,
# phi/Phi the standard normal pdf/cdf. Dividing the parent std by it makes the *actual*
# variance of the truncated draw equal to scale / n (the constant Keras and JAX use).
TRUNC2_STD = 0.87962566103423978

MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")
BOUNDS = ("std", "absolute")
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class Initializer:
    """One configured initializer: a pure sampler plus its exact per-entry moments."""

    name: str  # the registry name as the user wrote it ("xavier", "glorot_normal", ...)
    params: dict  # resolved parameters, defaults filled in; plain floats/ints/str
    sample: Sample = field(repr=False, compare=False)  # fn(rng, shape, dtype) -> ndarray
    moments: Moments = field(repr=False, compare=False)  # (fan_in, fan_out) -> (mean, var) | None
    mean_field: bool = False  # zero-mean, (nearly) iid, variance ~ 1/fan: mean-field theory applies

    def __call__(self, rng: np.random.Generator, shape, dtype=np.float64) -> np.ndarray:
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        return self.sample(rng, shape, _dtype(dtype))

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params.items())), self.mean_field))

    def __reduce__(self):
        """Pickled as its name and parameters, rebuilt by :func:`get` (``sample`` is a closure)."""
        return (_rebuild, (self.name, dict(self.params)))

    def label(self) -> str:
        """Name plus the parameters that differ from the defaults: ``normal(std=0.01)``."""
        factory = INITIALIZERS.get(self.name)
        defaults = _params.accepted_params(factory) if factory is not None else {}
        shown = [
            f"{k}={param(v)}"
            for k, v in self.params.items()
            if k not in defaults or defaults[k] is inspect.Parameter.empty or defaults[k] != v
        ]
        return self.name + (f"({', '.join(shown)})" if shown else "")




# --- shapes, fans, parameter checks --------------------------------------------------------

def compute_fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape`` laid out ``(*receptive, in, out)``.

    ``()`` -> (1, 1); ``(n,)`` -> (n, n); ``(in, out)`` -> (in, out); ``(*k, in, out)`` ->
    (in * prod(k), out * prod(k)) (JAX; torch's ``(out, in, *k)`` gives the same numbers).
    """
    shape = tuple(int(d) for d in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ConfigError("dtype", f"must be float32 or float64, got {dtype!r}") from None
    if dt not in DTYPES:
        raise ConfigError("dtype", f"must be float32 or float64, got {dt}")
    return dt


def _shape(shape) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    out = []
    for d in shape:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
            raise ConfigError("shape", f"must be non-negative integers, got {tuple(shape)!r}")
        out.append(int(d))
    return tuple(out)


def _sampler(name: str, ndim: tuple[int, int | None] = (0, None)):
    """Decorate ``fn(rng, shape, dt)``: check shape and dtype, allowed ranks, empty shapes."""
    lo, hi = ndim

    def wrap(fn):
        def sample(rng, shape, dtype=np.float64):
            shape, dt = _shape(shape), _dtype(dtype)
            if len(shape) < lo or (hi is not None and len(shape) > hi):
                want = f"{lo}-D" if lo == hi else f"at least {lo}-D"
                raise ConfigError(None, f"initializer '{name}' needs a {want} weight, "
                                        f"got shape {shape}")
            if math.prod(shape) == 0:
                return np.zeros(shape, dt)
            return fn(rng, shape, dt)

        sample.__name__ = sample.__qualname__ = f"sample_{name}"
        return sample

    return wrap


def _number(param: str, value: object) -> float:
    """``float(value)``; booleans, non-numbers and NaN raise a ConfigError naming ``param``."""
    if isinstance(value, (bool, np.bool_)):
        raise ConfigError(param, f"must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(param, f"must be a number, got {value!r}") from None
    if math.isnan(x):
        raise ConfigError(param, f"must be a number, got {value!r}")
    return x


def _finite(param: str, value: object) -> float:
    x = _number(param, value)
    if not math.isfinite(x):
        raise ConfigError(param, f"must be finite, got {value!r}")
    return x


def _positive(param: str, value: object) -> float:
    x = _finite(param, value)
    if x <= 0:
        raise ConfigError(param, f"must be > 0, got {value!r}")
    return x


def _nonneg(param: str, value: object) -> float:
    x = _finite(param, value)
    if x < 0:
        raise ConfigError(param, f"must be >= 0, got {value!r}")
    return x


# A gain whose square (the variance scale) overflows float64 is refused: sqrt(float max).
MAX_GAIN = math.sqrt(sys.float_info.max)  # 1.34e154


def _gain(value: object) -> float:
    if isinstance(value, str) and value.strip().lower() == "auto":
        raise ConfigError("gain", "must be a positive number, got 'auto' (resolve it first)")
    g = _positive("gain", value)
    if g * g > sys.float_info.max:
        raise ConfigError("gain", f"must be at most {MAX_GAIN:.3g} (its square, the variance scale, must be "
                                  f"finite in float64), got {value!r}")
    return g


def _integer(param: str, value: object) -> int:
    x = _finite(param, value)
    if x != int(x):
        raise ConfigError(param, f"must be an integer, got {value!r}")
    return int(x)


def _choice(param: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise unknown(param, value, choices, field=param)
    return str(value)


def _fan(mode: str, fan_in: int, fan_out: int) -> float:
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    if mode == "fan_avg":
        return 0.5 * (fan_in + fan_out)
    return math.sqrt(fan_in * fan_out)  # fan_geo_avg


# --- drawing primitives (in the target dtype, scaled in place) ------------------------------

def _normal(rng, shape, dt, mean: float, std: float) -> np.ndarray:
    """mean + std z in float64, rounded once to dt (initlab.engine.draw: exact, fast)."""
    return draw.normal(rng, shape, dt, mean, std)


def _uniform(rng, shape, dt, low: float, high: float) -> np.ndarray:
    """low + (high - low) u, u uniform on [0, 1) (52 bits), in float64, rounded once to dt."""
    return draw.uniform(rng, shape, dt, low, high)


_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


def _pdf(x: float) -> float:
    return 0.0 if math.isinf(x) else math.exp(-0.5 * x * x) / _SQRT2PI


def _mass(a: float, b: float) -> float:
    """P(a <= Z <= b), Z ~ N(0, 1), using erfc in the tails so tail intervals keep precision."""
    if a >= 0:
        return 0.5 * (math.erfc(a / _SQRT2) - math.erfc(b / _SQRT2))
    if b <= 0:
        return 0.5 * (math.erfc(-b / _SQRT2) - math.erfc(-a / _SQRT2))
    return 0.5 * (math.erf(b / _SQRT2) - math.erf(a / _SQRT2))


def truncnorm_moments(a: float, b: float) -> tuple[float, float]:
    """Mean and variance of N(0, 1) conditioned on [a, b] (either end may be infinite).

    mean = (phi(a) - phi(b)) / Z, var = 1 + (a phi(a) - b phi(b)) / Z - mean^2,
    Z = Phi(b) - Phi(a).
    """
    z = _mass(a, b)
    pa, pb = _pdf(a), _pdf(b)
    m = (pa - pb) / z
    apa = 0.0 if math.isinf(a) else a * pa
    bpb = 0.0 if math.isinf(b) else b * pb
    return m, 1.0 + (apa - bpb) / z - m * m


def _truncated(rng, shape, dt, a: float, b: float, mean: float, std: float, lo: float,
               hi: float) -> np.ndarray:
    """mean + std z, z ~ N(0, 1) conditioned on [a, b], rounded to dt and clipped to [lo, hi]
    (rounding can step an ulp outside), by rejection with redraw.

    The proposal with the best acceptance rate is used: the normal itself (wide intervals:
    :func:`initlab.engine.draw.truncated`, per-entry redraws in the kernel), a uniform on [a, b]
    (narrow ones) or, for a tail [a, b] with a > 0, a shifted exponential of rate
    lam = (a + sqrt(a^2 + 4)) / 2 (Robert 1995). The last two are numpy rounds over uniforms of
    :func:`initlab.engine.draw.uniforms` (the same with or without the C kernel); every round
    redraws only the rejected entries.
    """
    lo_t, hi_t = _inside(lo, dt, True), _inside(hi, dt, False)
    if b <= 0:  # all mass on the left: -Z on [-b, -a], which has -b >= 0
        return _truncated(rng, shape, dt, -b, -a, mean, -std, lo, hi)
    n = math.prod(shape)
    mass = _mass(a, b)
    width = b - a
    m2 = 0.0 if a <= 0 else a * a  # min of z^2 on [a, b]
    acc = {"normal": mass}
    if math.isfinite(width):
        acc["uniform"] = mass * _SQRT2PI / (width * math.exp(-0.5 * m2))
    if a > 0:
        lam = 0.5 * (a + math.sqrt(a * a + 4.0))
        acc["exponential"] = mass * _SQRT2PI * lam * math.exp(lam * a - 0.5 * lam * lam)
    method = max(acc, key=acc.get)
    if method == "normal":
        return draw.truncated(rng, shape, dt, a, b, mean, std, lo_t, hi_t)

    def propose(k: int) -> tuple[np.ndarray, np.ndarray]:
        u = draw.uniforms(rng, 2 * k)
        z, v = u[:k], u[k:]
        if method == "uniform":
            z *= width
            z += a
            # accept with exp((m2 - z^2) / 2); (a - z)(a + z) keeps precision far out
            t = (a - z) * (a + z) if a > 0 else -(z * z)
            t *= 0.5
            return z, v <= np.exp(t, out=t)
        z = -np.log1p(-z)
        z *= 1.0 / lam
        z += a
        return z, (v <= np.exp(-0.5 * (z - lam) ** 2)) & (z <= b)

    z, ok = propose(n)
    todo = np.flatnonzero(~ok)
    while todo.size:
        y, ok = propose(todo.size)
        z[todo[ok]] = y[ok]
        todo = todo[~ok]
    z *= std
    z += mean
    return np.clip(z.astype(dt).reshape(shape), lo_t, hi_t)


def _inside(value: float, dt, up: bool) -> float:
    """``value`` rounded to ``dt`` without leaving the interval (towards +inf if ``up``)."""
    v = dt.type(value)
    if up and v < value:
        v = np.nextafter(v, dt.type(np.inf))
    elif not up and v > value:
        v = np.nextafter(v, dt.type(-np.inf))
    return v


# --- constants ------------------------------------------------------------------------------

def _const(name: str, value: float, params: dict) -> Initializer:
    @_sampler(name)
    def sample(rng, shape, dt):
        return np.full(shape, value, dtype=dt)

    return Initializer(name, params, sample, lambda fan_in, fan_out: (value, 0.0), False)


def zeros() -> Initializer:
    """W = 0

    Source: torch zeros_, Keras/JAX zeros. Not random: every unit computes the same function.
    """
    return _const("zeros", 0.0, {})


def ones() -> Initializer:
    """W = 1

    Source: torch ones_, Keras/JAX ones.
    """
    return _const("ones", 1.0, {})


def constant(value: float = 0.0) -> Initializer:
    """W = value

    Source: torch constant_, Keras Constant, JAX constant.
    """
    value = _finite("value", value)
    return _const("constant", value, {"value": value})


# --- plain distributions ------------------------------------------------------------------

def normal(mean: float = 0.0, std: float = 1.0) -> Initializer:
    """W ~ N(mean, std^2), untruncated

    Source: torch normal_ (same defaults). Keras RandomNormal and JAX normal default to
    std 0.05 and 0.01.
    """
    mean, std = _finite("mean", mean), _nonneg("std", std)

    @_sampler("normal")
    def sample(rng, shape, dt):
        return _normal(rng, shape, dt, mean, std)

    return Initializer("normal", {"mean": mean, "std": std}, sample,
                       lambda fan_in, fan_out: (mean, std * std), mean == 0.0)


def uniform(low: float = -1.0, high: float = 1.0) -> Initializer:
    """W ~ U[low, high)

    Source: torch uniform_ defaults to U(0, 1), Keras RandomUniform to U(-0.05, 0.05), JAX
    uniform to U(0, 0.01).
    """
    low, high = _finite("low", low), _finite("high", high)
    if not low < high:
        raise ConfigError("low", f"must be < high ({high:g}), got {low:g}")

    @_sampler("uniform")
    def sample(rng, shape, dt):
        return _uniform(rng, shape, dt, low, high)

    return Initializer("uniform", {"low": low, "high": high}, sample,
                       lambda fan_in, fan_out: (0.5 * low + 0.5 * high, (high - low) * (high - low) / 12.0),  # inf, not OverflowError
                       low == -high)


def truncated_normal(mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                     bounds: str = "std") -> Initializer:
    """W ~ N(mean, std^2) cut to [lo, hi]: lo, hi = mean + (a, b) std, or a, b if absolute

    With bounds="std" the cut is at mean + a std and mean + b std; with bounds="absolute" at
    a and b themselves.

    Source: JAX truncated_normal / Keras TruncatedNormal (bounds in parent standard deviations,
    at +-2); torch trunc_normal_ (absolute bounds a, b). In all three std is the std of the
    parent normal, so the actual std is smaller (0.88 std at +-2); moments gives it exactly.

    Sampled exactly by rejection with redraw (see ``_truncated``).
    """
    mean, std = _finite("mean", mean), _positive("std", std)
    a, b = _number("a", a), _number("b", b)
    bounds = _choice("bounds", bounds, BOUNDS)
    if not a < b:
        raise ConfigError("a", f"must be < b ({b:g}), got {a:g}")
    lo, hi = (mean + a * std, mean + b * std) if bounds == "std" else (a, b)
    alpha, beta = (lo - mean) / std, (hi - mean) / std  # standardized bounds
    if not _mass(alpha, beta) > 1e-300:
        raise ConfigError("a", f"interval [{lo:g}, {hi:g}] has no probability mass under "
                               f"N({mean:g}, {std:g}^2)")
    z_mean, z_var = truncnorm_moments(alpha, beta)
    moments = (mean + std * z_mean, std * std * z_var)

    @_sampler("truncated_normal")
    def sample(rng, shape, dt):
        return _truncated(rng, shape, dt, alpha, beta, mean, std, lo, hi)

    params = {"mean": mean, "std": std, "a": a, "b": b, "bounds": bounds}
    return Initializer("truncated_normal", params, sample, lambda fan_in, fan_out: moments,
                       mean == 0.0 and lo == -hi)


# --- the variance-scaling core --------------------------------------------------------------

def variance_scaling(scale: float = 1.0, mode: str = "fan_in",
                     distribution: str = "truncated_normal") -> Initializer:
    """Var(W) = scale / n, n = fan_in | fan_out | (fan_in + fan_out) / 2 | sqrt(fan_in fan_out)

    normal: N(0, scale / n); uniform: U(+-sqrt(3 scale / n)); truncated_normal: parent
    N(0, (sqrt(scale / n) / 0.8796)^2) cut at +-2 parent std, so the actual variance is
    scale / n.

    Source: JAX variance_scaling and Keras VarianceScaling (same defaults). Keras calls our
    "normal" "untruncated_normal" (and tf.keras 1.x read "normal" as truncated); fan_geo_avg
    is JAX's only. Every named scaled initializer here is a specialization of this one.
    """
    scale = _positive("scale", scale)
    mode = _choice("mode", mode, MODES)
    distribution = _choice("distribution", distribution, DISTRIBUTIONS)

    def variance(fan_in, fan_out) -> float:
        return scale / _fan(mode, fan_in, fan_out)

    @_sampler("variance_scaling")
    def sample(rng, shape, dt):
        var = variance(*compute_fans(shape))
        if distribution == "normal":
            return _normal(rng, shape, dt, 0.0, math.sqrt(var))
        if distribution == "uniform":
            bound = math.sqrt(3.0 * var)
            return _uniform(rng, shape, dt, -bound, bound)
        c = math.sqrt(var) / TRUNC2_STD
        return _truncated(rng, shape, dt, -2.0, 2.0, 0.0, c, -2.0 * c, 2.0 * c)

    params = {"scale": scale, "mode": mode, "distribution": distribution}
    return Initializer("variance_scaling", params, sample,
                       lambda fan_in, fan_out: (0.0, variance(fan_in, fan_out)), True)


def _special(name: str, params: dict, core: Initializer) -> Initializer:
    return replace(core, name=name, params=params)


def xavier_normal(gain: float = 1.0) -> Initializer:
    """W ~ N(0, (gain * sqrt(2 / (fan_in + fan_out)))^2)

    Source: Glorot & Bengio 2010; torch xavier_normal_ (untruncated, as here); Keras/JAX
    glorot_normal truncate at 2 std: variance_scaling(mode="fan_avg") gives theirs.
    """
    gain = _gain(gain)
    return _special("xavier_normal", {"gain": gain},
                    variance_scaling(gain * gain, "fan_avg", "normal"))


def xavier_uniform(gain: float = 1.0) -> Initializer:
    """W ~ U(+-gain * sqrt(6 / (fan_in + fan_out)))

    Source: Glorot & Bengio 2010, eq. 16; torch xavier_uniform_, Keras/JAX glorot_uniform (no
    gain there).
    """
    gain = _gain(gain)
    return _special("xavier_uniform", {"gain": gain},
                    variance_scaling(gain * gain, "fan_avg", "uniform"))


def _he_scale(mode: object, negative_slope: object) -> tuple[str, float, float]:
    mode = _choice("mode", mode, ("fan_in", "fan_out"))
    a = _finite("negative_slope", negative_slope)
    scale = 2.0 / (1.0 + a * a)  # gain^2, gain = sqrt(2 / (1 + a^2))
    if not scale > 0:  # |a| > 1.3e154: a^2 overflows and the gain underflows to 0
        raise ConfigError("negative_slope", f"must be at most {MAX_GAIN:.3g} in size (the gain "
                                            f"sqrt(2 / (1 + a^2)) underflows to 0 beyond), got {negative_slope!r}")
    return mode, a, scale


def he_normal(mode: str = "fan_in", negative_slope: float = 0.0) -> Initializer:
    """W ~ N(0, gain^2 / fan), gain = sqrt(2 / (1 + negative_slope^2)), fan from mode

    Source: He et al. 2015; torch kaiming_normal_ (untruncated). Keras/JAX he_normal truncate
    at 2 std: variance_scaling(scale=2, distribution="truncated_normal") gives theirs.
    """
    mode, a, scale = _he_scale(mode, negative_slope)
    return _special("he_normal", {"mode": mode, "negative_slope": a},
                    variance_scaling(scale, mode, "normal"))


def he_uniform(mode: str = "fan_in", negative_slope: float = 0.0) -> Initializer:
    """W ~ U(+-gain sqrt(3 / fan)), gain = sqrt(2 / (1 + negative_slope^2)), fan from mode

    Source: He et al. 2015; torch kaiming_uniform_, Keras/JAX he_uniform (relu gain only).
    """
    mode, a, scale = _he_scale(mode, negative_slope)
    return _special("he_uniform", {"mode": mode, "negative_slope": a},
                    variance_scaling(scale, mode, "uniform"))


def lecun_normal() -> Initializer:
    """W ~ N(0, 1 / fan_in), untruncated

    Source: LeCun et al. 1998, Efficient BackProp. Keras/JAX lecun_normal truncate at 2 std:
    variance_scaling() or flax_default gives theirs.
    """
    return _special("lecun_normal", {}, variance_scaling(1.0, "fan_in", "normal"))


def lecun_uniform() -> Initializer:
    """W ~ U(+-sqrt(3 / fan_in))

    Source: LeCun et al. 1998, Efficient BackProp; Keras/JAX lecun_uniform.
    """
    return _special("lecun_uniform", {}, variance_scaling(1.0, "fan_in", "uniform"))


# --- structured initializers ----------------------------------------------------------------

def orthogonal(gain: float = 1.0) -> Initializer:
    """W = gain * Q, Q Haar-random with orthonormal columns (tall) or rows (wide)

    Source: Saxe et al. 2013; Haar sampling by QR with sign(diag(R)) correction, Mezzadri 2007.
    torch orthogonal_, Keras Orthogonal, JAX orthogonal. A >=3-D weight is flattened to
    (prod(shape[:-1]), shape[-1]) as in JAX/Keras (torch flattens its own layout,
    (out, in * k), i.e. the transpose). Mean 0, variance gain^2 / max(fan_in, fan_out) for a 2-D
    weight (sum of squares is gain^2 min(rows, cols) exactly).
    """
    gain = _gain(gain)

    @_sampler("orthogonal", (2, None))
    def sample(rng, shape, dt):
        rows, cols = math.prod(shape[:-1]), shape[-1]
        # QR in float64 (LAPACK), then cast: the only float64 temporary we allow ourselves.
        g = _normal(rng, (max(rows, cols), min(rows, cols)), np.dtype(np.float64), 0.0, 1.0)
        q, r = np.linalg.qr(g)
        # numpy's QR leaves the signs of diag(R) to LAPACK; Q is Haar only after fixing them.
        d = np.sign(np.diagonal(r))
        d[d == 0] = 1.0
        q *= d
        w = np.ascontiguousarray(q.T if rows < cols else q, dtype=dt)
        if gain != 1.0:
            w *= gain
        return w.reshape(shape)

    return Initializer("orthogonal", {"gain": gain}, sample,
                       lambda fan_in, fan_out: (0.0, gain * gain / max(fan_in, fan_out)), True)


def identity(gain: float = 1.0) -> Initializer:
    """W = gain * I (rectangular: ones on the main diagonal, as numpy eye)

    Source: torch eye_ (2-D only, as here; our eye(fan_in, fan_out) is torch's transposed);
    Keras Identity. Le et al. 2015 (IRNN) for recurrent weights.
    """
    gain = _gain(gain)

    @_sampler("identity", (2, 2))
    def sample(rng, shape, dt):
        w = np.eye(shape[0], shape[1], dtype=dt)
        if gain != 1.0:
            w *= gain
        return w

    return Initializer("identity", {"gain": gain}, sample, lambda fan_in, fan_out: None, False)


def sparse(nonzero: int = 15, std: float = 1.0) -> Initializer:
    """W[:, j]: exactly `nonzero` entries ~ N(0, std^2) at random distinct rows, the rest 0

    Source: Martens 2010, Deep learning via Hessian-free optimization, section 5 (15 incoming
    connections per unit). Each column (unit) of the (fan_in, fan_out) weight gets its own
    rows; >=3-D weights are flattened to (fan_in, shape[-1]). Not torch sparse_: that is
    torch_sparse. Mean 0, variance nonzero / fan_in * std^2.
    """
    k = _integer("nonzero", nonzero)
    if k < 1:
        raise ConfigError("nonzero", f"must be >= 1, got {nonzero!r}")
    std = _nonneg("std", std)

    @_sampler("sparse")
    def sample(rng, shape, dt):
        cols = shape[-1] if len(shape) >= 2 else 1
        rows = math.prod(shape) // cols  # = fan_in in every rank
        if k > rows:
            raise ConfigError("nonzero", f"must be <= fan_in ({rows}) for shape {shape}, got {k}")
        # The k smallest of iid uniform keys in a column are a uniform random k-subset of rows
        # (float64 keys whatever dt: float32 ties would bias the subset).
        keys = rng.random((rows, cols))
        pick = np.argpartition(keys, k - 1, axis=0)[:k] if k < rows else np.arange(rows)[:, None]
        w = np.zeros((rows, cols), dtype=dt)
        w[pick, np.arange(cols)] = _normal(rng, (k, cols), dt, 0.0, std)
        return w.reshape(shape)

    return Initializer("sparse", {"nonzero": k, "std": std}, sample,
                       lambda fan_in, fan_out: (0.0, k / fan_in * std * std), False)


def _torch_sparse_zeros(sparsity: float, fan_out: int) -> int:
    return math.ceil(sparsity * fan_out)  # as torch, float rounding too (0.07 * 100 -> 8)


def torch_sparse(sparsity: float, std: float = 0.01) -> Initializer:
    """W ~ N(0, std^2), then ceil(sparsity * fan_out) random entries of each row W[i, :] zeroed

    Source: torch.nn.init.sparse_ (citing Martens 2010), translated to our layout: torch zeroes
    ceil(sparsity * rows) entries in each column of its (fan_out, fan_in) weight, i.e. of the
    outgoing weights of each input unit, which is each row of our (fan_in, fan_out) weight.
    Unlike Martens' scheme (see sparse) the number of incoming connections of a unit varies.
    2-D only, as torch.
    """
    s = _finite("sparsity", sparsity)
    if not 0.0 <= s < 1.0:
        raise ConfigError("sparsity", f"must be in [0, 1), got {sparsity!r}")
    std = _nonneg("std", std)

    @_sampler("torch_sparse", (2, 2))
    def sample(rng, shape, dt):
        rows, cols = shape
        w = _normal(rng, shape, dt, 0.0, std)
        k = _torch_sparse_zeros(s, cols)
        if k:
            keys = rng.random(shape)
            drop = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < cols else slice(None)
            w[np.arange(rows)[:, None], drop] = 0.0
        return w

    def moments(fan_in, fan_out):
        return 0.0, std * std * (fan_out - _torch_sparse_zeros(s, fan_out)) / fan_out

    return Initializer("torch_sparse", {"sparsity": s, "std": std}, sample, moments, False)


# --- library defaults -----------------------------------------------------------------------

def torch_default() -> Initializer:
    """W ~ U(+-1 / sqrt(fan_in))

    Source: torch.nn.Linear / ConvNd reset_parameters: kaiming_uniform_(a=sqrt(5)), gain
    sqrt(2 / (1 + 5)) = sqrt(1/3), bound gain * sqrt(3 / fan_in). Weight only (bias not here).
    """
    return _special("torch_default", {}, variance_scaling(1.0 / 3.0, "fan_in", "uniform"))


def keras_default() -> Initializer:
    """W ~ U(+-sqrt(6 / (fan_in + fan_out)))

    Source: Keras Dense/Conv default kernel_initializer glorot_uniform (Glorot & Bengio 2010).
    """
    return _special("keras_default", {}, variance_scaling(1.0, "fan_avg", "uniform"))


def flax_default() -> Initializer:
    """W ~ N(0, (sqrt(1 / fan_in) / 0.8796)^2) cut at +-2 parent std, so Var(W) = 1 / fan_in

    Source: flax.linen.Dense default kernel_init, jax.nn.initializers.lecun_normal (truncated):
    variance_scaling(1, "fan_in", "truncated_normal").
    """
    return _special("flax_default", {}, variance_scaling(1.0, "fan_in", "truncated_normal"))


#: name -> factory(**params) -> Initializer. Aliases are plain entries (same factory object).
INITIALIZERS: dict[str, Callable[..., Initializer]] = {
    "zeros": zeros,
    "ones": ones,
    "constant": constant,
    "normal": normal,
    "uniform": uniform,
    "truncated_normal": truncated_normal,
    "variance_scaling": variance_scaling,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "xavier": xavier_normal,
    "glorot_normal": xavier_normal,
    "glorot_uniform": xavier_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "he": he_normal,
    "kaiming_normal": he_normal,
    "kaiming_uniform": he_uniform,
    "lecun_normal": lecun_normal,
    "lecun_uniform": lecun_uniform,
    "orthogonal": orthogonal,
    "identity": identity,
    "sparse": sparse,
    "torch_sparse": torch_sparse,
    "torch_default": torch_default,
    "keras_default": keras_default,
    "flax_default": flax_default,
}


def get(name: str, **params) -> Initializer:
    """The initializer ``name`` with ``params``; a :class:`ConfigError` names valid choices."""
    factory = lookup(INITIALIZERS, name, "initializer")
    init = _params.call_with_params(factory, params, what=f"initializer '{name}'")
    return init if init.name == name else replace(init, name=name)


def describe(name: str) -> dict:
    """``{"name", "formula", "source", "params", "alias_of"}`` for ``initlab list``.

    ``formula`` is the first docstring line of the factory, ``source`` its ``Source:``
    paragraph, ``params`` maps each parameter to its default (``None`` when required), and
    ``alias_of`` is the canonical name when ``name`` is an alias.
    """
    factory = lookup(INITIALIZERS, name, "initializer")
    doc = inspect.getdoc(factory) or ""
    paragraphs = [" ".join(p.split()) for p in doc.split("\n\n")]
    source = next((p[len("Source:"):].strip() for p in paragraphs if p.startswith("Source:")), "")
    params = {
        k: (None if d is inspect.Parameter.empty else d)
        for k, d in _params.accepted_params(factory).items()
    }
    canonical = factory.__name__
    return {
        "name": name,
        "formula": doc.split("\n", 1)[0].strip(),
        "source": source,
        "params": params,
        "alias_of": canonical if canonical != name else None,
    }


def _rebuild(name: str, params: dict) -> Initializer:
    return get(name, **params)
