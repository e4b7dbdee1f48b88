/* initlab._fused: one pass over a chunk for every per-entry statistic of initlab.stats.
 *
 * Why C: after a layer's matrix product, numpy needs ~10 separate passes over the layer for
 * moments, min/max, zeros, saturation, dead units and the histogram's bin indices and counts
 * (6-8 ns per entry on the 2-core machine, more than a width-500 product's ~5 ns). Here they
 * are one loop over a block of 1024 entries that the compiler vectorizes (#pragma omp simd,
 * compiled with -fopenmp-simd: no OpenMP runtime, only permission to reorder the sums), and a
 * scalar loop that counts the block's bin indices into four interleaved tables.
 *
 * Exactness: the same statistics as initlab.stats' numpy path, entry for entry:
 *  - bin index in the array's own precision with numpy's arithmetic (scale and offset rounded
 *    to the dtype as numpy's weak Python scalars are): trunc(x * scale + offset), or
 *    floor(x * scale) + k0 when 0 is an edge and scale >= 1; with 0 an edge and scale < 1 a
 *    negative x rounded onto the 0 edge goes to the bin below it (the sign decides). Out of
 *    range by exact comparisons with lo and hi (rounded to the dtype), x == hi in the last bin;
 *  - sums of (x - shift) and (x - shift)^2 accumulated in double (8 lanes);
 *  - zeros, saturation (x <= lo or x >= hi), min/max, non-finite count, columns seen nonzero.
 * A chunk with a non-finite entry is reported (bad > 0) and the caller recomputes that layer
 * with the numpy path, which knows how to exclude such entries.
 *
 * Arrays come in through the buffer protocol (C-contiguous, float32 or float64); nothing here
 * imports numpy, and the GIL is released while a chunk is summarized.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdint.h>
#include <string.h>

#define BLOCK 1024 /* entries per block: a multiple of SUB */
#define SUB 128
#define LANES 8
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

/* --- one dtype at a time: T is float or double -------------------------------------------- */

#define DEFINE_KERNELS(SUF, T, VEC, FLOOR)                                                                 \
/* Sums of (x - shift) and (x - shift)^2 in a fixed order: 8 lanes in T over each run of 128  \
   entries (16 terms per lane), the lanes then added in double, in order; a tail of < 128      \
   entries term by term in double. Vector types (GCC/Clang extension) fix the lanes: the sums  \
   are the same whatever the instruction set, the options of the caller or the machine (with   \
   -ffp-contract=off: no fused multiply-add either). */                                          \
static inline __attribute__((always_inline)) void block_sums_##SUF(                              \
    const T *x, Py_ssize_t n, T shift, Out *o)                                                   \
{                                                                                                \
    double s = o->s, ss = o->ss;                                                                 \
    Py_ssize_t i = 0;                                                                            \
    const VEC vshift = (VEC){0} + shift;                                                         \
    for (; i + SUB <= n; i += SUB) {                                                             \
        VEC a = {0}, b = {0};                                                                    \
        for (Py_ssize_t j = 0; j < SUB; j += LANES) {                                            \
            VEC v;                                                                               \
            memcpy(&v, x + i + j, sizeof v);                                                     \
            v -= vshift;                                                                         \
            a += v;                                                                              \
            b += v * v;                                                                          \
        }                                                                                        \
        for (int l = 0; l < LANES; l++) {                                                        \
            s += (double)a[l];                                                                   \
            ss += (double)b[l];                                                                  \
        }                                                                                        \
    }                                                                                            \
    for (; i < n; i++) {                                                                         \
        T d = x[i] - shift;                                                                      \
        s += (double)d;                                                                          \
        ss += (double)(d * d);                                                                   \
    }                                                                                            \
    o->s = s; o->ss = ss;                                                                        \
}                                                                                                \
                                                                                                 \
static void sums_##SUF(const T *x, Py_ssize_t n, double shift, Out *o)                           \
{                                                                                                \
    o->s = o->ss = 0.0;                                                                          \
    block_sums_##SUF(x, n, (T)shift, o);                                                         \
}                                                                                                \
                                                                                                 \
/* block statistics, and bin slots of the block into idx (when hist) */                         \
static inline __attribute__((always_inline)) void block_##SUF(const T *x, Py_ssize_t n, T shift, const Hist *h, int hist,      \
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
static void summary_##SUF(const T *x, Py_ssize_t rows, Py_ssize_t cols, double shift,            \
                          const Hist *h, int64_t *counts, int want_sat, double slo, double shi,  \
                          uint8_t *alive, Out *o)                                                \
{                                                                                                \
    uint8_t idx[BLOCK];                                                                          \
    Counter cnt;                                                                                 \
    const Py_ssize_t n = rows * cols;                                                            \
    const T tslo = (T)slo, tshi = (T)shi, tshift = (T)shift;                                     \
    o->s = o->ss = 0.0; o->zeros = o->sat = 0;                                                   \
    if (h->on) counter_init(&cnt, h->bins + 2);                                                  \
    for (Py_ssize_t a = 0; a < n; a += BLOCK) {                                                  \
        Py_ssize_t m = n - a < BLOCK ? n - a : BLOCK;                                            \
        /* every case a constant combination, so that each loop is compiled for its own work */ \
        const int sel = (h->on ? 1 + h->mode : 0) * 2 + (want_sat != 0);                      \
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
        if (h->on) counter_add(&cnt, idx, m, counts);                                            \
    }                                                                                            \
    if (h->on) counter_flush(&cnt, counts);                                                      \
    if (alive != NULL) { /* columns with a nonzero entry (NaN counts): all of them if no zeros */ \
        if (o->zeros == 0) {                                                                     \
            memset(alive, 1, (size_t)cols);                                                      \
        } else {                                                                                 \
            for (Py_ssize_t r = 0; r < rows; r++) {                                              \
                const T *row = x + r * cols;                                                     \
                _Pragma("omp simd")                                                              \
                for (Py_ssize_t j = 0; j < cols; j++) alive[j] |= (row[j] != 0);                 \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
}

typedef float vf32 __attribute__((vector_size(LANES * sizeof(float))));
typedef double vf64 __attribute__((vector_size(LANES * sizeof(double))));
DEFINE_KERNELS(f32, float, vf32, floorf)
DEFINE_KERNELS(f64, double, vf64, floor)

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
"sums(x, shift) -> (bad, s, ss)\n\n"
"Over the float32/float64 buffer x: entries that are inf or NaN, the sum of (x - shift) and\n"
"of (x - shift)**2, accumulated in double.");

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
    if (xv.itemsize == 4) sums_f32((const float *)xv.buf, xv.len / 4, shift, &o);
    else sums_f64((const double *)xv.buf, xv.len / 8, shift, &o);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&xv);
    return Py_BuildValue("dd", o.s, o.ss);
}

/* --- a layer in two halves, on the caller's thread and one worker ----------------------------
 * The rows are always split in the same two halves, whether the halves run at once or one
 * after the other, and the halves' sums are added in order: the results do not depend on the
 * number of threads. The worker is a thread of our own that sleeps on a condition variable
 * between layers (it does not spin, so it leaves the cores to BLAS during the products). */

typedef struct {
    const void *x, *y;        /* y: optional second array, sums only */
    Py_ssize_t rows, cols;
    int is64, want_sat;
    double shift, yshift, slo, shi;
    const Hist *hist;
} Job;

typedef struct {
    Py_ssize_t r0, r1;
    Out xo, yo;
    int64_t counts[MAX_SLOTS];
    uint8_t *alive;
} Part;

static void run_part(const Job *j, Part *p)
{
    const Py_ssize_t rows = p->r1 - p->r0, off = p->r0 * j->cols;
    memset(p->counts, 0, sizeof p->counts);
    p->yo.s = p->yo.ss = 0.0;
    if (j->is64) {
        summary_f64((const double *)j->x + off, rows, j->cols, j->shift, j->hist, p->counts,
                    j->want_sat, j->slo, j->shi, p->alive, &p->xo);
        if (j->y) sums_f64((const double *)j->y + off, rows * j->cols, j->yshift, &p->yo);
    } else {
        summary_f32((const float *)j->x + off, rows, j->cols, j->shift, j->hist, p->counts,
                    j->want_sat, j->slo, j->shi, p->alive, &p->xo);
        if (j->y) sums_f32((const float *)j->y + off, rows * j->cols, j->yshift, &p->yo);
    }
}

static int n_threads = 2;

/* The worker sleeps on a condition variable, so it leaves the cores to BLAS during the matrix
 * products. Waking a sleeping thread costs 50-500 us on a virtual machine, more than half a
 * layer's statistics, so stats.py calls prepare() before it applies the activation: the
 * worker wakes meanwhile and spins (for at most SPIN_NS) until the layer's second half is
 * posted. Whoever takes the posted half first runs it: if the worker is late, the caller runs
 * both halves itself (never slower than one thread). */
#define SPIN_NS 3000000LL

static pthread_mutex_t owner = PTHREAD_MUTEX_INITIALIZER; /* one caller at a time uses the worker */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;
static int started = 0, wake_req = 0;      /* under mu */
static atomic_int spinning, job_ready, job_finished;
static const Job *job_now;
static Part *part_now;

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
        run_part(job_now, part_now);
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
            if ((i & 255) == 255 && now_ns() > deadline) {
                atomic_store(&spinning, 0);
                take_job(); /* posted just as the spin ended */
                break;
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

/* Both halves, the second one on the worker when it is free; parts[0], parts[1] filled. */
static void run_layer(const Job *j, Part parts[2])
{
    const Py_ssize_t mid = j->rows / 2;
    parts[0].r0 = 0; parts[0].r1 = mid;
    parts[1].r0 = mid; parts[1].r1 = j->rows;
    const int big = j->rows * j->cols >= (1 << 15); /* below, the halves are not worth a thread */
    if (n_threads > 1 && big && pthread_mutex_trylock(&owner) == 0) {
        job_now = j;
        part_now = &parts[1];
        atomic_store(&job_finished, 0);
        atomic_store(&job_ready, 1);
        if (!wake_worker()) atomic_store(&job_ready, 0);
        run_part(j, &parts[0]);
        if (atomic_exchange(&job_ready, 0)) {
            run_part(j, &parts[1]); /* the worker was late: take the half back */
        } else {
            while (!atomic_load(&job_finished)) cpu_relax();
        }
        pthread_mutex_unlock(&owner);
        return;
    }
    run_part(j, &parts[0]);
    run_part(j, &parts[1]);
}

static PyObject *py_prepare(PyObject *self, PyObject *args)
{
    if (n_threads > 1) wake_worker();
    Py_RETURN_NONE;
}

PyDoc_STRVAR(summary_doc,
"summary(x, cols, shift, hist, counts, sat, alive, y=None, yshift=0.0)\n"
"    -> (s, ss, zeros, saturated, ys, yss)\n\n"
"Every per-entry statistic of the float32/float64 buffer x (rows of `cols` entries) in one pass,\n"
"the rows in two halves on two threads. s, ss: sums of (x - shift) and its squares.\n"
"hist: None or (bins, mode, k0, scale, offset, lo, hi), mode 0 plain, 1 floor (0 an edge,\n"
"scale >= 1), 2 sign (0 an edge, scale < 1); counts: an int64 buffer of bins + 2 entries\n"
"(below, above last) that the counts are added to. sat: None or (lo, hi): entries <= lo or >= hi.\n"
"alive: None or a zeroed uint8 buffer of `cols` entries: 1 where the column has a nonzero entry.\n"
"y: None or a second buffer of x's size and dtype whose sums about yshift are returned too.");

static PyObject *py_summary(PyObject *self, PyObject *args)
{
    PyObject *xo, *histo, *countso, *sato, *aliveo, *yo = Py_None;
    Py_ssize_t cols;
    double shift, yshift = 0.0;
    if (!PyArg_ParseTuple(args, "OndOOOO|Od", &xo, &cols, &shift, &histo, &countso, &sato, &aliveo,
                          &yo, &yshift))
        return NULL;
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
    Job j;
    memset(&j, 0, sizeof j);
    if (sato != Py_None) {
        if (!PyArg_ParseTuple(sato, "dd", &j.slo, &j.shi))
            return NULL;
        j.want_sat = 1;
    }
    Py_buffer xv, yv, cv, av;
    int have_y = yo != Py_None, have_c = 0, have_a = 0;
    if (get_floats(xo, &xv, 0, "x") < 0)
        return NULL;
    Py_ssize_t n = xv.len / xv.itemsize;
    PyObject *result = NULL;
    uint8_t *alive1 = NULL;
    if (have_y && get_floats(yo, &yv, 0, "y") < 0) {
        have_y = 0;
        goto out;
    }
    if (cols < 1 || n % cols != 0 || (have_y && (yv.len != xv.len || yv.itemsize != xv.itemsize))) {
        PyErr_SetString(PyExc_ValueError, "cols must divide the number of entries, y must match x");
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
    j.x = xv.buf; j.y = have_y ? yv.buf : NULL;
    j.rows = n / cols; j.cols = cols; j.is64 = xv.itemsize == 8;
    j.shift = shift; j.yshift = yshift; j.hist = &h;
    Part parts[2];
    parts[0].alive = have_a ? (uint8_t *)av.buf : NULL;
    parts[1].alive = alive1;
    Py_BEGIN_ALLOW_THREADS
    run_layer(&j, parts);
    Py_END_ALLOW_THREADS
    if (have_c) {
        int64_t *counts = (int64_t *)cv.buf;
        for (int k = 0; k < h.bins + 2; k++) counts[k] += parts[0].counts[k] + parts[1].counts[k];
    }
    if (have_a) {
        uint8_t *a = (uint8_t *)av.buf;
        for (Py_ssize_t k = 0; k < cols; k++) a[k] |= alive1[k];
    }
    result = Py_BuildValue("ddLLdd", parts[0].xo.s + parts[1].xo.s, parts[0].xo.ss + parts[1].xo.ss,
                           parts[0].xo.zeros + parts[1].xo.zeros, parts[0].xo.sat + parts[1].xo.sat,
                           parts[0].yo.s + parts[1].yo.s, parts[0].yo.ss + parts[1].yo.ss);
out:
    PyMem_RawFree(alive1);
    if (have_a) PyBuffer_Release(&av);
    if (have_c) PyBuffer_Release(&cv);
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

static PyMethodDef methods[] = {
    {"sums", py_sums, METH_VARARGS, sums_doc},
    {"summary", py_summary, METH_VARARGS, summary_doc},
    {"prepare", py_prepare, METH_NOARGS,
     "prepare(): wake the worker thread ahead of a summary() call (call it before the work that\n"
     "precedes the summary, e.g. the activation)."},
    {"set_threads", py_set_threads, METH_VARARGS,
     "set_threads(k) -> previous: 2 (the default) runs a layer's halves at once, 1 one after the other\n"
     "(the same results either way)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fused",
    "One-pass per-entry statistics for initlab.stats (see _fused.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fused(void)
{
    static int registered = 0;
    if (!registered) {
        pthread_atfork(NULL, NULL, after_fork_child);
        registered = 1;
    }
    return PyModule_Create(&module);
}
