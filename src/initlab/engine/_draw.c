/* initlab.engine._draw: i.i.d. weight draws (normal, truncated normal, uniform) at memory speed.
 *
 * What is drawn (initlab.engine.draw documents it for users; _draw_numpy.py is the same
 * algorithm in numpy, and both give the same bits):
 *  - words: entry j of an array drawn with key (s, g) reads 64-bit words
 *        word(j, c) = mix(s + j * g + c * (g << 40))          (mod 2^64)
 *    for planes c = 3 t + lane, t the entry's attempt ("slot"), lane 0 the Ziggurat's word,
 *    lanes 1 and 2 its extra uniforms. For a fixed plane this is SplitMix64 (Steele, Lea &
 *    Flood 2014, Java's SplittableRandom) with gamma g: mix is its output function (Stafford's
 *    Mix13), s + j g its Weyl state; a word depends only on (key, j, c), so any split of the
 *    entries between threads gives the same array.
 *  - uniforms: u = (word >> 12) 2^-52 in [0, 1) (52 random bits, exact); float32 uniform
 *    arrays take two 24-bit uniforms from each word of entry pair p = j / 2 (bits 8-31 for the
 *    even entry, 40-63 for the odd one): half the hashing, float32's own resolution.
 *  - normals: the Ziggurat of Marsaglia & Tsang (2000) with 256 layers and tail by
 *    Marsaglia's (1964) exponential method; tables X, K, W, F, D come from Python (draw.py
 *    computes them once, so both paths use the very same doubles). Layer i = word & 255, sign
 *    bit 8, m = word >> 12 (52 bits), x = m W[i]; accepted at once if m < K[i]; otherwise the
 *    wedge test F[i] + u D[i] < exp(-x^2 / 2) with u from lane 1 (rejection: next slot), or,
 *    in layer 0, the tail r + xx, xx = -log1p(-u1) / r, accepted when -2 log1p(-u2) > xx^2
 *    (lanes 1 and 2, next slot's lanes until accepted: the tail is sampled exactly, not
 *    restarted, which would under-weight it).
 *  - truncated normal: normals on further slots until one falls in [alpha, beta] (rejection
 *    from the normal itself; the caller uses it where its acceptance is the best proposal).
 *  - output: x * std + mean (or u * width + low) in double, rounded once to the array's
 *    dtype; truncated draws clipped to [lo, hi] given in that dtype.
 *
 * Speed: a block of 1024 entries is drawn in a branch-free loop the compiler vectorizes (the
 * fast Ziggurat path, ~99% of entries), then the few entries it flagged go through the exact
 * scalar path. x86-64 builds carry AVX2 and AVX-512 variants chosen at import, all giving the
 * same bits (integer hashing, exact conversions, -ffp-contract=off). exp and log1p are libm's
 * in the rare paths (math.exp / math.log1p in the numpy path: the same functions).
 *
 * The GIL is released while filling; draw.py splits an array between threads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define ZN 256
#define BLOCK 1024

static uint64_t K[ZN];
static double W[ZN], F[ZN], D[ZN], R = 0.0;
static int tables_set = 0;

enum { KIND_NORMAL = 0, KIND_TRUNC = 1, KIND_UNIFORM = 2 };

typedef struct {
    int kind;
    uint64_t s, g;
    double a, b;            /* truncation bounds of the standard normal */
    double scale, shift;    /* out = x * scale + shift */
    double lo, hi;          /* clip (truncated), already values of the dtype */
} Spec;

static inline __attribute__((always_inline)) uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline __attribute__((always_inline)) double bits_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static inline __attribute__((always_inline)) uint64_t bits_u64(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

/* m < 2^52 as a double, exactly (no 64-bit integer conversion needed: vectorizes on AVX2) */
static inline __attribute__((always_inline)) double m_double(uint64_t m)
{
    return bits_double(0x4330000000000000ULL | m) - 0x1p52;
}

static inline __attribute__((always_inline)) double unif(uint64_t w)
{
    return bits_double(0x3FF0000000000000ULL | (w >> 12)) - 1.0;
}

/* The standard normal of entry j from slot *slot on (scalar, exact); *slot becomes the first
   slot not used. */
static double normal_at(const Spec *sp, uint64_t j, uint64_t *slot)
{
    const uint64_t base = sp->s + j * sp->g, g40 = sp->g << 40;
    uint64_t t = *slot;
    for (;;) {
        uint64_t w = mix(base + (3 * t) * g40);
        int i = (int)(w & 0xff);
        uint64_t m = w >> 12;
        int neg = (int)((w >> 8) & 1);
        double x = m_double(m) * W[i];
        if (m < K[i]) {
            *slot = t + 1;
            return neg ? -x : x;
        }
        if (i == 0) {
            for (;;) {
                double u1 = unif(mix(base + (3 * t + 1) * g40));
                double u2 = unif(mix(base + (3 * t + 2) * g40));
                t++;
                double xx = -log1p(-u1) / R, yy = -log1p(-u2);
                if (yy + yy > xx * xx) {
                    *slot = t;
                    x = R + xx;
                    return neg ? -x : x;
                }
            }
        }
        double u = unif(mix(base + (3 * t + 1) * g40));
        t++;
        if (F[i] + u * D[i] < exp(-0.5 * x * x)) {
            *slot = t;
            return neg ? -x : x;
        }
    }
}

static double slow_value(const Spec *sp, uint64_t j)
{
    uint64_t slot = 0;
    for (;;) {
        double x = normal_at(sp, j, &slot);
        if (sp->kind != KIND_TRUNC || (x >= sp->a && x <= sp->b))
            return x;
    }
}

/* One block: (1) the fast path into x[] with a flag per entry, a loop without branches that the
   compiler vectorizes (the table reads become gathers); (2) the flagged entries (~1.5%, ~6% for a
   +-2 truncation) by the exact scalar path; (3) scale, shift, round to T (and clip). */
#define DEFINE_FILL(SUF, T, ATTR)                                                                  \
    static ATTR void fill_##SUF(const Spec *sp, T *restrict out, uint64_t j0, Py_ssize_t n)      \
    {                                                                                              \
        double x[BLOCK + 1];                                                                       \
        uint8_t flag[BLOCK + 8];                                                                   \
        const uint64_t s = sp->s, g = sp->g;                                                       \
        const double scale = sp->scale, shift = sp->shift, a = sp->a, b = sp->b;                   \
        const T lo = (T)sp->lo, hi = (T)sp->hi;                                                    \
        for (Py_ssize_t k0 = 0; k0 < n; k0 += BLOCK) {                                             \
            const int nb = (int)(n - k0 < BLOCK ? n - k0 : BLOCK);                                 \
            T *restrict o = out + k0;                                                              \
            const uint64_t b0 = s + (j0 + (uint64_t)k0) * g;                                       \
            if (sp->kind == KIND_UNIFORM && sizeof(T) == 4) { /* two 24-bit uniforms a word */     \
                const uint64_t p0 = s + ((j0 + (uint64_t)k0) >> 1) * g;                            \
                const int np = (nb + 1) >> 1;                                                      \
                _Pragma("omp simd")                                                                \
                for (int p = 0; p < np; p++) {                                                     \
                    uint64_t w = mix(p0 + (uint64_t)p * g);                                        \
                    x[2 * p] = (double)(uint32_t)((w & 0xffffffffu) >> 8) * 0x1p-24;               \
                    x[2 * p + 1] = (double)(uint32_t)(w >> 40) * 0x1p-24;                          \
                }                                                                                  \
                _Pragma("omp simd")                                                                \
                for (int k = 0; k < nb; k++)                                                       \
                    o[k] = (T)(x[k] * scale + shift);                                              \
                continue;                                                                          \
            }                                                                                      \
            if (sp->kind == KIND_UNIFORM) {                                                        \
                _Pragma("omp simd")                                                                \
                for (int k = 0; k < nb; k++)                                                       \
                    o[k] = (T)(unif(mix(b0 + (uint64_t)k * g)) * scale + shift);                   \
                continue;                                                                          \
            }                                                                                      \
            int64_t any = 0;                                                                       \
            _Pragma("omp simd reduction(|:any)")                                                   \
            for (int k = 0; k < nb; k++) {                                                         \
                uint64_t w = mix(b0 + (uint64_t)k * g);                                            \
                int64_t i = (int64_t)(w & 0xff);                                                   \
                int64_t m = (int64_t)(w >> 12);                                                    \
                uint64_t xb = bits_u64(m_double((uint64_t)m) * W[i]) ^ ((w >> 8) << 63);           \
                double xv = bits_double(xb);                                                       \
                int64_t f = (int64_t)(m >= (int64_t)K[i]) | (int64_t)(xv < a) | (int64_t)(xv > b); \
                x[k] = xv;                                                                         \
                flag[k] = (uint8_t)f;                                                              \
                any |= f;                                                                          \
            }                                                                                      \
            if (any) { /* scan the flags 8 at a time: ~1.5% are set */                              \
                memset(flag + nb, 0, 8);                                                           \
                for (int k8 = 0; k8 < nb; k8 += 8) {                                               \
                    uint64_t f8;                                                                   \
                    memcpy(&f8, flag + k8, sizeof f8);                                             \
                    if (!f8) continue;                                                             \
                    for (int k = k8; k < k8 + 8 && k < nb; k++)                                    \
                        if (flag[k]) x[k] = slow_value(sp, j0 + (uint64_t)k0 + (uint64_t)k);      \
                }                                                                                  \
            }                                                                                      \
            if (sp->kind == KIND_TRUNC) {                                                          \
                _Pragma("omp simd")                                                                \
                for (int k = 0; k < nb; k++) {                                                     \
                    T v = (T)(x[k] * scale + shift);                                               \
                    v = v < lo ? lo : v;                                                           \
                    o[k] = v > hi ? hi : v;                                                        \
                }                                                                                  \
            } else {                                                                               \
                _Pragma("omp simd")                                                                \
                for (int k = 0; k < nb; k++)                                                       \
                    o[k] = (T)(x[k] * scale + shift);                                              \
            }                                                                                      \
        }                                                                                          \
    }

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

typedef void (*fill32_fn)(const Spec *, float *, uint64_t, Py_ssize_t);
typedef void (*fill64_fn)(const Spec *, double *, uint64_t, Py_ssize_t);

typedef struct {
    const char *name;
    int (*supported)(void);
    fill32_fn f32;
    fill64_fn f64;
} Impl;

static int always(void) { return 1; }

DEFINE_FILL(f32_base, float, )
DEFINE_FILL(f64_base, double, )
#ifdef INITLAB_NATIVE
#define BASE_NAME "native"
#else
#define BASE_NAME "baseline"
#endif

#if MULTI_TARGET
DEFINE_FILL(f32_avx2, float, ATTR_AVX2)
DEFINE_FILL(f64_avx2, double, ATTR_AVX2)
DEFINE_FILL(f32_avx512, float, ATTR_AVX512)
DEFINE_FILL(f64_avx512, double, ATTR_AVX512)

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

static const Impl IMPLS[] = {
#if MULTI_TARGET
    {"avx512", has_avx512, fill_f32_avx512, fill_f64_avx512},
    {"avx2", has_avx2, fill_f32_avx2, fill_f64_avx2},
#endif
    {BASE_NAME, always, fill_f32_base, fill_f64_base},
};
#define N_IMPLS ((int)(sizeof IMPLS / sizeof IMPLS[0]))
static const Impl *impl_now = &IMPLS[N_IMPLS - 1];

/* --- Python glue ---------------------------------------------------------------------------- */

static int get_table(PyObject *obj, void *dst, Py_ssize_t bytes)
{
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (v.len != bytes) {
        PyErr_Format(PyExc_ValueError, "table of %zd bytes, need %zd", v.len, bytes);
        PyBuffer_Release(&v);
        return -1;
    }
    memcpy(dst, v.buf, (size_t)bytes);
    PyBuffer_Release(&v);
    return 0;
}

static PyObject *py_set_tables(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *k, *w, *f, *d;
    double r;
    if (!PyArg_ParseTuple(args, "OOOOd", &k, &w, &f, &d, &r)) return NULL;
    if (get_table(k, K, sizeof K) < 0 || get_table(w, W, sizeof W) < 0 ||
        get_table(f, F, sizeof F) < 0 || get_table(d, D, sizeof D) < 0)
        return NULL;
    R = r;
    tables_set = 1;
    Py_RETURN_NONE;
}

static PyObject *py_fill(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *obj;
    Spec sp;
    unsigned long long s, g, start;
    if (!PyArg_ParseTuple(args, "OiKKKdddddd", &obj, &sp.kind, &s, &g, &start, &sp.a, &sp.b,
                          &sp.scale, &sp.shift, &sp.lo, &sp.hi))
        return NULL;
    if (!tables_set) {
        PyErr_SetString(PyExc_RuntimeError, "_draw.set_tables() was not called");
        return NULL;
    }
    if (sp.kind < KIND_NORMAL || sp.kind > KIND_UNIFORM) {
        PyErr_Format(PyExc_ValueError, "kind %d: 0 normal, 1 truncated, 2 uniform", sp.kind);
        return NULL;
    }
    if (sp.kind == KIND_NORMAL) { /* no truncation: bounds that reject nothing */
        sp.a = -INFINITY;
        sp.b = INFINITY;
    }
    sp.s = s;
    sp.g = g;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        return NULL;
    const char *f = v.format ? v.format : "B";
    if (f[0] == '<' || f[0] == '=' || f[0] == '@') f++;
    int is32 = f[0] == 'f' && v.itemsize == 4, is64 = f[0] == 'd' && v.itemsize == 8;
    if (!is32 && !is64) {
        PyErr_Format(PyExc_TypeError, "fill: need a float32 or float64 buffer, got '%s'", f);
        PyBuffer_Release(&v);
        return NULL;
    }
    Py_ssize_t n = v.len / v.itemsize;
    if (is32 && sp.kind == KIND_UNIFORM && (start & 1)) {
        PyErr_SetString(PyExc_ValueError, "fill: float32 uniforms start at an even entry");
        PyBuffer_Release(&v);
        return NULL;
    }
    const Impl *im = impl_now;
    Py_BEGIN_ALLOW_THREADS
    if (is32) im->f32(&sp, (float *)v.buf, (uint64_t)start, n);
    else im->f64(&sp, (double *)v.buf, (uint64_t)start, n);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&v);
    Py_RETURN_NONE;
}

static PyObject *py_set_target(PyObject *Py_UNUSED(self), PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    for (int k = 0; k < N_IMPLS; k++) {
        if (strcmp(IMPLS[k].name, name) != 0) continue;
        if (!IMPLS[k].supported()) {
            PyErr_Format(PyExc_ValueError, "draw target %s: this CPU does not support it", name);
            return NULL;
        }
        const char *prev = impl_now->name;
        impl_now = &IMPLS[k];
        return PyUnicode_FromString(prev);
    }
    PyErr_Format(PyExc_ValueError, "draw target %s: not in this build", name);
    return NULL;
}

static PyObject *py_build_info(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(noargs))
{
    PyObject *targets = PyList_New(0);
    if (!targets) return NULL;
    for (int k = 0; k < N_IMPLS; k++) {
        if (!IMPLS[k].supported()) continue;
        PyObject *name = PyUnicode_FromString(IMPLS[k].name);
        if (!name || PyList_Append(targets, name) < 0) {
            Py_XDECREF(name);
            Py_DECREF(targets);
            return NULL;
        }
        Py_DECREF(name);
    }
    PyObject *d = Py_BuildValue("{s:s,s:O}", "target", impl_now->name, "supported", targets);
    Py_DECREF(targets);
    return d;
}

static PyMethodDef methods[] = {
    {"set_tables", py_set_tables, METH_VARARGS,
     "set_tables(K, W, F, D, r): the Ziggurat's tables (256 uint64, 3 x 256 float64) and r."},
    {"fill", py_fill, METH_VARARGS,
     "fill(out, kind, s, g, start, a, b, scale, shift, lo, hi): fill the C-contiguous float32/\n"
     "float64 buffer out with entries start, start + 1, ... of the draw with key (s, g); kind 0\n"
     "normal, 1 normal truncated to [a, b] (clipped to [lo, hi] after scaling), 2 uniform. The\n"
     "GIL is released."},
    {"set_target", py_set_target, METH_VARARGS,
     "set_target(name) -> previous: run variant name (avx512, avx2, baseline); the same bits."},
    {"build_info", py_build_info, METH_NOARGS,
     "build_info() -> {'target': running variant, 'supported': variants this CPU runs}."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_draw", "Weight draws at memory speed for initlab.engine.draw (see _draw.c).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__draw(void)
{
    for (int k = 0; k < N_IMPLS; k++)
        if (IMPLS[k].supported()) {
            impl_now = &IMPLS[k];
            break;
        }
    return PyModule_Create(&module);
}
