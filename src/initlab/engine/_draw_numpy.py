"""The numpy path of :mod:`initlab.engine.draw`: the Ziggurat's tables and the same draws as the C
kernel ``_draw.c``, bit for bit (the algorithm is described there and in ``draw.py``).

Every operation is the kernel's, in its order, in float64 (no fused multiply-add on either
side), and the rare paths' ``exp`` and ``log1p`` are ``math.exp`` / ``math.log1p``, the C
library's own functions that the kernel calls (numpy's vectorized ``np.exp`` may differ from
them in the last bit, so it is not used where a comparison decides a draw).
"""

from __future__ import annotations

import math

import numpy as np

ZN = 256  # Ziggurat layers
MASK = (1 << 64) - 1
KIND_NORMAL, KIND_TRUNC, KIND_UNIFORM = 0, 1, 2
CHUNK = 1 << 16  # entries per numpy round (fits the caches)
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB  # SplitMix64's output function (Mix13)


def _f(x: float) -> float:
    return math.exp(-0.5 * x * x)


def _layers(r: float) -> tuple[list[float], float]:
    """Layer edges X[0..ZN] for tail start r (X[1] = r, X[ZN] = 0) and the common area v."""
    v = r * _f(r) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2.0))
    xs = [v / _f(r), r]
    for _ in range(2, ZN):
        y = _f(xs[-1]) + v / xs[-1] if xs[-1] > 0.0 else 1.0
        xs.append(math.sqrt(-2.0 * math.log(y)) if y < 1.0 else 0.0)
    return xs + [0.0], v


def _tables():
    """The Ziggurat of Marsaglia & Tsang (2000) with 256 layers of equal area v: r solved so
    that the top layer closes at f(0) = 1 (bisection to the last bit), then
    K[i] = floor(2^52 X[i+1] / X[i]) (K[0] = floor(2^52 r / X[0])), W[i] = X[i] 2^-52,
    F[i] = f(X[i]), D[i] = F[i+1] - F[i] (F[ZN] = 1)."""
    lo, hi = 3.0, 4.0
    while True:  # "closes": the stack of layers of area v reaches f(0) = 1 at the top <=> r >= r*
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        xs, v = _layers(mid)
        top = xs[ZN - 1]
        if top > 0.0 and _f(top) + v / top <= 1.0:
            hi = mid
        else:
            lo = mid
    r = hi
    xs, _ = _layers(r)
    k = [int(math.floor(2.0**52 * r / xs[0]))]
    k += [int(math.floor(2.0**52 * xs[i + 1] / xs[i])) for i in range(1, ZN)]
    f = [_f(x) for x in xs[:ZN]] + [1.0]
    return (np.array(k, dtype=np.uint64), np.array([x * 2.0**-52 for x in xs[:ZN]]),
            np.array(f[:ZN]), np.array([f[i + 1] - f[i] for i in range(ZN)]), r)


K, W, F, D, R = _tables()
_KL, _WL, _FL, _DL = K.tolist(), W.tolist(), F.tolist(), D.tolist()


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on a uint64 array, in place (wrapping arithmetic)."""
    z ^= z >> np.uint64(30)
    z *= np.uint64(_M1)
    z ^= z >> np.uint64(27)
    z *= np.uint64(_M2)
    z ^= z >> np.uint64(31)
    return z


def _unif(w: np.ndarray) -> np.ndarray:
    return (w >> np.uint64(12)).astype(np.float64) * 2.0**-52


def _word(s: int, g: int, j: int, c: int) -> int:
    """One word, in Python integers (the rare paths)."""
    z = (s + j * g + c * ((g << 40) & MASK)) & MASK
    z = ((z ^ (z >> 30)) * _M1) & MASK
    z = ((z ^ (z >> 27)) * _M2) & MASK
    return z ^ (z >> 31)


def _uword(s, g, j, c) -> float:
    return (_word(s, g, j, c) >> 12) * 2.0**-52


def _tail(s: int, g: int, j: int, t: int) -> tuple[float, int]:
    """Marsaglia's tail from slot t on: (x > r, next slot)."""
    while True:
        u1, u2 = _uword(s, g, j, 3 * t + 1), _uword(s, g, j, 3 * t + 2)
        t += 1
        xx = -math.log1p(-u1) / R
        yy = -math.log1p(-u2)
        if yy + yy > xx * xx:
            return R + xx, t


def _slow(s: int, g: int, j: np.ndarray, a: float, b: float) -> np.ndarray:
    """The exact path for entries ``j`` (uint64): a normal at slots 0, 1, ... until one is
    accepted (and inside [a, b]); every round is vectorized over the entries still pending."""
    out = np.empty(j.size)
    pend = np.arange(j.size)
    t = np.zeros(j.size, dtype=np.uint64)
    g40 = np.uint64((g << 40) & MASK)
    while pend.size:
        jj = j[pend]
        base = np.uint64(s) + jj * np.uint64(g)
        w = _mix(base + np.uint64(3) * t * g40)
        i = (w & np.uint64(0xFF)).astype(np.intp)
        m = w >> np.uint64(12)
        neg = ((w >> np.uint64(8)) & np.uint64(1)).astype(bool)
        x = m.astype(np.float64) * W[i]
        ok = m < K[i]
        nxt = t + np.uint64(1)
        wedge = np.flatnonzero(~ok & (i != 0))
        if wedge.size:
            u = _unif(_mix(base[wedge] + (np.uint64(3) * t[wedge] + np.uint64(1)) * g40))
            y = F[i[wedge]] + u * D[i[wedge]]
            xw = x[wedge]
            e = np.array([math.exp(v) for v in (-0.5 * xw * xw).tolist()])
            ok[wedge] = y < e
        for k in np.flatnonzero(~ok & (i == 0)).tolist():
            x[k], t_k = _tail(s, g, int(jj[k]), int(t[k]))
            nxt[k] = t_k
            ok[k] = True
        np.negative(x, out=x, where=neg)
        done = ok & (x >= a) & (x <= b)
        out[pend[done]] = x[done]
        pend, t = pend[~done], nxt[~done]
    return out


def fill(out: np.ndarray, kind: int, s: int, g: int, start: int, a: float, b: float,
         scale: float, shift: float, lo: float, hi: float) -> None:
    """What ``_draw.fill`` does, into the contiguous 1-D float32/float64 array ``out`` (float32
    uniforms: ``start`` even)."""
    if kind == KIND_UNIFORM and out.dtype == np.float32 and start % 2:
        raise ValueError("fill: float32 uniforms start at an even entry")
    if kind == KIND_NORMAL:
        a, b = -math.inf, math.inf
    dt = out.dtype
    lo_t, hi_t = dt.type(lo), dt.type(hi)
    su, gu = np.uint64(s), np.uint64(g)
    for k0 in range(0, out.size, CHUNK):
        nb = min(CHUNK, out.size - k0)
        if kind == KIND_UNIFORM and dt == np.float32:  # two 24-bit uniforms per word
            p = np.arange((start + k0) >> 1, ((start + k0) >> 1) + ((nb + 1) >> 1), dtype=np.uint64)
            w = _mix(su + p * gu)
            x = np.empty(2 * p.size)
            x[0::2] = ((w & np.uint64(0xFFFFFFFF)) >> np.uint64(8)).astype(np.float64) * 2.0**-24
            x[1::2] = (w >> np.uint64(40)).astype(np.float64) * 2.0**-24
            x = x[:nb]
            x *= scale
            x += shift
            out[k0:k0 + nb] = x
            continue
        j = np.arange(start + k0, start + k0 + nb, dtype=np.uint64)
        w = _mix(su + j * gu)
        if kind == KIND_UNIFORM:
            x = _unif(w)
        else:
            i = (w & np.uint64(0xFF)).astype(np.intp)
            m = w >> np.uint64(12)
            x = m.astype(np.float64) * W[i]
            np.negative(x, out=x, where=((w >> np.uint64(8)) & np.uint64(1)).astype(bool))
            flag = np.flatnonzero((m >= K[i]) | (x < a) | (x > b))
            if flag.size:
                x[flag] = _slow(s, g, j[flag], a, b)
        x *= scale
        x += shift
        v = out[k0:k0 + nb]
        v[...] = x  # one rounding to the dtype, as the kernel's cast
        if kind == KIND_TRUNC:
            np.clip(v, lo_t, hi_t, out=v)
