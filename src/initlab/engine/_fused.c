/* initlab.engine._fused: one pass over a layer for its activation and every per-entry statistic.
 *
 * Why C: after a layer's matrix product, numpy needs ~10 separate passes over the layer for
 * the activation, moments, min/max, zeros, saturation, dead units and the histogram's bin
 * indices and counts (6-8 ns per entry on the 2-core machine, more than a width-500 product's
 * ~5 ns). Here they are one pass over blocks of 1024 entries: the activation z -> h (tanh,
 * ReLU, leaky ReLU, identity; or, backwards, the local gradient dz = act'(h) * g), then loops
 * over the block while it is in L1 that the compiler vectorizes (#pragma omp simd, compiled
 * with -fopenmp-simd: no OpenMP runtime), and a scalar loop that counts the block's bin
 * indices into small tables.
 *
 * Exactness: the same statistics as initlab.stats' numpy path, entry for entry, over the same
 * activations:
 *  - bin index in the array's own precision with numpy's arithmetic (scale and offset rounded
 *    to the dtype as numpy's weak Python scalars are): trunc(x * scale + offset), or
 *    floor(x * scale) + k0 when 0 is an edge and scale >= 1; with 0 an edge and scale < 1 a
 *    negative x rounded onto the 0 edge goes to the bin below it (the sign decides). Out of
 *    range by exact comparisons with lo and hi (rounded to the dtype), x == hi in the last bin;
 *  - sums of (x - shift) and (x - shift)^2 in fixed lanes, added in double;
 *  - zeros, saturation (x <= lo or x >= hi), columns seen nonzero (dead units).
 * The activations are numpy's bit for bit (ReLU, leaky ReLU, identity, the local gradients),
 * except float32 tanh, which is our own (tanh_f32: within 1.08 ulp, the same bits on every
 * machine). Non-finite entries make the sums non-finite: the caller sees it and recomputes
 * that layer's moments with the numpy path, which excludes and counts them.
 *
 * Threads: a layer is cut in fixed chunks that the caller and one worker thread of ours take
 * in turn; each chunk's sums are kept apart and added in chunk order, so the numbers do not
 * depend on the number of threads or on who ran what.
 *
 * Arrays come in through the buffer protocol (C-contiguous, float32 or float64); nothing here
 * imports numpy, and the GIL is released during the pass.
 */
#define _GNU_SOURCE /* sched_getcpu, pthread_setaffinity_np */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <stdint.h>
#include <string.h>

#define BLOCK 1024 /* entries per block: a multiple of SUB */
#define SUB 128
#define LANES 8
typedef double vd64 __attribute__((vector_size(LANES * sizeof(double)))); /* lane sums */
#define MAX_SLOTS 256 /* bins + 2 (below, above) must fit a uint8 index */

enum { MODE_PLAIN = 0, MODE_FLOOR = 1, MODE_SIGN = 2 };

typedef struct {
    int on;          /* histogram wanted */
    int bins;        /* counts[0..bins-1]; counts[bins] below, counts[bins+1] above */
    int mode;        /* MODE_PLAIN, MODE_FLOOR (0 an edge, scale >= 1), MODE_SIGN (0 an edge, scale < 1) */
    int k0;          /* bin whose left edge is 0 (MODE_FLOOR, MODE_SIGN) */
    double scale, offset, lo, hi;
} Hist;

typedef struct {
    double s, ss;
    long long zeros, sat;
} Out;

/* --- counting bin slots ---------------------------------------------------------------------
 * A block's uint8 slots are counted into small uint32 tables, flushed into the caller's int64
 * counts at the end (or before a table could overflow). Consecutive increments of one slot
 * would wait on each other through memory, so they go to different tables; with few slots
 * (bins <= 62) the slots are counted two at a time, a pair (a, b) at table[a * slots + b],
 * which halves the increments (the tables, 2 x 16 KB, stay in L1). */

#define PAIR_MAX 64

typedef struct {
    int slots, paired;
    uint64_t pending; /* entries counted since the last flush */
    uint32_t one[4][MAX_SLOTS];
    uint32_t two[2][PAIR_MAX * PAIR_MAX];
    uint16_t pairs[BLOCK / 2];
} Counter;

static void counter_init(Counter *c, int slots)
{
    c->slots = slots;
    c->paired = slots <= PAIR_MAX;
    c->pending = 0;
    memset(c->one, 0, sizeof c->one);
    if (c->paired) memset(c->two, 0, sizeof c->two);
}

static void counter_flush(Counter *c, int64_t *counts)
{
    const int k = c->slots;
    for (int a = 0; a < k; a++) {
        counts[a] += (int64_t)c->one[0][a] + c->one[1][a] + c->one[2][a] + c->one[3][a];
        c->one[0][a] = c->one[1][a] = c->one[2][a] = c->one[3][a] = 0;
    }
    if (c->paired) {
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++) {
                const int64_t v = (int64_t)c->two[0][a * k + b] + c->two[1][a * k + b];
                counts[a] += v;
                counts[b] += v;
            }
        memset(c->two, 0, sizeof c->two);
    }
    c->pending = 0;
}

static inline __attribute__((always_inline)) void counter_add(Counter *c, const uint8_t *idx, Py_ssize_t m, int64_t *counts)
{
    Py_ssize_t i = 0;
    if (c->paired) {
        const Py_ssize_t half = m / 2;
        const uint16_t k = (uint16_t)c->slots;
        uint16_t *p = c->pairs;
        _Pragma("omp simd")
        for (Py_ssize_t j = 0; j < half; j++)
            p[j] = (uint16_t)(idx[2 * j] * k + idx[2 * j + 1]);
        Py_ssize_t j = 0;
        for (; j + 2 <= half; j += 2) {
            c->two[0][p[j]]++;
            c->two[1][p[j + 1]]++;
        }
        for (; j < half; j++) c->two[0][p[j]]++;
        i = 2 * half;
    }
    for (; i + 4 <= m; i += 4) {
        c->one[0][idx[i]]++; c->one[1][idx[i + 1]]++;
        c->one[2][idx[i + 2]]++; c->one[3][idx[i + 3]]++;
    }
    for (; i < m; i++) c->one[0][idx[i]]++;
    c->pending += (uint64_t)m;
    if (c->pending > ((uint64_t)1 << 31)) counter_flush(c, counts);
}

/* --- activations applied inside the pass --------------------------------------------------- */

enum { ACT_NONE = 0, ACT_LINEAR = 1, ACT_TANH = 2, ACT_RELU = 3, ACT_LEAKY = 4, ACT_COUNT = 5 };

/* tanh in float32, within 1.08 ulp of the exact value over every float32 (checked exhaustively
 * against float64 tanh; numpy's own float32 tanh on the same machine: 1.37 ulp). Only IEEE
 * additions, multiplications, fused multiply-adds (explicit fmaf), one division and exact bit
 * operations, so the result is the same on every instruction set and vector width (with
 * -ffp-contract=off), and the loop vectorizes where fmaf is an instruction.
 *  - |x| < 0.75: tanh x = x + x^3 P(x^2), P of degree 6 fitted for relative error (minimax by
 *    iterated weighted least squares over Chebyshev nodes in u = x^2; fit error 2e-9);
 *  - |x| >= 0.75: tanh x = 1 - 2 / (e^{2|x|} + 1), e^t = 2^k (1 + expm1(r)), t = k ln 2 + r,
 *    |r| <= ln(2)/2, ln 2 split in two (Cody & Waite 1980) so k ln2_hi is exact, expm1(r) by
 *    its Taylor series to r^7 (truncation < 6e-9); e^t + 1 formed as (2^k + 1) + 2^k expm1(r);
 *    |x| is clamped at 9.5, where tanh rounds to 1 in float32;
 *  - odd by construction (the sign copied back), NaN stays NaN, tanh(+-inf) = +-1. */
/* fmaf is exact (IEEE 754: one rounding). Where it is an instruction (the avx2 and avx512
 * variants below, or a build whose compiler may use FMA: FP_FAST_FMAF) tanh_f32 uses it; the
 * baseline variant on x86-64 uses fmaf_exact below instead, which rounds the same (libm's
 * software fmaf, glibc's choice on a CPU without FMA, measured 880 ns per tanh). So every
 * variant gives the same bits; only the speed differs. */

/* a * b + c rounded once, without an FMA instruction: a * b is exact in double (24 + 24 < 53
 * bits), the sum is rounded to double with round-to-odd, then to float; rounding to odd at
 * 53 >= 24 + 2 bits, then to nearest, is rounding to nearest once (Boldo & Melquiond 2008).
 * Round-to-odd from the sum rounded to nearest, s, and its exact error e (TwoSum, Knuth):
 * s exact or odd: s; else its odd neighbour on e's side. Non-finite: e is NaN, s is kept. */
static inline __attribute__((always_inline)) float fmaf_exact(float a, float b, float c)
{
    const double p = (double)a * (double)b, cd = (double)c;
    const double s = p + cd, bp = s - cd, bc = s - bp;
    const double e = (p - bp) + (cd - bc);
    uint64_t u;
    memcpy(&u, &s, sizeof u);
    /* no branches: which way is data, so a branch would be mispredicted half the time */
    const uint64_t inexact = (uint64_t)((e > 0.0) | (e < 0.0));
    const uint64_t step = (uint64_t)(2 * ((e > 0.0) == (s > 0.0)) - 1); /* +1: away from 0 */
    u += (0 - (inexact & ~u & 1)) & step; /* masks, not a multiply: SSE2 vectorizes it */
    double r;
    memcpy(&r, &u, sizeof r);
    return (float)r;
}

#define TANH_SPLIT 0.75f
#define DEFINE_TANH(NAME, FMA)                                                                       \
static inline __attribute__((always_inline)) float NAME(float x)                                     \
{                                                                                                    \
    const float a = fabsf(x);                                                                        \
    /* small branch: P(u), u = x^2, by Estrin's scheme (short dependency chains) */                  \
    const float u = a * a, u2 = u * u, u4 = u2 * u2;                                                 \
    const float p01 = FMA(0.133333221077919f, u, -0.3333333432674408f);                              \
    const float p23 = FMA(0.021835798397660255f, u, -0.05396516993641853f);                          \
    const float p45 = FMA(0.0030900160782039165f, u, -0.008684773929417133f);                        \
    const float p46 = FMA(-0.0006965859211049974f, u2, p45);                                         \
    const float p = FMA(p46, u4, FMA(p23, u2, p01));                                                 \
    const float small = FMA(a, u * p, a);                                                            \
    /* large branch */                                                                               \
    const float t = (a < 9.5f ? a : 9.5f) * 2.0f;                                                    \
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding and subtracting it rounds to an integer */ \
    const float kf = FMA(t, 1.4426950408889634f, magic) - magic;                                     \
    const float r = FMA(-kf, 1.428606765330187e-06f, FMA(-kf, 0.693145751953125f, t));               \
    const float r2 = r * r, r4 = r2 * r2;                                                            \
    const float q01 = FMA(1.0f / 6.0f, r, 0.5f);                                                     \
    const float q23 = FMA(1.0f / 120.0f, r, 1.0f / 24.0f);                                           \
    const float q45 = FMA(1.0f / 5040.0f, r, 1.0f / 720.0f);                                         \
    const float q = FMA(q45, r4, FMA(q23, r2, q01));                                                 \
    const float em = FMA(r2, q, r); /* expm1(r) */                                                   \
    const uint32_t bits = (uint32_t)((int32_t)kf + 127) << 23;                                       \
    float s2;                                                                                        \
    memcpy(&s2, &bits, sizeof s2);                                                                   \
    const float big = 1.0f - 2.0f / FMA(s2, em, s2 + 1.0f);                                          \
    /* NaN fails the comparison and keeps small, which is NaN */                                     \
    return copysignf(a >= TANH_SPLIT ? big : small, x);                                              \
}
DEFINE_TANH(tanh_f32, fmaf)
DEFINE_TANH(tanh_f32_exact, fmaf_exact)

#define ACT_EXTRA_TANH(z, h, n, act, TANH)                                                          \
    if ((act) == ACT_TANH) {                                                                     \
        _Pragma("omp simd")                                                                      \
        for (Py_ssize_t i = 0; i < (n); i++) (h)[i] = TANH((z)[i]);                              \
    }                                                                                            \
    break;
#define ACT_EXTRA_f32(z, h, n, act) ACT_EXTRA_TANH(z, h, n, act, tanh_f32)
#define ACT_EXTRA_f32_exact(z, h, n, act) ACT_EXTRA_TANH(z, h, n, act, tanh_f32_exact)
#define ACT_EXTRA_f64(z, h, n, act) break; /* tanh in float64: numpy's, before the pass */

/* --- a job: one layer's pass, in chunks that one or two threads take in turn ----------------
 * The entries are cut in fixed chunks (whole rows when dead units are tracked) whatever the
 * number of threads; each chunk's sums are kept apart and added in chunk order at the end, so
 * the results do not depend on which thread ran which chunk. Counts are integers. */

#define CHUNK 32768  /* entries per chunk, at most (whole rows when dead units are tracked) */
#define DECIDE 4096  /* entries that choose the shift of the sums */

typedef struct {
    void *x;                  /* the array summarized (written when act != ACT_NONE) */
    const void *y;            /* NULL, or the second array: sums only; the activation's input,
                                 or (with s) the local gradient written: y = act'(s) * x */
    const void *s;            /* NULL, or the activations whose derivative y is formed from */
    Py_ssize_t n, rows, cols, chunk, n_chunks;
    int is64, want_sat, act;
    double shift, yshift, slo, shi, alpha;
    const Hist *hist;
    double *sums;             /* 4 per chunk: s, ss of x, then of y */
    const struct Impl *impl;  /* the instruction-set variant that runs this job */
    atomic_long next;         /* the next chunk to take */
} Job;

typedef struct {              /* what one thread adds up */
    int64_t counts[MAX_SLOTS];
    long long zeros, sat;
    uint8_t *alive;
    int all_alive;
} Acc;

static double choose_shift(double s, double ss, Py_ssize_t k, double ratio, size_t itemsize)
{
    const double m = s / (double)k, var = ss / (double)k - m * m;
    if (isfinite(var) && (var * ratio < m * m || var <= 0.0) && m != 0.0)
        return itemsize == 4 ? (double)(float)m : m; /* rounded to the dtype, as numpy does */
    return 0.0;
}

/* --- one dtype at a time: T is float or double -------------------------------------------- */

#define DEFINE_KERNELS(SUF, T, VEC, FLOOR, EXTRA, ATTR)                                                                 \
/* Sums of (x - shift) and (x - shift)^2 in a fixed order: 4 x 8 lanes in T over each run of   \
   128 entries (4 terms per lane; four accumulators so the additions do not wait on each other), \
   added pairwise, then into 8 double lanes, added in order at the end; a tail of < 128         \
   entries term by term in double. Vector types (GCC/Clang extension) fix the lanes: the sums  \
   are the same whatever the instruction set, the options of the caller or the machine (with   \
   -ffp-contract=off: no fused multiply-add either). */                                          \
static inline __attribute__((always_inline)) ATTR void block_sums_##SUF(                              \
    const T *x, Py_ssize_t n, T shift, Out *o)                                                   \
{                                                                                                \
    double s = o->s, ss = o->ss;                                                                 \
    Py_ssize_t i = 0;                                                                            \
    const VEC vshift = (VEC){0} + shift;                                                         \
    vd64 ds = {0}, dss = {0};                                                                    \
    for (; i + SUB <= n; i += SUB) {                                                             \
        VEC a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};     \
        for (Py_ssize_t j = 0; j < SUB; j += 4 * LANES) {                                        \
            VEC v0, v1, v2, v3;                                                                  \
            memcpy(&v0, x + i + j, sizeof v0);                                                   \
            memcpy(&v1, x + i + j + LANES, sizeof v1);                                           \
            memcpy(&v2, x + i + j + 2 * LANES, sizeof v2);                                       \
            memcpy(&v3, x + i + j + 3 * LANES, sizeof v3);                                       \
            v0 -= vshift; v1 -= vshift; v2 -= vshift; v3 -= vshift;                              \
            a0 += v0; a1 += v1; a2 += v2; a3 += v3;                                              \
            b0 += v0 * v0; b1 += v1 * v1; b2 += v2 * v2; b3 += v3 * v3;                          \
        }                                                                                        \
        const VEC a = (a0 + a1) + (a2 + a3), b = (b0 + b1) + (b2 + b3);                         \
        ds += __builtin_convertvector(a, vd64);                                                  \
        dss += __builtin_convertvector(b, vd64);                                                 \
    }                                                                                            \
    for (int l = 0; l < LANES; l++) {                                                            \
        s += ds[l];                                                                              \
        ss += dss[l];                                                                            \
    }                                                                                            \
    for (; i < n; i++) {                                                                         \
        T d = x[i] - shift;                                                                      \
        s += (double)d;                                                                          \
        ss += (double)(d * d);                                                                   \
    }                                                                                            \
    o->s = s; o->ss = ss;                                                                        \
}                                                                                                \
                                                                                                 \
static ATTR void sums_##SUF(const void *xv, Py_ssize_t n, double shift, Out *o)                           \
{                                                                                                \
    o->s = o->ss = 0.0;                                                                          \
    block_sums_##SUF((const T *)xv, n, (T)shift, o);                                                         \
}                                                                                                \
                                                                                                 \
/* block statistics, and bin slots of the block into idx (when hist) */                         \
static inline __attribute__((always_inline)) ATTR void block_##SUF(const T *x, Py_ssize_t n, T shift, const Hist *h, int hist,      \
                               int mode, int want_sat, T slo, T shi, uint8_t *idx, Out *o)        \
{                                                                                                \
    long long zeros = 0, sat = 0;                                                                \
    const T sc = (T)h->scale, off = (T)h->offset, lo = (T)h->lo, hi = (T)h->hi;                   \
    const int bins = h->bins, k0 = h->k0;                                                        \
    const T top = (T)bins, span = (T)(bins + 1);                                                 \
    block_sums_##SUF(x, n, shift, o);                                                            \
    _Pragma("omp simd reduction(+:zeros,sat)")                                                   \
    for (Py_ssize_t i = 0; i < n; i++) {                                                         \
        T v = x[i];                                                                              \
        zeros += (v == 0);                                                                       \
        if (want_sat) sat += (v <= slo) | (v >= shi);                                            \
        if (hist) {                                                                              \
            int k;                                                                               \
            T t = v * sc;                                                                        \
            if (mode == MODE_FLOOR) {                                                            \
                t = t >= -span ? t : -span; /* NaN and far values are out of range anyway */   \
                t = t <= span ? t : span;                                                        \
                k = (int)FLOOR(t) + k0;                                                          \
            } else {                                                                             \
                t = t + off;                                                                     \
                t = t >= 0 ? t : 0;                                                              \
                t = t <= top ? t : top;                                                          \
                k = (int)t; /* truncation, as numpy's casting output */                          \
                if (mode == MODE_SIGN) k = (v < 0 && k >= k0) ? k0 - 1 : k;                      \
            }                                                                                    \
            k = k < 0 ? 0 : k;                                                                   \
            k = k > bins - 1 ? bins - 1 : k;                                                     \
            k = v < lo ? bins : k;                                                               \
            k = v > hi ? bins + 1 : k;                                                           \
            idx[i] = (uint8_t)k;                                                                 \
        }                                                                                        \
    }                                                                                            \
    o->zeros += zeros; o->sat += sat;                                                            \
}                                                                                                \
                                                                                                 \
/* The activation of a block, z -> h (h must not overlap z). */                                   \
static inline __attribute__((always_inline)) ATTR void act_block_##SUF(const T *restrict z, T *restrict h, \
                                                                  Py_ssize_t n, int act, T alpha) \
{                                                                                                \
    switch (act) {                                                                               \
    case ACT_LINEAR:                                                                             \
        memcpy(h, z, (size_t)n * sizeof(T));                                                     \
        break;                                                                                   \
    case ACT_RELU: /* numpy's maximum(z, 0): +0 for -0, NaN kept */                              \
        _Pragma("omp simd")                                                                      \
        for (Py_ssize_t i = 0; i < n; i++) {                                                     \
            const T v = z[i];                                                                    \
            h[i] = v > 0 ? v : (v == v ? (T)0 : v);                                              \
        }                                                                                        \
        break;                                                                                   \
    case ACT_LEAKY: /* z < 0: alpha z */                                                         \
        _Pragma("omp simd")                                                                      \
        for (Py_ssize_t i = 0; i < n; i++) {                                                     \
            const T v = z[i];                                                                    \
            h[i] = v < 0 ? v * alpha : v;                                                        \
        }                                                                                        \
        break;                                                                                   \
    default:                                                                                     \
        EXTRA(z, h, n, act)                                                            \
    }                                                                                            \
}                                                                                                \
                                                                                                 \
/* The local gradient of a block, dz = act'(s) * g for an activation whose derivative is a      \
   function of its output s, with numpy's operations in numpy's order (initlab.activations):   \
   tanh (1 - s*s) * g, ReLU (s > 0) * g, leaky ReLU (s > 0 ? 1 : alpha) * g, identity 1 * g. */ \
static inline __attribute__((always_inline)) ATTR void local_block_##SUF(const T *restrict s,         \
    const T *restrict g, T *restrict dz, Py_ssize_t n, int act, T alpha)                          \
{                                                                                                \
    switch (act) {                                                                               \
    case ACT_TANH:                                                                               \
        _Pragma("omp simd")                                                                      \
        for (Py_ssize_t i = 0; i < n; i++) dz[i] = ((T)1 - s[i] * s[i]) * g[i];                  \
        break;                                                                                   \
    case ACT_RELU:                                                                               \
        _Pragma("omp simd")                                                                      \
        for (Py_ssize_t i = 0; i < n; i++) dz[i] = (s[i] > 0 ? (T)1 : (T)0) * g[i];              \
        break;                                                                                   \
    case ACT_LEAKY:                                                                              \
        _Pragma("omp simd")                                                                      \
        for (Py_ssize_t i = 0; i < n; i++) dz[i] = (s[i] > 0 ? (T)1 : alpha) * g[i];             \
        break;                                                                                   \
    default:                                                                                     \
        _Pragma("omp simd")                                                                      \
        for (Py_ssize_t i = 0; i < n; i++) dz[i] = (T)1 * g[i];                                  \
    }                                                                                            \
}                                                                                                \
                                                                                                 \
/* Entries [a0, a1) of a job: the activation (when asked), then every statistic, block by block \
   while the block is in L1. Sums go to o (x) and yo (y); counts, zeros, saturation to t. */    \
static ATTR void chunk_##SUF(const Job *j, Py_ssize_t a0, Py_ssize_t a1, Counter *cnt, uint8_t *idx,  \
                        Acc *t, Out *o, Out *yo)                                                 \
{                                                                                                \
    const Hist *h = j->hist;                                                                     \
    T *x = (T *)j->x;                                                                            \
    const T *y = (const T *)j->y;                                                                \
    const T tslo = (T)j->slo, tshi = (T)j->shi, tshift = (T)j->shift, tyshift = (T)j->yshift;    \
    const T alpha = (T)j->alpha;                                                                 \
    const int want_sat = j->want_sat;                                                            \
    /* every case a constant combination, so that each loop is compiled for its own work */     \
    const int sel = (h->on ? 1 + h->mode : 0) * 2 + (want_sat != 0);                             \
    o->s = o->ss = 0.0; o->zeros = o->sat = 0;                                                   \
    yo->s = yo->ss = 0.0;                                                                        \
    for (Py_ssize_t a = a0; a < a1; a += BLOCK) {                                                \
        const Py_ssize_t m = a1 - a < BLOCK ? a1 - a : BLOCK;                                    \
        if (j->s != NULL) local_block_##SUF((const T *)j->s + a, x + a, (T *)y + a, m, j->act, alpha); \
        else if (j->act != ACT_NONE) act_block_##SUF(y + a, x + a, m, j->act, alpha);            \
        if (y != NULL) block_sums_##SUF(y + a, m, tyshift, yo);                                  \
        switch (sel) {                                                                           \
        case 0: block_##SUF(x + a, m, tshift, h, 0, MODE_PLAIN, 0, tslo, tshi, idx, o); break;   \
        case 1: block_##SUF(x + a, m, tshift, h, 0, MODE_PLAIN, 1, tslo, tshi, idx, o); break;   \
        case 2: block_##SUF(x + a, m, tshift, h, 1, MODE_PLAIN, 0, tslo, tshi, idx, o); break;   \
        case 3: block_##SUF(x + a, m, tshift, h, 1, MODE_PLAIN, 1, tslo, tshi, idx, o); break;   \
        case 4: block_##SUF(x + a, m, tshift, h, 1, MODE_FLOOR, 0, tslo, tshi, idx, o); break;   \
        case 5: block_##SUF(x + a, m, tshift, h, 1, MODE_FLOOR, 1, tslo, tshi, idx, o); break;   \
        case 6: block_##SUF(x + a, m, tshift, h, 1, MODE_SIGN, 0, tslo, tshi, idx, o); break;    \
        default: block_##SUF(x + a, m, tshift, h, 1, MODE_SIGN, 1, tslo, tshi, idx, o); break;   \
        }                                                                                        \
        if (h->on) counter_add(cnt, idx, m, t->counts);                                          \
    }                                                                                            \
    t->zeros += o->zeros; t->sat += o->sat;                                                      \
    if (t->alive != NULL && !t->all_alive) { /* columns with a nonzero entry (NaN counts) */     \
        if (o->zeros == 0) {                                                                     \
            t->all_alive = 1; /* a chunk of whole rows without a zero: every column fired */    \
        } else {                                                                                 \
            const Py_ssize_t cols = j->cols;                                                     \
            uint8_t *alive = t->alive;                                                           \
            for (Py_ssize_t r = a0; r < a1; r += cols) {                                         \
                const T *row = x + r;                                                            \
                _Pragma("omp simd")                                                              \
                for (Py_ssize_t c = 0; c < cols; c++) alive[c] |= (row[c] != 0);                 \
            }                                                                                    \
            int every = 1; /* once every column has fired, no later chunk can change that */    \
            _Pragma("omp simd reduction(&:every)")                                               \
            for (Py_ssize_t c = 0; c < cols; c++) every &= alive[c];                             \
            t->all_alive = every;                                                                \
        }                                                                                        \
    }                                                                                            \
}                                                                                                \
                                                                                                 \
/* The shift of x's and y's sums when the caller leaves it to us (NaN): the mean of the first  \
   entries when |mean| is large against their std, else 0 (initlab.stats._Accumulator.decide). \
   Applies the activation to those entries first (the pass does it again, to the same values). */ \
static ATTR void decide_##SUF(Job *j, double ratio)                                                   \
{                                                                                                \
    const Py_ssize_t k = j->n < DECIDE ? j->n : DECIDE;                                          \
    Out o;                                                                                       \
    if (k == 0) {                                                                                \
        if (isnan(j->shift)) j->shift = 0.0;                                                     \
        if (isnan(j->yshift)) j->yshift = 0.0;                                                   \
        return;                                                                                  \
    }                                                                                            \
    if (j->s != NULL) local_block_##SUF((const T *)j->s, (const T *)j->x, (T *)j->y, k, j->act, (T)j->alpha); \
    else if (j->act != ACT_NONE) act_block_##SUF((const T *)j->y, (T *)j->x, k, j->act, (T)j->alpha); \
    if (isnan(j->shift)) {                                                                       \
        sums_##SUF((const T *)j->x, k, 0.0, &o);                                                 \
        j->shift = choose_shift(o.s, o.ss, k, ratio, sizeof(T));                                 \
    }                                                                                            \
    if (isnan(j->yshift)) {                                                                      \
        j->yshift = 0.0;                                                                         \
        if (j->y != NULL) {                                                                      \
            sums_##SUF((const T *)j->y, k, 0.0, &o);                                             \
            j->yshift = choose_shift(o.s, o.ss, k, ratio, sizeof(T));                            \
        }                                                                                        \
    }                                                                                            \
}

typedef float vf32 __attribute__((vector_size(LANES * sizeof(float))));
typedef double vf64 __attribute__((vector_size(LANES * sizeof(double))));

/* --- instruction sets: one variant of the kernels per set, chosen at import -----------------
 * The module is compiled for the baseline instruction set (x86-64: SSE2), so it loads on any
 * CPU of the architecture; on x86-64 the kernels are compiled twice more, for AVX2 + FMA and
 * for AVX-512 (F, VL, BW, DQ; 512-bit vectors, which measured 10-25% faster than 256-bit on an
 * AVX-512 Xeon), by function attributes, and the best one the CPU supports runs (cpuid, via
 * __builtin_cpu_supports, which also checks that the OS saves the vector registers). Only the
 * functions of DEFINE_KERNELS (and what they inline) carry those attributes; everything else,
 * the thread and Python glue, is baseline code. INITLAB_KERNEL_TARGET=<name> or
 * set_target(name) picks another variant the CPU supports (tests: every variant gives the same
 * bits). Built with INITLAB_NATIVE=1 (setup.py: -march=native), there is one variant, "native".
 * The results are the same bits in every variant: fixed lanes (vector types) for the sums,
 * -ffp-contract=off, and tanh_f32's explicit fmaf, which is exact everywhere. */

#define DEFINE_TARGET(NAME, ATTR, F32EXTRA)                                                      \
    DEFINE_KERNELS(f32_##NAME, float, vf32, floorf, F32EXTRA, ATTR)                               \
    DEFINE_KERNELS(f64_##NAME, double, vf64, floor, ACT_EXTRA_f64, ATTR)

#if !defined(INITLAB_NATIVE) && defined(__x86_64__) && defined(__GNUC__)
#define MULTI_TARGET 1
#if defined(__clang__)
#define ATTR_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#else
#define ATTR_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")))
#endif
#define ATTR_AVX2 __attribute__((target("avx2,fma")))
#else
#define MULTI_TARGET 0
#endif

typedef void (*chunk_fn)(const Job *, Py_ssize_t, Py_ssize_t, Counter *, uint8_t *, Acc *, Out *, Out *);
typedef void (*decide_fn)(Job *, double);
typedef void (*sums_fn)(const void *, Py_ssize_t, double, Out *);

typedef struct Impl {
    const char *name;     /* what build_info() and set_target() call it */
    const char *isa;      /* the instructions the compiler may use in it */
    const char *fma;      /* tanh's fmaf: "instruction" or "exact in double" (fmaf_exact) */
    int (*supported)(void);
    chunk_fn chunk[2];    /* [0] float32, [1] float64 */
    decide_fn decide[2];
    sums_fn sums[2];
} Impl;

static int always(void) { return 1; }

#ifdef FP_FAST_FMAF
DEFINE_TARGET(base, , ACT_EXTRA_f32)
#define BASE_FMA "instruction"
#else
DEFINE_TARGET(base, , ACT_EXTRA_f32_exact)
#define BASE_FMA "exact in double"
#endif
#ifdef INITLAB_NATIVE
#define BASE_NAME "native"
#define BASE_ISA "-march=native"
#else
#define BASE_NAME "baseline"
#define BASE_ISA "the architecture's baseline (x86-64: SSE2)"
#endif

#if MULTI_TARGET
DEFINE_TARGET(avx2, ATTR_AVX2, ACT_EXTRA_f32)
DEFINE_TARGET(avx512, ATTR_AVX512, ACT_EXTRA_f32)

static int has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int has_avx512(void)
{
    return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
}
#endif

#define IMPL(NAME, ISA, FMA, SUPPORTED, SUF)                                                     \
    {NAME, ISA, FMA, SUPPORTED, {chunk_f32_##SUF, chunk_f64_##SUF},                               \
     {decide_f32_##SUF, decide_f64_##SUF}, {sums_f32_##SUF, sums_f64_##SUF}}

/* best first */
static const Impl IMPLS[] = {
#if MULTI_TARGET
    IMPL("avx512", "AVX-512 F/VL/BW/DQ, AVX2, FMA; 512-bit vectors", "instruction", has_avx512, avx512),
    IMPL("avx2", "AVX2, FMA", "instruction", has_avx2, avx2),
#endif
    IMPL(BASE_NAME, BASE_ISA, BASE_FMA, always, base),
};
#define N_IMPLS ((int)(sizeof IMPLS / sizeof IMPLS[0]))

static const Impl *impl_now = &IMPLS[N_IMPLS - 1]; /* set at import: best_impl() */

static const Impl *best_impl(void)
{
    for (int k = 0; k < N_IMPLS; k++)
        if (IMPLS[k].supported()) return &IMPLS[k];
    return &IMPLS[N_IMPLS - 1];
}

/* The variant called `name` if this build has it and the CPU supports it; else NULL and a
   ValueError naming the choices. */
static const Impl *find_impl(const char *name)
{
    for (int k = 0; k < N_IMPLS; k++) {
        if (strcmp(IMPLS[k].name, name) != 0) continue;
        if (IMPLS[k].supported()) return &IMPLS[k];
        PyErr_Format(PyExc_ValueError, "kernel target %s: this CPU does not support it", name);
        return NULL;
    }
    char names[256] = "";
    for (int k = 0; k < N_IMPLS; k++) {
        if (k) strncat(names, ", ", sizeof names - strlen(names) - 1);
        strncat(names, IMPLS[k].name, sizeof names - strlen(names) - 1);
    }
    PyErr_Format(PyExc_ValueError, "kernel target %s: not in this build (%s)", name, names);
    return NULL;
}

/* --- Python glue ---------------------------------------------------------------------------- */

static int get_floats(PyObject *obj, Py_buffer *view, int writable, const char *what)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0)
        return -1;
    const char *f = view->format ? view->format : "B";
    if (f[0] == '<' || f[0] == '=' || f[0] == '@') f++;
    if (!((f[0] == 'f' && view->itemsize == 4) || (f[0] == 'd' && view->itemsize == 8))) {
        PyErr_Format(PyExc_TypeError, "%s: need a float32 or float64 buffer, got format '%s'",
                     what, view->format ? view->format : "B");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int get_bytes(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, Py_ssize_t n, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0)
        return -1;
    if (view->len < itemsize * n) {
        PyErr_Format(PyExc_ValueError, "%s: buffer too small", what);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(sums_doc,
"sums(x, shift) -> (s, ss)\n\n"
"Over the float32/float64 buffer x: the sum of (x - shift) and of (x - shift)**2, in fixed\n"
"lanes added in double (non-finite when x has inf or NaN entries).");

static PyObject *py_sums(PyObject *self, PyObject *args)
{
    PyObject *xo;
    double shift;
    if (!PyArg_ParseTuple(args, "Od", &xo, &shift))
        return NULL;
    Py_buffer xv;
    if (get_floats(xo, &xv, 0, "x") < 0)
        return NULL;
    Out o;
    Py_BEGIN_ALLOW_THREADS
    const Impl *im = impl_now;
    im->sums[xv.itemsize == 8](xv.buf, xv.len / xv.itemsize, shift, &o);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&xv);
    return Py_BuildValue("dd", o.s, o.ss);
}

/* --- a layer on the caller's thread and one worker ------------------------------------------
 * Both take chunks in turn from the job's counter until none is left (the worker joins when it
 * is awake; a late worker takes fewer chunks or none). The worker is a thread of our own that
 * sleeps on a condition variable between layers (it does not spin, so it leaves the cores to
 * BLAS during the products). */

static void run_thread(Job *j, Acc *t, int shared)
{
    Counter cnt;
    uint8_t idx[BLOCK];
    const Hist *h = j->hist;
    if (h->on) counter_init(&cnt, h->bins + 2);
    for (Py_ssize_t mine = 0;; mine++) {
        const Py_ssize_t c = shared ? (Py_ssize_t)atomic_fetch_add(&j->next, 1) : mine;
        if (c >= j->n_chunks) break;
        const Py_ssize_t a0 = c * j->chunk, a1 = a0 + j->chunk < j->n ? a0 + j->chunk : j->n;
        Out o, yo;
        j->impl->chunk[j->is64](j, a0, a1, &cnt, idx, t, &o, &yo);
        double *sums = j->sums + 4 * c;
        sums[0] = o.s; sums[1] = o.ss; sums[2] = yo.s; sums[3] = yo.ss;
    }
    if (h->on) counter_flush(&cnt, t->counts);
}

static int n_threads = 2;

/* The worker sleeps on a condition variable, so it leaves the cores to BLAS during the matrix
 * products. Posting a job wakes it (measured: it joins ~40-90 us later, on the other core, see
 * keep_off_caller); the caller starts on the chunks at once and the worker takes what is left
 * when it arrives (never slower than one thread). When numpy applies the activation before the
 * pass, stats.py calls prepare() first: the worker wakes meanwhile and spins (for at most
 * SPIN_NS, yielding now and then) until the job is posted. */
#define SPIN_NS 3000000LL

static pthread_mutex_t owner = PTHREAD_MUTEX_INITIALIZER; /* one caller at a time uses the worker */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;
static int started = 0, wake_req = 0;      /* under mu */
static pthread_t worker;
#ifdef __linux__
static int excluded = -1, n_allowed = -1; /* the CPU the worker is kept off; CPUs we may use */
static cpu_set_t allowed;
#endif
static atomic_int spinning, job_ready, job_finished;
static Job *job_now;
static Acc *acc_now;

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int take_job(void)
{
    if (atomic_load(&job_ready) && atomic_exchange(&job_ready, 0)) {
        run_thread(job_now, acc_now, 1);
        atomic_store(&job_finished, 1);
        return 1;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!wake_req) pthread_cond_wait(&go, &mu);
        wake_req = 0;
        pthread_mutex_unlock(&mu);
        atomic_store(&spinning, 1);
        const long long deadline = now_ns() + SPIN_NS;
        for (int i = 0;; i++) {
            if (take_job()) break;
            if ((i & 255) == 255) {
                if (now_ns() > deadline) {
                    atomic_store(&spinning, 0);
                    take_job(); /* posted just as the spin ended */
                    break;
                }
                sched_yield(); /* in case we share a core with the caller */
            }
            cpu_relax();
        }
        atomic_store(&spinning, 0);
        pthread_mutex_lock(&mu);
    }
    return NULL;
}

static void after_fork_child(void)
{ /* the worker does not exist in a forked child: start another when needed */
    pthread_mutex_init(&owner, NULL);
    pthread_mutex_init(&mu, NULL);
    pthread_cond_init(&go, NULL);
    started = wake_req = 0;
#ifdef __linux__
    excluded = -1;
#endif
    atomic_store(&spinning, 0);
    atomic_store(&job_ready, 0);
    atomic_store(&job_finished, 0);
}

/* Wake the worker (start it the first time) unless it is spinning already; 0 if it cannot run. */
static int wake_worker(void)
{
    if (atomic_load(&spinning)) return 1;
    pthread_mutex_lock(&mu);
    if (!started) {
        pthread_attr_t attr;
        pthread_t t;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 1 << 20);
        started = pthread_create(&t, &attr, worker_main, NULL) == 0;
        if (started) worker = t;
        pthread_attr_destroy(&attr);
    }
    if (started) {
        wake_req = 1;
        pthread_cond_signal(&go);
    }
    int ok = started;
    pthread_mutex_unlock(&mu);
    return ok;
}

/* Keep the worker off the caller's core. Woken from the caller's core, the worker tends to be
 * queued there (the other core is never idle: BLAS's threads spin on it between products), and
 * then it runs only after the caller's half, or at the next scheduler tick. Allowing it every
 * CPU but the caller's (re-done only when the caller has moved, ~1 us) puts it where BLAS's
 * spinning thread yields to it. */
static void keep_off_caller(void)
{
#ifdef __linux__
    if (n_allowed < 0) {
        CPU_ZERO(&allowed);
        n_allowed = sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : 0;
    }
    const int cpu = sched_getcpu();
    if (n_allowed < 2 || cpu < 0 || cpu == excluded || !CPU_ISSET(cpu, &allowed)) return;
    cpu_set_t set = allowed;
    CPU_CLR(cpu, &set);
    if (pthread_setaffinity_np(worker, sizeof set, &set) == 0) excluded = cpu;
#endif
}

/* Every chunk of the job, on the worker too when it is free; acc[0] and acc[1] filled. */
static void run_layer(Job *j, Acc acc[2])
{
    atomic_store(&j->next, 0);
    if (n_threads > 1 && j->n_chunks > 1 && pthread_mutex_trylock(&owner) == 0) {
        job_now = j;
        acc_now = &acc[1];
        atomic_store(&job_finished, 0);
        atomic_store(&job_ready, 1);
        if (!wake_worker()) atomic_store(&job_ready, 0);
        else keep_off_caller();
        run_thread(j, &acc[0], 1);
        if (!atomic_exchange(&job_ready, 0)) { /* the worker joined: wait for its last chunk */
            /* yielding now and then: should the scheduler have put the worker on this core,
               spinning alone would keep it from finishing until the next tick */
            for (int i = 1; !atomic_load(&job_finished); i++) {
                if ((i & 63) == 0) sched_yield();
                else cpu_relax();
            }
        }
        pthread_mutex_unlock(&owner);
        return;
    }
    run_thread(j, &acc[0], 0);
}

static PyObject *py_prepare(PyObject *self, PyObject *args)
{
    if (n_threads > 1) wake_worker();
    Py_RETURN_NONE;
}

PyDoc_STRVAR(summary_doc,
"summary(x, cols, shift, hist, counts, sat, alive, y=None, yshift=0.0, act=0, alpha=0.0)\n"
"    -> (s, ss, zeros, saturated, ys, yss, shift, yshift)\n\n"
"Every per-entry statistic of the float32/float64 buffer x (rows of `cols` entries) in one pass,\n"
"in chunks on two threads. s, ss: sums of (x - shift) and its squares; shift NaN: chosen here\n"
"(the mean of the first entries when it is large against their std, else 0) and returned.\n"
"hist: None or (bins, mode, k0, scale, offset, lo, hi), mode 0 plain, 1 floor (0 an edge,\n"
"scale >= 1), 2 sign (0 an edge, scale < 1); counts: an int64 buffer of bins + 2 entries\n"
"(below, above last) that the counts are added to. sat: None or (lo, hi): entries <= lo or >= hi.\n"
"alive: None or a zeroed uint8 buffer of `cols` entries: 1 where the column has a nonzero entry.\n"
"y: None or a second buffer of x's size and dtype whose sums about yshift are returned too.\n"
"act: 0, or the activation that the pass writes into x from y (x must not overlap y):\n"
"1 linear, 2 tanh (float32 only), 3 relu, 4 leaky relu with slope alpha.\n"
"s: None, or (with act) that activation's outputs: then the pass writes the local gradient\n"
"y = act'(s) * x into y (numpy's operations; y must not overlap x or s) instead.");

static int overlap(const Py_buffer *a, const Py_buffer *b)
{
    const char *a0 = a->buf, *b0 = b->buf;
    return a0 < b0 + b->len && b0 < a0 + a->len;
}

static PyObject *py_summary(PyObject *self, PyObject *args)
{
    PyObject *xo, *histo, *countso, *sato, *aliveo, *yo = Py_None, *so = Py_None;
    Py_ssize_t cols;
    double shift, yshift = 0.0, alpha = 0.0;
    int act = ACT_NONE;
    if (!PyArg_ParseTuple(args, "OndOOOO|OdidO", &xo, &cols, &shift, &histo, &countso, &sato, &aliveo,
                          &yo, &yshift, &act, &alpha, &so))
        return NULL;
    const int local = so != Py_None;
    if (local && act == ACT_NONE) {
        PyErr_SetString(PyExc_ValueError, "s: needs act, the activation whose derivative is taken");
        return NULL;
    }
    if (act < 0 || act >= ACT_COUNT || (act != ACT_NONE && yo == Py_None)) {
        PyErr_SetString(PyExc_ValueError, "act: 0, or 1-4 with y the activation's input");
        return NULL;
    }
    Hist h;
    memset(&h, 0, sizeof h);
    if (histo != Py_None) {
        if (!PyArg_ParseTuple(histo, "iiidddd", &h.bins, &h.mode, &h.k0, &h.scale, &h.offset, &h.lo, &h.hi))
            return NULL;
        if (h.bins < 1 || h.bins + 2 > MAX_SLOTS || h.mode < 0 || h.mode > 2 ||
            (h.mode != MODE_PLAIN && (h.k0 < 1 || h.k0 >= h.bins))) {
            PyErr_SetString(PyExc_ValueError, "hist: bad (bins, mode, k0)");
            return NULL;
        }
        h.on = 1;
    }
    Job *j = PyMem_RawCalloc(1, sizeof(Job));
    if (!j) return PyErr_NoMemory();
    if (sato != Py_None) {
        if (!PyArg_ParseTuple(sato, "dd", &j->slo, &j->shi)) {
            PyMem_RawFree(j);
            return NULL;
        }
        j->want_sat = 1;
    }
    Py_buffer xv, yv, cv, av, sv;
    int have_y = yo != Py_None, have_c = 0, have_a = 0, have_s = 0;
    if (get_floats(xo, &xv, act != ACT_NONE && !local, "x") < 0) {
        PyMem_RawFree(j);
        return NULL;
    }
    Py_ssize_t n = xv.len / xv.itemsize;
    PyObject *result = NULL;
    uint8_t *alive1 = NULL;
    if (have_y && get_floats(yo, &yv, local, "y") < 0) {
        have_y = 0;
        goto out;
    }
    if (local) {
        if (get_floats(so, &sv, 0, "s") < 0) goto out;
        have_s = 1;
        if (sv.len != xv.len || sv.itemsize != xv.itemsize || overlap(&yv, &sv)) {
            PyErr_SetString(PyExc_ValueError, "s must match x and not overlap y");
            goto out;
        }
    }
    if (cols < 1 || n % cols != 0 || (have_y && (yv.len != xv.len || yv.itemsize != xv.itemsize))) {
        PyErr_SetString(PyExc_ValueError, "cols must divide the number of entries, y must match x");
        goto out;
    }
    if (act != ACT_NONE && (overlap(&xv, &yv) || (act == ACT_TANH && !local && xv.itemsize != 4))) {
        PyErr_SetString(PyExc_ValueError, "act: x must not overlap y; tanh is float32 only");
        goto out;
    }
    if (h.on) {
        if (get_bytes(countso, &cv, 8, h.bins + 2, "counts") < 0) goto out;
        have_c = 1;
    }
    if (aliveo != Py_None) {
        if (get_bytes(aliveo, &av, 1, cols, "alive") < 0) goto out;
        have_a = 1;
        alive1 = PyMem_RawCalloc((size_t)cols, 1);
        if (!alive1) { PyErr_NoMemory(); goto out; }
    }
    j->x = xv.buf; j->y = have_y ? yv.buf : NULL;
    j->n = n; j->rows = n / cols; j->cols = cols; j->is64 = xv.itemsize == 8;
    j->shift = shift; j->yshift = have_y ? yshift : 0.0; j->hist = &h;
    j->act = act; j->alpha = alpha; j->s = have_s ? sv.buf : NULL; j->impl = impl_now;
    /* chunks of whole rows when dead units are tracked, else of whole blocks */
    const Py_ssize_t unit = have_a ? cols : BLOCK;
    j->chunk = unit >= CHUNK ? unit : (CHUNK / unit) * unit;
    j->n_chunks = n == 0 ? 0 : (n + j->chunk - 1) / j->chunk;
    j->sums = PyMem_RawCalloc((size_t)(j->n_chunks > 0 ? j->n_chunks : 1) * 4, sizeof(double));
    if (!j->sums) { PyErr_NoMemory(); goto out; }
    Acc *acc = PyMem_RawCalloc(2, sizeof(Acc));
    if (!acc) { PyErr_NoMemory(); goto out; }
    acc[0].alive = have_a ? (uint8_t *)av.buf : NULL;
    acc[1].alive = alive1;
    Py_BEGIN_ALLOW_THREADS
    if (isnan(j->shift) || isnan(j->yshift)) {
        j->impl->decide[j->is64](j, j->is64 ? 1e3 : 4.0);
    }
    run_layer(j, acc);
    Py_END_ALLOW_THREADS
    if (have_c) {
        int64_t *counts = (int64_t *)cv.buf;
        for (int k = 0; k < h.bins + 2; k++) counts[k] += acc[0].counts[k] + acc[1].counts[k];
    }
    if (have_a) {
        uint8_t *a = (uint8_t *)av.buf;
        if (acc[0].all_alive || acc[1].all_alive) memset(a, 1, (size_t)cols);
        else for (Py_ssize_t k = 0; k < cols; k++) a[k] |= alive1[k];
    }
    double tot[4] = {0.0, 0.0, 0.0, 0.0};
    for (Py_ssize_t c = 0; c < j->n_chunks; c++)
        for (int k = 0; k < 4; k++) tot[k] += j->sums[4 * c + k];
    result = Py_BuildValue("ddLLdddd", tot[0], tot[1], acc[0].zeros + acc[1].zeros,
                           acc[0].sat + acc[1].sat, tot[2], tot[3], j->shift, j->yshift);
    PyMem_RawFree(acc);
out:
    PyMem_RawFree(j->sums);
    PyMem_RawFree(j);
    PyMem_RawFree(alive1);
    if (have_a) PyBuffer_Release(&av);
    if (have_c) PyBuffer_Release(&cv);
    if (have_s) PyBuffer_Release(&sv);
    if (have_y) PyBuffer_Release(&yv);
    PyBuffer_Release(&xv);
    return result;
}

static PyObject *py_set_threads(PyObject *self, PyObject *args)
{
    int k;
    if (!PyArg_ParseTuple(args, "i", &k))
        return NULL;
    int old = n_threads;
    n_threads = k > 1 ? 2 : 1;
    return PyLong_FromLong(old);
}

static PyObject *py_set_target(PyObject *self, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    const Impl *im = find_impl(name);
    if (im == NULL) return NULL;
    const char *old = impl_now->name;
    impl_now = im; /* calls already running keep theirs (Job.impl) */
    return PyUnicode_FromString(old);
}

#ifndef INITLAB_CFLAGS
#define INITLAB_CFLAGS "?"
#endif
#if defined(__clang__)
#define COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define COMPILER "gcc " __VERSION__
#else
#define COMPILER "unknown"
#endif

static PyObject *py_build_info(PyObject *self, PyObject *noargs)
{
    PyObject *built = PyList_New(0), *usable = PyList_New(0);
    if (!built || !usable) goto fail;
    for (int k = 0; k < N_IMPLS; k++) {
        PyObject *name = PyUnicode_FromString(IMPLS[k].name);
        if (!name || PyList_Append(built, name) < 0 ||
            (IMPLS[k].supported() && PyList_Append(usable, name) < 0)) {
            Py_XDECREF(name);
            goto fail;
        }
        Py_DECREF(name);
    }
    const Impl *im = impl_now;
    PyObject *d = Py_BuildValue("{s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:O}", "compiler", COMPILER,
                                "flags", INITLAB_CFLAGS, "target", im->name, "isa", im->isa,
                                "best", best_impl()->name, "tanh_fma", im->fma,
                                "targets", built, "supported", usable);
    Py_DECREF(built);
    Py_DECREF(usable);
    return d;
fail:
    Py_XDECREF(built);
    Py_XDECREF(usable);
    return NULL;
}

static PyMethodDef methods[] = {
    {"sums", py_sums, METH_VARARGS, sums_doc},
    {"summary", py_summary, METH_VARARGS, summary_doc},
    {"prepare", py_prepare, METH_NOARGS,
     "prepare(): wake the worker thread ahead of a summary() call (call it before the work that\n"
     "precedes the summary, e.g. the activation)."},
    {"set_threads", py_set_threads, METH_VARARGS,
     "set_threads(k) -> previous: 2 (the default) lets the worker thread take chunks too, 1 runs\n"
     "them all on the caller (the same results either way)."},
    {"set_target", py_set_target, METH_VARARGS,
     "set_target(name) -> previous: run the kernels' variant `name` (one of build_info()['targets']\n"
     "that the CPU supports; ValueError otherwise). Every variant gives the same bits; at import\n"
     "the best supported one is chosen, or INITLAB_KERNEL_TARGET's."},
    {"build_info", py_build_info, METH_NOARGS,
     "build_info() -> dict: compiler, flags (the compile options), target (the variant running),\n"
     "isa (its instructions), best (the best variant this CPU supports), tanh_fma ('instruction' or\n"
     "'exact in double': how tanh_f32's fused multiply-adds are done; the same bits either way), targets (built, best\n"
     "first), supported (those this CPU can run)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fused",
    "One-pass activation and per-entry statistics for initlab.engine.stats (see _fused.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fused(void)
{
    static int registered = 0;
    if (!registered) {
        pthread_atfork(NULL, NULL, after_fork_child);
        registered = 1;
    }
    impl_now = best_impl();
    const char *want = getenv("INITLAB_KERNEL_TARGET");
    if (want != NULL && want[0] != '\0') {
        const Impl *im = find_impl(want);
        if (im != NULL) impl_now = im;
        else { /* a warning, not an ImportError: that would quietly switch to the numpy path */
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyObject *msg = value ? PyObject_Str(value) : NULL;
            Py_XDECREF(type); Py_XDECREF(value); Py_XDECREF(tb);
            if (msg == NULL) { PyErr_Clear(); msg = PyUnicode_FromString(want); }
            if (msg == NULL) return NULL;
            int bad = PyErr_WarnFormat(PyExc_RuntimeWarning, 1, "INITLAB_KERNEL_TARGET: %U; using %s",
                                       msg, impl_now->name) < 0;
            Py_XDECREF(msg);
            if (bad) return NULL;
        }
    }
    return PyModule_Create(&module);
}
