/*
 * trackheat.accumulate._splat: the density's pass over the points, in one sweep.
 *
 * density() turns points into a grid before it blurs: a plain count per pixel
 * (full resolution), or each point split bilinearly over the four nearest
 * pixel centres of a grid reduced f times (which keeps its centre of mass
 * exactly), or a whole Gaussian patch added per point when there are few.
 * numpy does the first two with np.bincount into a float64 grid (8 bytes a
 * cell: 66 MB at 4K) and a packing of the four shares into exact float64
 * digits that costs a dozen passes over the coarse grid; here each point is
 * read once and added straight into the caller's float32 (or float64) grid.
 *
 * Exactness: unweighted shares are whole numbers (the share of a coarse
 * centre is a whole count of 1/(2f) per axis, so a corner gets
 * (2f - ax)(2f - ay), ax(2f - ay), ... in 1/(2f)^2). The caller uses a
 * float32 grid only while every sum stays below 2^24 (exact), else float64.
 *
 * Points outside the tables (the canvas) are skipped, so no index can leave
 * the grid whatever the caller passes. The GIL is released: two halves of
 * the points can run on two cores, each into its own grid.
 * If this module cannot be built, density() does the same work with numpy.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _MSC_VER
#define RESTRICT __restrict
#else
#define RESTRICT restrict
#endif

static int sized(Py_buffer *b, Py_ssize_t len, const char *what)
{
    if (b->len != len) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected %zd", what, b->len, len);
        return 0;
    }
    return 1;
}

static int aligned(Py_buffer *b, size_t to, const char *what)
{
    if ((uintptr_t)b->buf % to) {
        PyErr_Format(PyExc_ValueError, "%s must be aligned to %zu bytes", what, to);
        return 0;
    }
    return 1;
}

/* Work shared by two threads in blocks: each call claims the next block from a counter both
   threads hold (an int64 in a numpy array), so when the other core is slowed (by other programs,
   or by a virtual machine's host) this one takes more of the blocks instead of waiting for the
   other's fixed half. Without a counter the call does its whole range at once. */
typedef struct {
    int64_t *counter;
    Py_ssize_t block;
    int done;
} share_t;

static int get_share(PyObject *counter, Py_ssize_t block, Py_buffer *buf, share_t *sh)
{
    sh->counter = NULL;
    sh->block = 0;
    sh->done = 0;
    if (counter == NULL || counter == Py_None)
        return 1;
    if (PyObject_GetBuffer(counter, buf, PyBUF_WRITABLE) < 0)
        return 0;
    if (buf->len < 8 || (uintptr_t)buf->buf % 8 || block < 1) {
        PyBuffer_Release(buf);
        PyErr_SetString(PyExc_ValueError, "shared work: the counter must be an aligned int64 and the block at least 1");
        return 0;
    }
    sh->counter = (int64_t *)buf->buf;
    sh->block = block;
    return 1;
}

/* the next block [*a, *b) of [lo, hi): 0 when there is none left */
static int next_block(share_t *sh, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t *a, Py_ssize_t *b)
{
    if (!sh->counter) {
        if (sh->done)
            return 0;
        sh->done = 1;
        *a = lo;
        *b = hi;
        return 1;
    }
    const int64_t k = __atomic_fetch_add(sh->counter, 1, __ATOMIC_RELAXED);
    if (k < 0 || k >= (hi - lo + sh->block - 1) / sh->block)
        return 0;
    *a = lo + (Py_ssize_t)k * sh->block;
    *b = *a + sh->block < hi ? *a + sh->block : hi;
    return 1;
}

/* The pass is in blocks of points, in two steps: first the cells and the four shares of a block
   (reading the points and the small tables), then the adds into the grid, from a tight loop that
   loads nothing else. The grid is far larger than the cache, so each add waits for memory; mixed
   with other loads (the tables, spilled variables) the CPU must also check each of those against
   every add still in flight (and a load whose address matches a pending store in its low 12 bits
   waits for it): measured 3-7x slower than np.bincount that way, faster than it in two steps. */
#define BLOCK 512

#define ADD_LOOP(T)                                                                             \
    static void add_##T(T *RESTRICT g, const Py_ssize_t *RESTRICT cell, const T *RESTRICT share, \
                        Py_ssize_t k, Py_ssize_t q, Py_ssize_t wl)                              \
    {                                                                                           \
        if (q == 1) {                                                                           \
            for (Py_ssize_t j = 0; j < k; j++)                                                  \
                g[cell[j]] += share[j];                                                         \
            return;                                                                             \
        }                                                                                       \
        for (Py_ssize_t j = 0; j < k; j++) {                                                    \
            T *c = g + cell[j];                                                                 \
            const T *s = share + 4 * j;                                                         \
            c[0] += s[0];                                                                       \
            c[1] += s[1];                                                                       \
            c[wl] += s[2];                                                                      \
            c[wl + 1] += s[3];                                                                  \
        }                                                                                       \
    }

ADD_LOOP(float)
ADD_LOOP(double)

/* Cells and shares of points [i0, i1): returns how many fell on the canvas. */
#define CELLS_LOOP(T)                                                                           \
    static Py_ssize_t cells_##T(const int64_t *px, const int64_t *py, const double *pw,         \
                                Py_ssize_t i0, Py_ssize_t i1, const int32_t *xt, const int32_t *yt, \
                                Py_ssize_t width, Py_ssize_t height, Py_ssize_t q, Py_ssize_t wl, \
                                Py_ssize_t *RESTRICT cell, T *RESTRICT share)                   \
    {                                                                                           \
        Py_ssize_t k = 0;                                                                       \
        const int32_t qq = (int32_t)q;                                                          \
        for (Py_ssize_t i = i0; i < i1; i++) {                                                  \
            const uint64_t x = (uint64_t)px[i], y = (uint64_t)py[i];                            \
            if (x >= (uint64_t)width || y >= (uint64_t)height)                                  \
                continue;                                                                       \
            cell[k] = (Py_ssize_t)yt[2 * y] * wl + xt[2 * x];                                   \
            const T wt = pw ? (T)pw[i] : (T)1;                                                  \
            if (q == 1) {                                                                       \
                share[k++] = wt;                                                                \
                continue;                                                                       \
            }                                                                                   \
            const int32_t ax = xt[2 * x + 1], ay = yt[2 * y + 1], bx = qq - ax, by = qq - ay;   \
            T *s = share + 4 * k++;                                                             \
            s[0] = (T)(bx * by) * wt;                                                           \
            s[1] = (T)(ax * by) * wt;                                                           \
            s[2] = (T)(bx * ay) * wt;                                                           \
            s[3] = (T)(ax * ay) * wt;                                                           \
        }                                                                                       \
        return k;                                                                               \
    }

CELLS_LOOP(float)
CELLS_LOOP(double)

/* split(ix, iy, weights, xtab, ytab, q, grid, wl, hl, wide) */
static PyObject *split(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer bx, by, bw = {0}, bxt, byt, grid;
    PyObject *weights;
    Py_ssize_t q, wl, hl;
    int wide;
    if (!PyArg_ParseTuple(args, "y*y*Oy*y*nw*nnp", &bx, &by, &weights, &bxt, &byt, &q, &grid, &wl, &hl, &wide))
        return NULL;
    PyObject *result = NULL;
    int have_w = weights != Py_None;
    if (have_w && PyObject_GetBuffer(weights, &bw, PyBUF_SIMPLE) < 0) {
        have_w = 0;
        goto done;
    }
    const Py_ssize_t n = bx.len / 8, width = bxt.len / 8, height = byt.len / 8;
    if (q < 1 || q > 1 << 12 || wl < 1 || hl < 1 || wl > PY_SSIZE_T_MAX / 8 / hl) {
        PyErr_SetString(PyExc_ValueError, "split: bad share denominator or grid size");
        goto done;
    }
    if (!sized(&bx, n * 8, "ix") || !sized(&by, n * 8, "iy") || (have_w && !sized(&bw, n * 8, "weights")) ||
        !sized(&bxt, width * 8, "xtab") || !sized(&byt, height * 8, "ytab") ||
        !sized(&grid, wl * hl * (wide ? 8 : 4), "grid"))
        goto done;
    if (!aligned(&bx, 8, "ix") || !aligned(&by, 8, "iy") || (have_w && !aligned(&bw, 8, "weights")) ||
        !aligned(&bxt, 4, "xtab") || !aligned(&byt, 4, "ytab") || !aligned(&grid, wide ? 8 : 4, "grid"))
        goto done;
    const int64_t *px = (const int64_t *)bx.buf, *py = (const int64_t *)by.buf;
    const int32_t *xt = (const int32_t *)bxt.buf, *yt = (const int32_t *)byt.buf;
    const double *pw = have_w ? (const double *)bw.buf : NULL;
    /* every cell a point can reach (and its right and lower neighbours) lies inside the grid */
    const Py_ssize_t reach = q == 1 ? 0 : 1;
    for (Py_ssize_t i = 0; i < width; i++)
        if (xt[2 * i] < 0 || xt[2 * i] + reach >= wl || xt[2 * i + 1] < 0 || xt[2 * i + 1] >= (q == 1 ? 1 : q)) {
            PyErr_SetString(PyExc_ValueError, "split: xtab out of range");
            goto done;
        }
    for (Py_ssize_t i = 0; i < height; i++)
        if (yt[2 * i] < 0 || yt[2 * i] + reach >= hl || yt[2 * i + 1] < 0 || yt[2 * i + 1] >= (q == 1 ? 1 : q)) {
            PyErr_SetString(PyExc_ValueError, "split: ytab out of range");
            goto done;
        }
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t cell[BLOCK];
    if (wide) {
        double share[4 * BLOCK];
        for (Py_ssize_t i = 0; i < n; i += BLOCK) {
            const Py_ssize_t k = cells_double(px, py, pw, i, i + BLOCK < n ? i + BLOCK : n, xt, yt, width, height, q, wl, cell, share);
            add_double((double *)grid.buf, cell, share, k, q, wl);
        }
    } else {
        float share[4 * BLOCK];
        for (Py_ssize_t i = 0; i < n; i += BLOCK) {
            const Py_ssize_t k = cells_float(px, py, pw, i, i + BLOCK < n ? i + BLOCK : n, xt, yt, width, height, q, wl, cell, share);
            add_float((float *)grid.buf, cell, share, k, q, wl);
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&bx);
    PyBuffer_Release(&by);
    if (have_w)
        PyBuffer_Release(&bw);
    PyBuffer_Release(&bxt);
    PyBuffer_Release(&byt);
    PyBuffer_Release(&grid);
    return result;
}

/* stamp(ix, iy, weights, patch, r, grid, w, h): add the (2r+1)^2 float32 patch centred on each
   point (times its weight), cut at the grid's edges. */
static PyObject *stamp(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer bx, by, bw = {0}, bp, grid;
    PyObject *weights;
    Py_ssize_t r, w, h;
    if (!PyArg_ParseTuple(args, "y*y*Oy*nw*nn", &bx, &by, &weights, &bp, &r, &grid, &w, &h))
        return NULL;
    PyObject *result = NULL;
    int have_w = weights != Py_None;
    if (have_w && PyObject_GetBuffer(weights, &bw, PyBUF_SIMPLE) < 0) {
        have_w = 0;
        goto done;
    }
    const Py_ssize_t n = bx.len / 8, k = 2 * r + 1;
    if (r < 0 || r > 1 << 14 || w < 1 || h < 1 || w > PY_SSIZE_T_MAX / 4 / h) {
        PyErr_SetString(PyExc_ValueError, "stamp: bad radius or grid size");
        goto done;
    }
    if (!sized(&bx, n * 8, "ix") || !sized(&by, n * 8, "iy") || (have_w && !sized(&bw, n * 8, "weights")) ||
        !sized(&bp, k * k * 4, "patch") || !sized(&grid, w * h * 4, "grid"))
        goto done;
    if (!aligned(&bx, 8, "ix") || !aligned(&by, 8, "iy") || (have_w && !aligned(&bw, 8, "weights")) ||
        !aligned(&bp, 4, "patch") || !aligned(&grid, 4, "grid"))
        goto done;
    const int64_t *px = (const int64_t *)bx.buf, *py = (const int64_t *)by.buf;
    const double *pw = have_w ? (const double *)bw.buf : NULL;
    const float *patch = (const float *)bp.buf;
    float *g = (float *)grid.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const int64_t x = px[i], y = py[i];
        if ((uint64_t)x >= (uint64_t)w || (uint64_t)y >= (uint64_t)h) /* points off the canvas are ignored */
            continue;
        const Py_ssize_t x0 = x - r < 0 ? 0 : x - r, x1 = x + r + 1 > w ? w : x + r + 1;
        const Py_ssize_t y0 = y - r < 0 ? 0 : y - r, y1 = y + r + 1 > h ? h : y + r + 1;
        const float wt = pw ? (float)pw[i] : 1.0f;
        for (Py_ssize_t yy = y0; yy < y1; yy++) {
            const float *RESTRICT p = patch + (yy - y + r) * k + (x0 - x + r);
            float *RESTRICT o = g + yy * w + x0;
            for (Py_ssize_t j = 0; j < x1 - x0; j++) /* (restrict: the patch is not the grid, so this vectorizes) */
                o[j] += wt * p[j];
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&bx);
    PyBuffer_Release(&by);
    if (have_w)
        PyBuffer_Release(&bw);
    PyBuffer_Release(&bp);
    PyBuffer_Release(&grid);
    return result;
}

/* ---- the separable blur -------------------------------------------------------------------
 * blur(src, dst, w, h, kx, ky, r0, r1): dst rows [r0, r1) of the separable blur of the float32
 * grid src (h x w) by the symmetric kernels kx (horizontal) and ky (vertical), both 2R+1 long,
 * zero outside the grid. The caller runs two row ranges on two threads (GIL released).
 *
 * Why not cv2.sepFilter2D: it makes a full-size float intermediate and runs on one core; here
 * each source row is blurred horizontally into a ring of 2R+1 rows that stays in L2, the
 * vertical pass reads that ring, and each output row is written once. Both passes use the
 * kernel's symmetry (one multiply per pair of taps) and keep a whole vector of outputs in a
 * register over all taps. Rows whose 2R+1 neighbours are all empty are written as zeros
 * without arithmetic (sparse grids: few points, small sigma). The vector code is compiled
 * twice, for AVX2+FMA and for the baseline (SSE2 on x86-64), and picked at run time. */
typedef uint32_t bits32 __attribute__((may_alias));
typedef float v8 __attribute__((vector_size(32), aligned(4), may_alias));
typedef float v16 __attribute__((vector_size(64), aligned(4), may_alias));
#define CHUNK 64 /* floats per step of a row: four vectors of 16 or eight of 8, kept in registers */

/* acc[0..n) += k * (a[...] (+ b[...])) over one CHUNK, V vectors of L floats */
#define BLUR_BODY(V, L)                                                                                \
    {                                                                                                  \
        enum { NV = CHUNK / L };                                                                       \
        const Py_ssize_t span = 2 * R + 1, wv = (w + CHUNK - 1) / CHUNK * CHUNK;                       \
        for (Py_ssize_t i = 0; i < span; i++) ring_row[i] = -1;                                        \
        for (Py_ssize_t y = r0; y < r1; y++) {                                                         \
            /* horizontal pass of every source row the output row needs and the ring lacks */         \
            Py_ssize_t lo = y - R < 0 ? 0 : y - R, hi = y + R >= h ? h - 1 : y + R;                     \
            for (Py_ssize_t sy = lo; sy <= hi; sy++) {                                                 \
                const Py_ssize_t slot = sy % span;                                                     \
                if (ring_row[slot] == sy) continue;                                                    \
                ring_row[slot] = sy;                                                                   \
                float *RESTRICT row = pad + R;                                                         \
                if (src)                                                                               \
                    memcpy(row, src + sy * w, (size_t)w * sizeof(float));                              \
                else if (!c2)                                                                          \
                    for (Py_ssize_t x = 0; x < w; x++) row[x] = (float)c1[sy * w + x];                 \
                else                                                                                   \
                    for (Py_ssize_t x = 0; x < w; x++) row[x] = (float)((uint32_t)c1[sy * w + x] + c2[sy * w + x]);\
                uint32_t any = 0; /* (the bits: an OR that vectorizes; -0.0 counts as a value) */      \
                for (Py_ssize_t x = 0; x < w; x++) any |= ((const bits32 *)row)[x];                    \
                ring_full[slot] = any != 0;                                                            \
                if (!any) continue;                                                                    \
                float *RESTRICT out = ring + slot * wv;                                                \
                for (Py_ssize_t x = 0; x < wv; x += CHUNK) {                                           \
                    const float *p = pad + R + x;                                                      \
                    V acc[NV];                                                                         \
                    for (int v = 0; v < NV; v++) acc[v] = *(const V *)(p + v * L) * kx[0];            \
                    for (Py_ssize_t k = 1; k <= R; k++) {                                              \
                        const float kk = kx[k];                                                        \
                        for (int v = 0; v < NV; v++)                                                   \
                            acc[v] += (*(const V *)(p + v * L - k) + *(const V *)(p + v * L + k)) * kk; \
                    }                                                                                  \
                    for (int v = 0; v < NV; v++) *(V *)(out + x + v * L) = acc[v];                     \
                }                                                                                      \
            }                                                                                          \
            /* vertical pass: rows outside the grid, or empty, add nothing; pairs share a multiply */ \
            const float *rows_a[MAX_R + 1], *rows_b[MAX_R + 1];                                        \
            float kw[MAX_R + 1];                                                                       \
            int np = 0, ns = 0;                                                                        \
            const float *single[2 * MAX_R + 1];                                                        \
            float ks[2 * MAX_R + 1];                                                                   \
            for (Py_ssize_t k = 0; k <= R; k++) {                                                      \
                const Py_ssize_t ya = y - k, yb = y + k;                                               \
                const int fa = ya >= 0 && ring_full[ya % span];                                       \
                const int fb = k && yb < h && ring_full[yb % span];                                    \
                if (fa && fb) {                                                                        \
                    rows_a[np] = ring + (ya % span) * wv;                                              \
                    rows_b[np] = ring + (yb % span) * wv;                                              \
                    kw[np++] = ky[k];                                                                  \
                } else if (fa || fb) {                                                                 \
                    single[ns] = ring + ((fa ? ya : yb) % span) * wv;                                  \
                    ks[ns++] = ky[k];                                                                  \
                }                                                                                      \
            }                                                                                          \
            float *RESTRICT o = dst + y * w;                                                           \
            if (!np && !ns) {                                                                          \
                memset(o, 0, (size_t)w * sizeof(float));                                               \
                continue;                                                                              \
            }                                                                                          \
            for (Py_ssize_t x = 0; x < wv; x += CHUNK) {                                               \
                V acc[NV];                                                                             \
                for (int v = 0; v < NV; v++) acc[v] = (V){0};                                          \
                for (int j = 0; j < np; j++) {                                                         \
                    const float *ra = rows_a[j] + x, *rb = rows_b[j] + x;                              \
                    const float kk = kw[j];                                                            \
                    for (int v = 0; v < NV; v++)                                                       \
                        acc[v] += (*(const V *)(ra + v * L) + *(const V *)(rb + v * L)) * kk;          \
                }                                                                                      \
                for (int j = 0; j < ns; j++) {                                                         \
                    const float *ra = single[j] + x;                                                   \
                    const float kk = ks[j];                                                            \
                    for (int v = 0; v < NV; v++) acc[v] += *(const V *)(ra + v * L) * kk;             \
                }                                                                                      \
                if (x + CHUNK <= w) {                                                                  \
                    for (int v = 0; v < NV; v++) *(V *)(o + x + v * L) = acc[v];                       \
                } else {                                                                               \
                    float tail[CHUNK];                                                                 \
                    for (int v = 0; v < NV; v++) *(V *)(tail + v * L) = acc[v];                        \
                    memcpy(o + x, tail, (size_t)(w - x) * sizeof(float));                              \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }

#define MAX_R 2048
#define HMAX 48 /* the four-row blur's longest kernel half-width (the AVX-512 and AVX2 code) */
#define BLUR_ARGS                                                                                      \
    (const float *RESTRICT src, const uint16_t *RESTRICT c1, const uint16_t *RESTRICT c2, float *RESTRICT dst, Py_ssize_t w, Py_ssize_t h, const float *kx,      \
     const float *ky, Py_ssize_t R, Py_ssize_t r0, Py_ssize_t r1, float *RESTRICT pad, float *RESTRICT ring, \
     Py_ssize_t *ring_row, int *ring_full)

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
__attribute__((target("avx512f"))) static void blur_avx512 BLUR_ARGS BLUR_BODY(v16, 16)
__attribute__((target("avx2,fma"))) static void blur_avx2 BLUR_ARGS BLUR_BODY(v8, 8)
#define HAVE_AVX2 1
#endif
static void blur_base BLUR_ARGS BLUR_BODY(v8, 8)

#ifdef HAVE_AVX2
#include <immintrin.h>
/* ---- the AVX-512 blur: shifts in registers, four output rows per pass -------------------------
 * The blur above is bound by its loads: each tap of the horizontal pass is an unaligned 64-byte
 * load (most of them split across two cache lines), and each vertical tap loads a ring row for
 * one output row only. Here the horizontal pass loads a row's aligned vectors once and makes every
 * shifted copy in registers (valignd), and the vertical pass computes four output rows together:
 * each ring row is loaded once for all four, so the arithmetic (one add and one fused
 * multiply-add per pair of taps, which run side by side) sets the pace. Measured on a 2-core
 * AVX-512 machine (Zen 4) at 1080p: the horizontal pass 0.8 -> 0.5 ms and the vertical 1.5 ->
 * 0.5 ms at R = 12, on one core. Kernels up to HMAX taps each side; longer ones use the blur above. */
#define ALN(a, b, s) _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(a), _mm512_castps_si512(b), (s)))
/* the row shifted by +k and -k: a[i + M] holds the aligned vector at offset 16 i */
#define SR(k) ((k) % 16 ? ALN(a[(k) / 16 + 1 + M], a[(k) / 16 + M], (k) % 16) : a[(k) / 16 + M])
#define SL(k) ((16 * (((k) + 15) / 16) - (k)) ? ALN(a[M + 1 - ((k) + 15) / 16], a[M - ((k) + 15) / 16], 16 * (((k) + 15) / 16) - (k)) : a[M - ((k) + 15) / 16])
#define T(k) if (R >= (k)) acc = _mm512_fmadd_ps(_mm512_add_ps(SL(k), SR(k)), _mm512_set1_ps(kx[k]), acc);
#define T16(b) T(b + 1) T(b + 2) T(b + 3) T(b + 4) T(b + 5) T(b + 6) T(b + 7) T(b + 8) T(b + 9) T(b + 10) T(b + 11) T(b + 12) T(b + 13) T(b + 14) T(b + 15) T(b + 16)
/* out[0..n) (n a multiple of 16) = the row `in` (aligned, 16 M zeros each side) blurred by kx[-R..R], R <= 16 M */
#define HROW(MM, TAPS)                                                                                 \
    __attribute__((target("avx512f"))) static void hrow##MM(const float *in, float *out, Py_ssize_t n, \
                                                          const float *kx, Py_ssize_t R)             \
    {                                                                                                 \
        enum { M = MM };                                                                              \
        for (Py_ssize_t x = 0; x < n; x += 16) {                                                      \
            __m512 a[2 * M + 2];                                                                      \
            for (int i = 0; i <= 2 * M; i++) a[i] = _mm512_load_ps(in + x + 16 * (i - M));            \
            a[2 * M + 1] = _mm512_setzero_ps(); /* (named by the unused side of a constant choice) */ \
            __m512 acc = _mm512_mul_ps(a[M], _mm512_set1_ps(kx[0]));                                  \
            TAPS                                                                                      \
            _mm512_store_ps(out + x, acc);                                                            \
        }                                                                                             \
    }
HROW(1, T16(0))
HROW(2, T16(0) T16(16))
HROW(3, T16(0) T16(16) T16(32))

/* The horizontal pass of a sparse row (few points, small sigma: a 4K canvas with 10k points has
   about five a row) as the sum of each value's kernel: zero the output, then per value two
   unaligned vectors of the kernel (R <= 15) added where it lands, instead of every shifted copy of
   the whole row. 0 when the row is not sparse enough (or the kernel too long): the caller does
   the dense pass. Values near either end are added one by one (the vectors would leave the row). */
__attribute__((target("avx512f"))) static int hsparse512(const float *row, float *out, Py_ssize_t wv, const float *kx,
                                                         Py_ssize_t R)
{
    if (R > 15)
        return 0;
    Py_ssize_t nnz = 0;
    for (Py_ssize_t x = 0; x < wv; x += 16)
        nnz += __builtin_popcount(_mm512_cmpneq_ps_mask(_mm512_load_ps(row + x), _mm512_setzero_ps()));
    if (nnz * 16 > wv)
        return 0;
    float kv[32];
    for (int i = 0; i < 32; i++) kv[i] = i <= 2 * R ? kx[i - R] : 0.0f;
    const __m512 k0 = _mm512_loadu_ps(kv), k1 = _mm512_loadu_ps(kv + 16);
    for (Py_ssize_t x = 0; x < wv; x += 16) _mm512_store_ps(out + x, _mm512_setzero_ps());
    for (Py_ssize_t x0 = 0; x0 < wv; x0 += 16) {
        __mmask16 m = _mm512_cmpneq_ps_mask(_mm512_load_ps(row + x0), _mm512_setzero_ps());
        while (m) {
            const Py_ssize_t x = x0 + __builtin_ctz(m);
            m &= (__mmask16)(m - 1);
            const float v = row[x];
            if (x >= R && x - R + 32 <= wv) {
                float *o = out + x - R;
                const __m512 vv = _mm512_set1_ps(v);
                _mm512_storeu_ps(o, _mm512_fmadd_ps(vv, k0, _mm512_loadu_ps(o)));
                _mm512_storeu_ps(o + 16, _mm512_fmadd_ps(vv, k1, _mm512_loadu_ps(o + 16)));
            } else {
                for (Py_ssize_t i = x - R < 0 ? 0 : x - R; i <= x + R && i < wv; i++) out[i] += v * kx[i - x];
            }
        }
    }
    return 1;
}

/* four output rows o[0..3] from the ring rows rows[0..2R+3] (row y - R + j; a zero row for the
   empty ones): pairs of taps share a multiply, and each row is loaded once for all four */
__attribute__((target("avx512f"))) static void vrows4(const float *const *rows, float *const *o, Py_ssize_t w,
                                                       const float *ky, Py_ssize_t R, int nt)
{
    for (Py_ssize_t x = 0; x < w; x += 32) {
        __m512 acc[4][2], L[4][2], U[4][2];
        const __m512 k0 = _mm512_set1_ps(ky[0]);
        for (int t = 0; t < 4; t++)
            for (int v = 0; v < 2; v++) {
                L[t][v] = U[t][v] = _mm512_load_ps(rows[R + t] + x + 16 * v);
                acc[t][v] = _mm512_mul_ps(L[t][v], k0);
            }
        for (Py_ssize_t k = 1; k <= R; k++) { /* L[t]: row y + t - k, U[t]: row y + t + k */
            for (int v = 0; v < 2; v++) {
                L[3][v] = L[2][v], L[2][v] = L[1][v], L[1][v] = L[0][v];
                L[0][v] = _mm512_load_ps(rows[R - k] + x + 16 * v);
                U[0][v] = U[1][v], U[1][v] = U[2][v], U[2][v] = U[3][v];
                U[3][v] = _mm512_load_ps(rows[R + 3 + k] + x + 16 * v);
            }
            const __m512 kk = _mm512_set1_ps(ky[k]);
            for (int t = 0; t < 4; t++)
                for (int v = 0; v < 2; v++) acc[t][v] = _mm512_fmadd_ps(_mm512_add_ps(L[t][v], U[t][v]), kk, acc[t][v]);
        }
        for (int t = 0; t < 4; t++)
            for (int v = 0; v < 2; v++) {
                const Py_ssize_t at = x + 16 * v, left = w - at;
                if (left >= 16) {
                    if (nt)
                        _mm512_stream_ps(o[t] + at, acc[t][v]);
                    else
                        _mm512_storeu_ps(o[t] + at, acc[t][v]);
                } else if (left > 0) {
                    _mm512_mask_storeu_ps(o[t] + at, (__mmask16)((1u << left) - 1), acc[t][v]);
                }
            }
    }
}

/* Counts made band by band as the blur reads them (blur_points()): the points were bucketed by
   band of rows (bucket_chunk()), each as its cell within its band (a uint16: a band has fewer than
   65536 cells), so a band's count lives in one small buffer that stays in L2 while it is counted and
   read, and no full-size count grid is ever written, zeroed or read back. */
typedef struct {
    const uint16_t *cells; /* each chunk's points, grouped by band */
    const int64_t *offs;   /* chunk c's band b starts at offs[b * nchunks + c] (and ends where b + 1 starts) */
    Py_ssize_t nchunks, nb, shift;
    uint16_t *buf; /* the counts of one band: (1 << shift) rows */
    Py_ssize_t band;
    int wrapped; /* a cell passed 65535: the caller counts another way */
} bandsrc;

static const uint16_t *band_row(bandsrc *bs, Py_ssize_t sy, Py_ssize_t w, Py_ssize_t h)
{
    const Py_ssize_t b = sy >> bs->shift, y0 = b << bs->shift;
    if (bs->band != b) {
        const Py_ssize_t rows = h - y0 < ((Py_ssize_t)1 << bs->shift) ? h - y0 : ((Py_ssize_t)1 << bs->shift);
        const uint32_t cap = (uint32_t)(rows * w);
        uint16_t *RESTRICT g = bs->buf;
        int wrapped = 0;
        memset(g, 0, (size_t)cap * sizeof(uint16_t));
        const int64_t *start = bs->offs + b * bs->nchunks, *end = start + bs->nchunks;
        for (Py_ssize_t c = 0; c < bs->nchunks; c++)
            for (int64_t j = start[c]; j < end[c]; j++) {
                const uint32_t v = bs->cells[j];
                if (v < cap) /* (0xFFFF: a point left or right of the canvas; and no index can leave the buffer) */
                    wrapped |= ++g[v] == 0;
            }
        bs->wrapped |= wrapped;
        bs->band = b;
    }
    return bs->buf + (sy - y0) * w;
}

/* dst rows [r0, r1) as blur_avx512 gives them, for R <= HMAX: one function per vector code (the
   same body, compiled for AVX-512 and for AVX2). pad: 16 * 3 zeros, wv floats, 16 * 3 zeros
   (aligned); ring: 2R+4 aligned rows of wv; zero and spare: aligned rows of wv (zero zeroed). nt:
   dst is aligned and w a multiple of 16, and the output is larger than the cache: streaming stores
   skip reading each line before it is written. bs: the rows come from bucketed points. */
#define BLUR4_ARGS                                                                                   \
    (const float *RESTRICT src, const uint16_t *RESTRICT c1, const uint16_t *RESTRICT c2, float *RESTRICT dst, \
     Py_ssize_t w, Py_ssize_t h, const float *kx, const float *ky, Py_ssize_t R, Py_ssize_t r0, Py_ssize_t r1,   \
     float *RESTRICT pad, float *RESTRICT ring, Py_ssize_t *ring_row, int *ring_full, const float *zero,         \
     float *spare, int nt, bandsrc *bs)
#define BLUR4_BODY(HROW_CALL, HSPARSE, VROWS)                                                                                    \
    {                                                                                                                   \
        const Py_ssize_t span = 2 * R + 4, wv = (w + CHUNK - 1) / CHUNK * CHUNK;                                        \
        const float *rows[2 * HMAX + 4];                                                                                \
        float *o[4];                                                                                                    \
        for (Py_ssize_t i = 0; i < span; i++) ring_row[i] = -1;                                                         \
        for (Py_ssize_t y = r0; y < r1; y += 4) {                                                                       \
            int any_row = 0;                                                                                            \
            for (Py_ssize_t j = 0; j < span; j++) {                                                                     \
                const Py_ssize_t sy = y - R + j, slot = sy % span;                                                      \
                rows[j] = zero;                                                                                         \
                if (sy < 0 || sy >= h)                                                                                  \
                    continue;                                                                                           \
                if (ring_row[slot] != sy) {                                                                             \
                    ring_row[slot] = sy;                                                                                \
                    float *RESTRICT row = pad + 16 * 3;                                                                 \
                    if (bs) {                                                                                           \
                        const uint16_t *RESTRICT cr = band_row(bs, sy, w, h);                                           \
                        for (Py_ssize_t x = 0; x < w; x++) row[x] = (float)cr[x];                                       \
                    } else if (src)                                                                                     \
                        memcpy(row, src + sy * w, (size_t)w * sizeof(float));                                           \
                    else if (!c2)                                                                                       \
                        for (Py_ssize_t x = 0; x < w; x++) row[x] = (float)c1[sy * w + x];                              \
                    else                                                                                                \
                        for (Py_ssize_t x = 0; x < w; x++) row[x] = (float)((uint32_t)c1[sy * w + x] + c2[sy * w + x]); \
                    uint32_t any = 0;                                                                                   \
                    for (Py_ssize_t x = 0; x < w; x++) any |= ((const bits32 *)row)[x];                                 \
                    ring_full[slot] = any != 0;                                                                         \
                    if (any && !HSPARSE(row, ring + slot * wv, wv, kx, R))                                              \
                        HROW_CALL(row, ring + slot * wv, wv, kx, R);                                                    \
                }                                                                                                       \
                if (ring_full[slot]) {                                                                                  \
                    rows[j] = ring + slot * wv;                                                                         \
                    any_row = 1;                                                                                        \
                }                                                                                                       \
            }                                                                                                           \
            for (int t = 0; t < 4; t++)                                                                                 \
                o[t] = y + t < r1 ? dst + (y + t) * w : spare;                                                          \
            if (!any_row) {                                                                                             \
                for (int t = 0; t < 4 && y + t < r1; t++) memset(o[t], 0, (size_t)w * sizeof(float));                   \
                continue;                                                                                               \
            }                                                                                                           \
            VROWS(rows, o, w, ky, R, nt && y + 4 <= r1);                                                                \
        }                                                                                                               \
        if (nt)                                                                                                         \
            _mm_sfence(); /* streamed rows are visible before the other thread or the caller reads them */              \
    }

#define HROW512(row, out, wv, kx, R)                                                                 \
    do {                                                                                             \
        if ((R) <= 16)                                                                               \
            hrow1(row, out, wv, kx, R);                                                              \
        else if ((R) <= 32)                                                                          \
            hrow2(row, out, wv, kx, R);                                                              \
        else                                                                                         \
            hrow3(row, out, wv, kx, R);                                                              \
    } while (0)
__attribute__((target("avx512f"))) static void blur4_avx512 BLUR4_ARGS BLUR4_BODY(HROW512, hsparse512, vrows4)

/* The AVX2 versions: eight floats a vector and sixteen registers. Without a two-register shift
   across 128-bit lanes, the horizontal pass loads its shifted vectors (unaligned, from L1); the
   vertical pass is the same four rows at a time as above, one vector of each. */
__attribute__((target("avx2,fma"))) static void hrow_avx2(const float *in, float *out, Py_ssize_t n, const float *kx,
                                                          Py_ssize_t R)
{
    for (Py_ssize_t x = 0; x < n; x += 32) {
        __m256 acc[4];
        for (int v = 0; v < 4; v++) acc[v] = _mm256_mul_ps(_mm256_loadu_ps(in + x + 8 * v), _mm256_set1_ps(kx[0]));
        for (Py_ssize_t k = 1; k <= R; k++) {
            const __m256 kk = _mm256_set1_ps(kx[k]);
            for (int v = 0; v < 4; v++)
                acc[v] = _mm256_fmadd_ps(_mm256_add_ps(_mm256_loadu_ps(in + x + 8 * v - k), _mm256_loadu_ps(in + x + 8 * v + k)),
                                         kk, acc[v]);
        }
        for (int v = 0; v < 4; v++) _mm256_store_ps(out + x + 8 * v, acc[v]);
    }
}

/* hsparse512 for AVX2: the same sum of each value's kernel, in four vectors of eight */
__attribute__((target("avx2,fma"))) static int hsparse_avx2(const float *row, float *out, Py_ssize_t wv, const float *kx,
                                                            Py_ssize_t R)
{
    if (R > 15)
        return 0;
    const __m256 zero = _mm256_setzero_ps();
    Py_ssize_t nnz = 0;
    for (Py_ssize_t x = 0; x < wv; x += 8)
        nnz += __builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_load_ps(row + x), zero, _CMP_NEQ_UQ)));
    if (nnz * 16 > wv)
        return 0;
    float kv[32];
    for (int i = 0; i < 32; i++) kv[i] = i <= 2 * R ? kx[i - R] : 0.0f;
    __m256 k[4];
    for (int v = 0; v < 4; v++) k[v] = _mm256_loadu_ps(kv + 8 * v);
    for (Py_ssize_t x = 0; x < wv; x += 8) _mm256_store_ps(out + x, zero);
    for (Py_ssize_t x0 = 0; x0 < wv; x0 += 8) {
        unsigned m = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_load_ps(row + x0), zero, _CMP_NEQ_UQ));
        while (m) {
            const Py_ssize_t x = x0 + __builtin_ctz(m);
            m &= m - 1;
            const float v = row[x];
            if (x >= R && x - R + 32 <= wv) {
                float *o = out + x - R;
                const __m256 vv = _mm256_set1_ps(v);
                for (int j = 0; j < 4; j++) _mm256_storeu_ps(o + 8 * j, _mm256_fmadd_ps(vv, k[j], _mm256_loadu_ps(o + 8 * j)));
            } else {
                for (Py_ssize_t i = x - R < 0 ? 0 : x - R; i <= x + R && i < wv; i++) out[i] += v * kx[i - x];
            }
        }
    }
    return 1;
}

__attribute__((target("avx2,fma"))) static void vrows4_avx2(const float *const *rows, float *const *o, Py_ssize_t w,
                                                            const float *ky, Py_ssize_t R, int nt)
{
    static const int32_t lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    for (Py_ssize_t x = 0; x < w; x += 8) {
        __m256 acc[4], L[4], U[4];
        const __m256 k0 = _mm256_set1_ps(ky[0]);
        for (int t = 0; t < 4; t++) {
            L[t] = U[t] = _mm256_load_ps(rows[R + t] + x);
            acc[t] = _mm256_mul_ps(L[t], k0);
        }
        for (Py_ssize_t k = 1; k <= R; k++) { /* L[t]: row y + t - k, U[t]: row y + t + k */
            L[3] = L[2], L[2] = L[1], L[1] = L[0];
            L[0] = _mm256_load_ps(rows[R - k] + x);
            U[0] = U[1], U[1] = U[2], U[2] = U[3];
            U[3] = _mm256_load_ps(rows[R + 3 + k] + x);
            const __m256 kk = _mm256_set1_ps(ky[k]);
            for (int t = 0; t < 4; t++) acc[t] = _mm256_fmadd_ps(_mm256_add_ps(L[t], U[t]), kk, acc[t]);
        }
        const Py_ssize_t left = w - x;
        for (int t = 0; t < 4; t++) {
            if (left >= 8) {
                if (nt)
                    _mm256_stream_ps(o[t] + x, acc[t]);
                else
                    _mm256_storeu_ps(o[t] + x, acc[t]);
            } else {
                _mm256_maskstore_ps(o[t] + x, _mm256_loadu_si256((const __m256i *)(lanes + 8 - left)), acc[t]);
            }
        }
    }
}
__attribute__((target("avx2,fma"))) static void blur4_avx2 BLUR4_ARGS BLUR4_BODY(hrow_avx2, hsparse_avx2, vrows4_avx2)
#endif

/* The blur's working rows, as blur() and blur_points() hand them to the row code: a padded source
   row (zeros each side: R for the one-row code, 16 * 3 for the four-row code), a ring of
   horizontally blurred rows (2R+1, or 2R+4 for four output rows at a time), then a zero row and a
   spare one; 64-byte aligned, rows of wv floats. */
typedef struct {
    float *pad, *ring;
    Py_ssize_t *ring_row;
    int *ring_full;
    Py_ssize_t span, wv;
} rows_t;

/* (without the GIL: 0 when out of memory) */
static int rows_alloc_raw(rows_t *r, Py_ssize_t w, Py_ssize_t R, int wide)
{
    r->wv = (w + CHUNK - 1) / CHUNK * CHUNK;
    r->span = wide ? 2 * R + 4 : 2 * R + 1;
    const Py_ssize_t padlen = wide ? r->wv + 2 * 16 * 3 : r->wv + 2 * R + CHUNK;
    r->pad = aligned_alloc(64, ((size_t)padlen * sizeof(float) + 63) / 64 * 64);
    r->ring = aligned_alloc(64, (size_t)((r->span + 2) * r->wv) * sizeof(float));
    r->ring_row = malloc((size_t)r->span * sizeof(Py_ssize_t));
    r->ring_full = malloc((size_t)r->span * sizeof(int));
    if (!r->pad || !r->ring || !r->ring_row || !r->ring_full)
        return 0;
    memset(r->pad, 0, (size_t)padlen * sizeof(float));
    memset(r->ring + r->span * r->wv, 0, (size_t)r->wv * sizeof(float)); /* the zero row */
    return 1;
}

static int rows_alloc(rows_t *r, Py_ssize_t w, Py_ssize_t R, int wide)
{
    if (rows_alloc_raw(r, w, R, wide))
        return 1;
    PyErr_NoMemory();
    return 0;
}

static void rows_free(rows_t *r)
{
    free(r->pad);
    free(r->ring);
    free(r->ring_row);
    free(r->ring_full);
}

/* The blur's vector code: 2 AVX-512, 1 AVX2+FMA, 0 baseline; at most `simd_cap` (set_simd(): the
   tests run every version this CPU has). */
static int simd_cap = 2;
static int simd_level(void)
{
    int level = 0;
#ifdef HAVE_AVX2
    if (__builtin_cpu_supports("avx512f"))
        level = 2;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        level = 1;
#endif
    return level < simd_cap ? level : simd_cap;
}

/* blur(src, dst, w, h, kx, ky, r0, r1[, second[, stream[, counter, block]]]): src is float32, or uint16
   counts (plus a second uint16 grid added to it: the two threads' counts); stream: write dst with
   streaming stores (when dst and its rows are 64-byte aligned); counter, block: the rows in blocks
   of `block` claimed from the counter (share_t) */
static PyObject *blur(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer bs, bd, bkx, bky, b2 = {0};
    Py_ssize_t w, h, r0, r1, block = 0;
    PyObject *second = Py_None, *counter = Py_None;
    int stream = 0;
    Py_buffer bcount = {0};
    share_t sh;
    if (!PyArg_ParseTuple(args, "y*w*nny*y*nn|OpOn", &bs, &bd, &w, &h, &bkx, &bky, &r0, &r1, &second, &stream, &counter,
                          &block))
        return NULL;
    PyObject *result = NULL;
    rows_t rw = {0};
    int have2 = 0;
    if (!get_share(counter, block, &bcount, &sh))
        goto done;
    have2 = second != Py_None;
    if (have2 && PyObject_GetBuffer(second, &b2, PyBUF_SIMPLE) < 0) {
        have2 = 0;
        goto done;
    }
    const Py_ssize_t R = (Py_ssize_t)(bkx.len / 4) / 2;
    if (w < 1 || h < 1 || w > PY_SSIZE_T_MAX / 4 / h || R < 0 || R > MAX_R || bkx.len != (2 * R + 1) * 4 ||
        r0 < 0 || r1 > h || r0 > r1) {
        PyErr_SetString(PyExc_ValueError, "blur: bad grid size, kernel or row range");
        goto done;
    }
    /* float32 source: 4 bytes a cell; uint16 counts: 2 (and the second grid the same) */
    const int counts = bs.len == w * h * 2;
    if ((have2 && (!counts || !sized(&b2, w * h * 2, "second") || !aligned(&b2, 2, "second"))) ||
        (!counts && !sized(&bs, w * h * 4, "src")))
        goto done;
    if (!sized(&bd, w * h * 4, "dst") || !sized(&bky, (2 * R + 1) * 4, "ky") ||
        !aligned(&bs, 4, "src") || !aligned(&bd, 4, "dst") || !aligned(&bkx, 4, "kx") || !aligned(&bky, 4, "ky"))
        goto done;
    if (bs.buf == bd.buf) {
        PyErr_SetString(PyExc_ValueError, "blur: src and dst must differ");
        goto done;
    }
    const int level = simd_level(), wide = R <= HMAX && level >= 1; /* the four-row code (AVX-512 or AVX2) */
    if (!rows_alloc(&rw, w, R, wide))
        goto done;
    float *pad = rw.pad, *ring = rw.ring;
    Py_ssize_t *ring_row = rw.ring_row;
    int *ring_full = rw.ring_full;
    /* the body reads the centre tap and the taps right of it: k[0..R] */
    const float *src = counts ? NULL : (const float *)bs.buf, *kx = (const float *)bkx.buf + R, *ky = (const float *)bky.buf + R;
    const uint16_t *c1 = counts ? (const uint16_t *)bs.buf : NULL, *c2 = have2 ? (const uint16_t *)b2.buf : NULL;
    float *dst = (float *)bd.buf;
    /* streaming stores where the caller asks for them (and rows start on whole cache lines) */
    const int nt = stream && (uintptr_t)dst % 64 == 0 && w % 16 == 0;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t a, b;
    while (next_block(&sh, r0, r1, &a, &b)) {
#ifdef HAVE_AVX2
        if (wide)
            (level == 2 ? blur4_avx512 : blur4_avx2)(src, c1, c2, dst, w, h, kx, ky, R, a, b, pad, ring, ring_row,
                                                     ring_full, ring + rw.span * rw.wv, ring + (rw.span + 1) * rw.wv, nt,
                                                     NULL);
        else if (level == 2)
            blur_avx512(src, c1, c2, dst, w, h, kx, ky, R, a, b, pad, ring, ring_row, ring_full);
        else if (level == 1)
            blur_avx2(src, c1, c2, dst, w, h, kx, ky, R, a, b, pad, ring, ring_row, ring_full);
        else
#endif
            blur_base(src, c1, c2, dst, w, h, kx, ky, R, a, b, pad, ring, ring_row, ring_full);
    }
    (void)nt; /* (the one-row blur writes as it goes) */
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    rows_free(&rw);
    if (have2)
        PyBuffer_Release(&b2);
    if (sh.counter)
        PyBuffer_Release(&bcount);
    PyBuffer_Release(&bs);
    PyBuffer_Release(&bd);
    PyBuffer_Release(&bkx);
    PyBuffer_Release(&bky);
    return result;
}

/* Chunk c of `chunk` points: each point's cell within its band of 1 << shift rows (fewer than 65536
   cells) written to cells (uint16, one per point), grouped by band within its chunk: chunk c's band b
   is cells[offs[b * nchunks + c] : offs[(b + 1) * nchunks + c]], for nb = ((h - 1) >> shift) + 2
   bands (the last: points above or below the canvas; a point left or right of it is the cell
   0xFFFF, which no band has). A chunk is read from memory once and again from the cache, so the
   points cost one streaming pass. */
static void bucket_chunk(const int64_t *px, const int64_t *py, Py_ssize_t c, Py_ssize_t nchunks, Py_ssize_t chunk,
                         Py_ssize_t n, Py_ssize_t w, Py_ssize_t h, Py_ssize_t shift, Py_ssize_t nb,
                         uint16_t *RESTRICT cells, int64_t *RESTRICT offs, int64_t *RESTRICT hist)
{
    const Py_ssize_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
    int64_t *pos = hist + nb;
    memset(hist, 0, (size_t)nb * sizeof(int64_t));
    for (Py_ssize_t i = lo; i < hi; i++) {
        const uint64_t y = (uint64_t)py[i];
        hist[y < (uint64_t)h ? (Py_ssize_t)(y >> shift) : nb - 1]++;
    }
    int64_t at = lo;
    for (Py_ssize_t b = 0; b < nb; b++) {
        offs[b * nchunks + c] = pos[b] = at;
        at += hist[b];
    }
    offs[nb * nchunks + c] = at;
    for (Py_ssize_t i = lo; i < hi; i++) {
        const uint64_t x = (uint64_t)px[i], y = (uint64_t)py[i];
        const Py_ssize_t b = y < (uint64_t)h ? (Py_ssize_t)(y >> shift) : nb - 1;
        cells[pos[b]++] = x < (uint64_t)w ? (uint16_t)((y & (((uint64_t)1 << shift) - 1)) * (uint64_t)w + x) : 0xFFFF;
    }
}

/* ---- one worker thread of this module's own --------------------------------------------------
 * Handing work to trackheat.pool's helper costs about 0.1 ms right after another library's work
 * (submitting a Python call, waking the thread, taking and giving back the GIL, the result): a
 * sixth of a 10k-point density at 2 px. blur_points() hands its half to this thread in C
 * instead: a condition variable, no GIL. Work is claimed from shared counters, so a worker that
 * starts late, or never (another caller has it), only means this thread does more of it. */
#ifdef HAVE_AVX2
#ifndef _WIN32
#include <pthread.h>
#include <sched.h>
#define HAVE_WORKER 1
#define YIELD() sched_yield()
#else
#define YIELD() ((void)0)
#endif
#ifdef HAVE_WORKER
typedef void (*task_fn)(void *);
static pthread_mutex_t wk_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wk_go = PTHREAD_COND_INITIALIZER, wk_done = PTHREAD_COND_INITIALIZER;
static int wk_started, wk_busy, wk_finished = 1;
static unsigned long wk_gen;
static task_fn wk_fn;
static void *wk_arg;

static void *worker_main(void *unused)
{
    (void)unused;
    unsigned long seen = 0;
    pthread_mutex_lock(&wk_lock);
    for (;;) {
        while (wk_gen == seen)
            pthread_cond_wait(&wk_go, &wk_lock);
        seen = wk_gen;
        task_fn fn = wk_fn;
        void *arg = wk_arg;
        pthread_mutex_unlock(&wk_lock);
        fn(arg);
        pthread_mutex_lock(&wk_lock);
        __atomic_store_n(&wk_finished, 1, __ATOMIC_RELEASE);
        pthread_cond_signal(&wk_done);
    }
    return NULL;
}

/* a forked child has no worker (only the forking thread survives): it starts its own */
static void worker_atfork_child(void)
{
    pthread_mutex_init(&wk_lock, NULL);
    pthread_cond_init(&wk_go, NULL);
    pthread_cond_init(&wk_done, NULL);
    wk_started = wk_busy = 0;
    wk_finished = 1;
}

/* fn(arg) here and on the worker at once (alone when another caller has the worker) */
static void run_both(task_fn fn, void *arg)
{
    int posted = 0;
    pthread_mutex_lock(&wk_lock);
    if (!wk_busy) {
        if (!wk_started) {
            pthread_t t;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            wk_started = pthread_create(&t, &attr, worker_main, NULL) == 0;
            pthread_attr_destroy(&attr);
        }
        if (wk_started) {
            wk_busy = 1;
            wk_fn = fn;
            wk_arg = arg;
            wk_finished = 0;
            wk_gen++;
            pthread_cond_signal(&wk_go);
            posted = 1;
        }
    }
    pthread_mutex_unlock(&wk_lock);
    fn(arg);
    if (!posted)
        return;
    for (int i = 0; i < 4000 && !__atomic_load_n(&wk_finished, __ATOMIC_ACQUIRE); i++)
        _mm_pause(); /* (its last block is usually a few microseconds from done: not worth a sleep) */
    pthread_mutex_lock(&wk_lock);
    while (!wk_finished)
        pthread_cond_wait(&wk_done, &wk_lock);
    wk_busy = 0;
    pthread_mutex_unlock(&wk_lock);
}
#endif

/* blur_points's shared state: both threads bucket chunks of points, wait until every chunk is
   placed, then blur blocks of rows; each claims work from a counter (next_block) and counts what
   it finished */
typedef struct {
    const int64_t *px, *py;
    Py_ssize_t n, chunk, nchunks, w, h, shift, nb, R, block;
    uint16_t *cells;
    int64_t *offs;
    float *dst;
    const float *kx, *ky;
    int nt, level;
    int64_t next_chunk, chunks_done, next_block, rows_done; /* (the counters of share_t: chunks, blocks of rows) */
    int wrapped;
} points_task;

static void points_run(void *arg)
{
    points_task *t = arg;
    int64_t *hist = malloc((size_t)t->nb * 2 * sizeof(int64_t));
    uint16_t *band = malloc(((size_t)t->w << t->shift) * sizeof(uint16_t));
    rows_t rw = {0};
    if (!hist || !band || !rows_alloc_raw(&rw, t->w, t->R, 1))
        goto done; /* (the other thread does it all; the caller checks that all of it was done) */
    share_t chunks = {&t->next_chunk, 1, 0}, blocks = {&t->next_block, t->block, 0};
    Py_ssize_t a, e;
    while (next_block(&chunks, 0, t->nchunks, &a, &e)) {
        bucket_chunk(t->px, t->py, a, t->nchunks, t->chunk, t->n, t->w, t->h, t->shift, t->nb, t->cells, t->offs, hist);
        __atomic_fetch_add(&t->chunks_done, 1, __ATOMIC_RELEASE);
    }
    /* the other thread's last chunk: at most one chunk of work away */
    for (int spins = 0; __atomic_load_n(&t->chunks_done, __ATOMIC_ACQUIRE) < t->nchunks; spins++) {
        if (spins < 20000)
            _mm_pause();
        else
            YIELD();
    }
    bandsrc bs = {t->cells, t->offs, t->nchunks, t->nb, t->shift, band, -1, 0};
    const Py_ssize_t span = rw.span, wv = rw.wv;
    while (next_block(&blocks, 0, t->h, &a, &e)) {
        (t->level == 2 ? blur4_avx512 : blur4_avx2)(NULL, NULL, NULL, t->dst, t->w, t->h, t->kx + t->R, t->ky + t->R,
                                                    t->R, a, e, rw.pad, rw.ring, rw.ring_row, rw.ring_full,
                                                    rw.ring + span * wv, rw.ring + (span + 1) * wv, t->nt, &bs);
        __atomic_fetch_add(&t->rows_done, e - a, __ATOMIC_RELAXED);
    }
    if (bs.wrapped)
        __atomic_store_n(&t->wrapped, 1, __ATOMIC_RELAXED);
done:
    rows_free(&rw);
    free(band);
    free(hist);
}
#endif

/* blur_points(ix, iy, chunk, w, h, shift, cells, offs, dst, kx, ky, stream, block, alone) -> wrapped:
   the blur (as blur() gives it) of the count of the points (int64 pixel indices; those off the
   canvas add nothing), without a full-size count: the points, `chunk` at a time, are bucketed by
   band of 1 << shift rows (bucket_chunk: cells, uint16, one per point; offs, int64, (nb + 1) x
   nchunks), then `block` rows at a time are blurred, each band counted in a small buffer just
   before the blur reads it. On this thread and the module's worker (unless `alone`; see
   run_both). True when a pixel passed 65535 points (dst is then incomplete). AVX2 or AVX-512, and
   kernels up to HMAX taps a side only. */
static PyObject *blur_points(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer bx, by, bc, bo, bd, bkx, bky;
    Py_ssize_t chunk, w, h, shift, block;
    int stream, alone;
    if (!PyArg_ParseTuple(args, "y*y*nnnnw*w*w*y*y*pnp", &bx, &by, &chunk, &w, &h, &shift, &bc, &bo, &bd, &bkx, &bky,
                          &stream, &block, &alone))
        return NULL;
    PyObject *result = NULL;
#ifdef HAVE_AVX2
    const Py_ssize_t n = bx.len / 8, R = (Py_ssize_t)(bkx.len / 4) / 2;
    const Py_ssize_t nb = (w >= 1 && h >= 1 && shift >= 0 && shift <= 16) ? ((h - 1) >> shift) + 2 : 0;
    const Py_ssize_t nchunks = chunk >= 1 ? (n + chunk - 1) / chunk : 0;
    const int level = simd_level();
    if (level < 1 || R > HMAX) {
        PyErr_SetString(PyExc_ValueError, "blur_points: needs AVX2 or AVX-512 and at most 48 taps a side");
        goto done;
    }
    if (!nb || chunk < 1 || block < 1 || (w << shift) >= 65536 || w > PY_SSIZE_T_MAX / 4 / h || !sized(&by, n * 8, "iy") ||
        !sized(&bx, n * 8, "ix") || bc.len < n * 2 || !sized(&bo, (nb + 1) * nchunks * 8, "offs") ||
        !sized(&bd, w * h * 4, "dst") || bkx.len != (2 * R + 1) * 4 || !sized(&bky, (2 * R + 1) * 4, "ky") ||
        !aligned(&bx, 8, "ix") || !aligned(&by, 8, "iy") || !aligned(&bc, 2, "cells") || !aligned(&bo, 8, "offs") ||
        !aligned(&bd, 4, "dst") || !aligned(&bkx, 4, "kx") || !aligned(&bky, 4, "ky")) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "blur_points: bad arguments");
        goto done;
    }
    points_task t = {(const int64_t *)bx.buf, (const int64_t *)by.buf, n, chunk, nchunks, w, h, shift, nb, R, block,
                     (uint16_t *)bc.buf, (int64_t *)bo.buf, (float *)bd.buf, (const float *)bkx.buf,
                     (const float *)bky.buf, 0, level, 0, 0, 0, 0, 0};
    t.nt = stream && (uintptr_t)bd.buf % 64 == 0 && w % 16 == 0;
    Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_WORKER
    if (!alone)
        run_both(points_run, &t);
    else
#endif
        points_run(&t);
    Py_END_ALLOW_THREADS
    if (t.chunks_done != nchunks || t.rows_done != h) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyBool_FromLong(t.wrapped);
#else
    (void)chunk, (void)w, (void)h, (void)shift, (void)stream, (void)block, (void)alone;
    PyErr_SetString(PyExc_ValueError, "blur_points: needs AVX2 or AVX-512");
    goto done;
#endif
done:
    PyBuffer_Release(&bx);
    PyBuffer_Release(&by);
    PyBuffer_Release(&bc);
    PyBuffer_Release(&bo);
    PyBuffer_Release(&bd);
    PyBuffer_Release(&bkx);
    PyBuffer_Release(&bky);
    return result;
}

/* count16(ix, iy, grid, w, h[, counter, block]) -> bool: add 1 per point on the canvas into the uint16 grid (h x w);
   True when a cell wrapped past 65535 (the caller redoes the count in float). Half the bytes of a
   float32 grid: a 4K count (16.6 MB) stays in this machine's 32 MB L3, where each random add
   costs a third of one that goes to memory. */
static PyObject *count16(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer bx, by, grid, bcount = {0};
    Py_ssize_t w, h, block = 0;
    PyObject *counter = Py_None;
    share_t sh;
    if (!PyArg_ParseTuple(args, "y*y*w*nn|On", &bx, &by, &grid, &w, &h, &counter, &block))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = bx.len / 8;
    if (!get_share(counter, block, &bcount, &sh))
        goto done;
    if (w < 1 || h < 1 || w > PY_SSIZE_T_MAX / 2 / h) {
        PyErr_SetString(PyExc_ValueError, "count16: bad grid size");
        goto done;
    }
    if (!sized(&bx, n * 8, "ix") || !sized(&by, n * 8, "iy") || !sized(&grid, w * h * 2, "grid") ||
        !aligned(&bx, 8, "ix") || !aligned(&by, 8, "iy") || !aligned(&grid, 2, "grid"))
        goto done;
    const int64_t *px = (const int64_t *)bx.buf, *py = (const int64_t *)by.buf;
    uint16_t *g = (uint16_t *)grid.buf;
    int wrapped = 0;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t a, e;
    while (next_block(&sh, 0, n, &a, &e))
        for (Py_ssize_t i = a; i < e; i++) {
            const uint64_t x = (uint64_t)px[i], y = (uint64_t)py[i];
            if (x >= (uint64_t)w || y >= (uint64_t)h) /* points off the canvas are ignored */
                continue;
            wrapped |= ++g[y * (uint64_t)w + x] == 0;
        }
    Py_END_ALLOW_THREADS
    result = PyBool_FromLong(wrapped);
done:
    if (sh.counter)
        PyBuffer_Release(&bcount);
    PyBuffer_Release(&bx);
    PyBuffer_Release(&by);
    PyBuffer_Release(&grid);
    return result;
}

/* downsplit(c1, c2, xtab, ytab, q, out, w, h, wl, hl, r0, r1) -> max: the reduced path's coarse
   grid from full-resolution uint16 counts (c1, plus c2 when not None): every pixel's count split
   over the four coarse centres around it by the same whole shares (in 1/q) as split() gives a point
   there, into coarse rows [r0, r1) of the float32 out (hl x wl, zeroed by the caller). The same
   whole numbers as split(), so exact while they stay below 2^24 (the maximum is returned to check).
   With many points (10M), one random add per point into a 16 MB count and a streaming pass over it
   costs less than four random adds per point: the pixels of a coarse row are combined vertically
   (vectors, contiguous), then split horizontally once per coarse row. */
static PyObject *downsplit(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b1, b2 = {0}, bxt, byt, bo;
    PyObject *second;
    Py_ssize_t q, w, h, wl, hl, r0, r1;
    if (!PyArg_ParseTuple(args, "y*Oy*y*nw*nnnnnn", &b1, &second, &bxt, &byt, &q, &bo, &w, &h, &wl, &hl, &r0, &r1))
        return NULL;
    PyObject *result = NULL;
    float *acc = NULL;
    const int have2 = second != Py_None;
    if (have2 && PyObject_GetBuffer(second, &b2, PyBUF_SIMPLE) < 0)
        goto done;
    if (q < 2 || q > 1 << 12 || w < 1 || h < 1 || wl < 2 || hl < 2 || w > PY_SSIZE_T_MAX / 4 / h ||
        wl > PY_SSIZE_T_MAX / 4 / hl || r0 < 0 || r1 > hl || r0 > r1) {
        PyErr_SetString(PyExc_ValueError, "downsplit: bad sizes or row range");
        goto done;
    }
    if (!sized(&b1, w * h * 2, "counts") || (have2 && !sized(&b2, w * h * 2, "second")) ||
        !sized(&bxt, w * 8, "xtab") || !sized(&byt, h * 8, "ytab") || !sized(&bo, wl * hl * 4, "out") ||
        !aligned(&b1, 2, "counts") || (have2 && !aligned(&b2, 2, "second")) || !aligned(&bxt, 4, "xtab") ||
        !aligned(&byt, 4, "ytab") || !aligned(&bo, 4, "out"))
        goto done;
    const int32_t *xt = (const int32_t *)bxt.buf, *yt = (const int32_t *)byt.buf;
    for (Py_ssize_t i = 0; i < w; i++)
        if (xt[2 * i] < 0 || xt[2 * i] + 1 >= wl || xt[2 * i + 1] < 0 || xt[2 * i + 1] >= q) {
            PyErr_SetString(PyExc_ValueError, "downsplit: xtab out of range");
            goto done;
        }
    for (Py_ssize_t i = 0; i < h; i++)
        if (yt[2 * i] < 0 || yt[2 * i] + 1 >= hl || yt[2 * i + 1] < 0 || yt[2 * i + 1] >= q ||
            (i && yt[2 * i] < yt[2 * i - 2])) {
            PyErr_SetString(PyExc_ValueError, "downsplit: ytab out of range");
            goto done;
        }
    acc = malloc((size_t)w * sizeof(float));
    if (!acc) {
        PyErr_NoMemory();
        goto done;
    }
    const uint16_t *c1 = (const uint16_t *)b1.buf, *c2 = have2 ? (const uint16_t *)b2.buf : NULL;
    float *out = (float *)bo.buf;
    float top = 0.0f;
    Py_BEGIN_ALLOW_THREADS
    /* full-resolution rows feeding coarse row Y: those whose lower cell is Y (share q - ay) or Y - 1 (ay) */
    Py_ssize_t first = 0;
    while (first < h && yt[2 * first] + 1 < r0) first++;
    for (Py_ssize_t Y = r0; Y < r1; Y++) {
        int used = 0;
        for (Py_ssize_t sy = first; sy < h && yt[2 * sy] <= Y; sy++) {
            const int32_t y0 = yt[2 * sy], ay = yt[2 * sy + 1];
            const float wy = (float)(y0 == Y ? q - ay : ay);
            if (y0 + 1 < Y || wy == 0.0f) continue;
            const uint16_t *RESTRICT a = c1 + sy * w, *RESTRICT b = c2 ? c2 + sy * w : NULL;
            if (!used) {
                if (b) for (Py_ssize_t x = 0; x < w; x++) acc[x] = wy * (float)((uint32_t)a[x] + b[x]);
                else for (Py_ssize_t x = 0; x < w; x++) acc[x] = wy * (float)a[x];
                used = 1;
            } else if (b) {
                for (Py_ssize_t x = 0; x < w; x++) acc[x] += wy * (float)((uint32_t)a[x] + b[x]);
            } else {
                for (Py_ssize_t x = 0; x < w; x++) acc[x] += wy * (float)a[x];
            }
        }
        while (first < h && yt[2 * first] + 1 < Y + 1) first++;
        if (!used) continue;
        float *RESTRICT o = out + Y * wl;
        for (Py_ssize_t x = 0; x < w; x++) {
            const float v = acc[x];
            if (v == 0.0f) continue;
            const int32_t x0 = xt[2 * x], ax = xt[2 * x + 1];
            o[x0] += (float)(q - ax) * v;
            o[x0 + 1] += (float)ax * v;
        }
        for (Py_ssize_t x = 0; x < wl; x++) top = o[x] > top ? o[x] : top;
    }
    Py_END_ALLOW_THREADS
    result = PyFloat_FromDouble((double)top);
done:
    free(acc);
    PyBuffer_Release(&b1);
    if (have2)
        PyBuffer_Release(&b2);
    PyBuffer_Release(&bxt);
    PyBuffer_Release(&byt);
    PyBuffer_Release(&bo);
    return result;
}

/* ---- counting in bands ------------------------------------------------------------------------
 * A 4K count (16.6 MB as uint16) does not stay in cache while other programs run: each random add
 * then waits for memory. So many points are first bucketed by band of rows (bands() counts them
 * per band, scatter() writes each one's cell index into its band's run; a streaming pass), then
 * each band is counted into its slice of the grid, which fits in L2 (band_count16()). Two threads
 * do halves of the points in the first two steps and halves of the bands in the last. */

/* bands(iy, i0, i1, shift, h, hist): hist[b] += points of [i0, i1) in band b = y >> shift; points
   above or below the canvas go to the last entry (hist has (h - 1 >> shift) + 2 entries) */
static PyObject *bands(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer by, bh;
    Py_ssize_t i0, i1, shift, h;
    if (!PyArg_ParseTuple(args, "y*nnnnw*", &by, &i0, &i1, &shift, &h, &bh))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = by.len / 8;
    if (h < 1 || shift < 0 || shift > 30 || i0 < 0 || i1 > n || i0 > i1 || !sized(&by, n * 8, "iy") ||
        !sized(&bh, (((h - 1) >> shift) + 2) * 8, "hist") || !aligned(&by, 8, "iy") || !aligned(&bh, 8, "hist")) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "bands: bad arguments");
        goto done;
    }
    const int64_t *py = (const int64_t *)by.buf;
    int64_t *hist = (int64_t *)bh.buf;
    const Py_ssize_t off = ((h - 1) >> shift) + 1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = i0; i < i1; i++) {
        const uint64_t y = (uint64_t)py[i];
        hist[y < (uint64_t)h ? (Py_ssize_t)(y >> shift) : off]++;
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&by);
    PyBuffer_Release(&bh);
    return result;
}

/* scatter(ix, iy, i0, i1, shift, w, h, pos, cells): cells[pos[b]++] = y * w + x for each point of
   [i0, i1) in band b (0xFFFFFFFF for one left or right of the canvas); pos as bands() sized it */
static PyObject *scatter(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer bx, by, bp, bc;
    Py_ssize_t i0, i1, shift, w, h;
    if (!PyArg_ParseTuple(args, "y*y*nnnnnw*w*", &bx, &by, &i0, &i1, &shift, &w, &h, &bp, &bc))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = bx.len / 8, nb = ((h - 1) >> shift) + 2, nc = bc.len / 4;
    if (w < 1 || h < 1 || w > (Py_ssize_t)(UINT32_MAX / 2) / h || shift < 0 || shift > 30 || i0 < 0 || i1 > n ||
        i0 > i1 || !sized(&bx, n * 8, "ix") || !sized(&by, n * 8, "iy") || !sized(&bp, nb * 8, "pos") ||
        !aligned(&bx, 8, "ix") || !aligned(&by, 8, "iy") || !aligned(&bp, 8, "pos") || !aligned(&bc, 4, "cells")) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "scatter: bad arguments");
        goto done;
    }
    const int64_t *px = (const int64_t *)bx.buf, *py = (const int64_t *)by.buf;
    int64_t *pos = (int64_t *)bp.buf;
    uint32_t *cells = (uint32_t *)bc.buf;
    const Py_ssize_t off = nb - 1;
    /* every run must fit: the positions are the caller's prefix sums of bands() */
    for (Py_ssize_t b = 0; b < nb; b++)
        if (pos[b] < 0 || pos[b] > nc) {
            PyErr_SetString(PyExc_ValueError, "scatter: position out of range");
            goto done;
        }
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = i0; i < i1; i++) {
        const uint64_t x = (uint64_t)px[i], y = (uint64_t)py[i];
        const Py_ssize_t b = y < (uint64_t)h ? (Py_ssize_t)(y >> shift) : off;
        const int64_t at = pos[b]++;
        if (at >= nc) { /* the counts did not match the points: never write past the array */
            bad = 1;
            break;
        }
        cells[at] = x < (uint64_t)w && y < (uint64_t)h ? (uint32_t)(y * (uint64_t)w + x) : UINT32_MAX;
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "scatter: more points in a band than bands() counted");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&bx);
    PyBuffer_Release(&by);
    PyBuffer_Release(&bp);
    PyBuffer_Release(&bc);
    return result;
}

/* band_count16(cells, j0, j1, grid, lo, hi) -> wrapped: grid[c] += 1 for the cells[j0:j1] in
   [lo, hi) (others skipped: off the canvas); True when a cell passed 65535 */
static PyObject *band_count16(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer bc, bg;
    Py_ssize_t j0, j1, lo, hi;
    if (!PyArg_ParseTuple(args, "y*nnw*nn", &bc, &j0, &j1, &bg, &lo, &hi))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t nc = bc.len / 4, ng = bg.len / 2;
    if (j0 < 0 || j1 > nc || j0 > j1 || lo < 0 || hi > ng || lo > hi || !aligned(&bc, 4, "cells") || !aligned(&bg, 2, "grid")) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "band_count16: bad arguments");
        goto done;
    }
    const uint32_t *cells = (const uint32_t *)bc.buf;
    uint16_t *g = (uint16_t *)bg.buf;
    int wrapped = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t j = j0; j < j1; j++) {
        const uint32_t c = cells[j];
        if (c < (uint64_t)lo || c >= (uint64_t)hi)
            continue;
        wrapped |= ++g[c] == 0;
    }
    Py_END_ALLOW_THREADS
    result = PyBool_FromLong(wrapped);
done:
    PyBuffer_Release(&bc);
    PyBuffer_Release(&bg);
    return result;
}

static const char *const simd_names[] = {"base", "avx2", "avx512"};

/* simd() -> the blur's vector code on this CPU: "avx512" (shifts in registers, four rows at a time,
   up to HMAX taps a side), "avx2" or "base"; density()'s cost model differs between them */
static PyObject *simd(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyUnicode_FromString(simd_names[simd_level()]);
}

/* set_simd(name): use at most that vector code (the tests check each one this CPU can run) */
static PyObject *set_simd(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name)
        return NULL;
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, simd_names[i])) {
            simd_cap = i;
            Py_RETURN_NONE;
        }
    PyErr_Format(PyExc_ValueError, "set_simd: %s is not one of base, avx2, avx512", name);
    return NULL;
}

static PyMethodDef methods[] = {
    {"blur_points", blur_points, METH_VARARGS,
     "blur_points(ix, iy, chunk, w, h, shift, cells, offs, dst, kx, ky, stream, block, alone) -> wrapped: the blur of "
     "the points' count, bucketed by band of rows, on this thread and the module's worker. Use density(), not this."},
    {"simd", simd, METH_NOARGS, "simd() -> 'avx512', 'avx2' or 'base': the blur's vector code on this CPU."},
    {"set_simd", set_simd, METH_O, "set_simd(name): use at most that vector code (tests). Use density(), not this."},
    {"bands", bands, METH_VARARGS, "bands(iy, i0, i1, shift, h, hist): points per band of rows. Use density(), not this."},
    {"scatter", scatter, METH_VARARGS,
     "scatter(ix, iy, i0, i1, shift, w, h, pos, cells): cell indices bucketed by band. Use density(), not this."},
    {"band_count16", band_count16, METH_VARARGS,
     "band_count16(cells, j0, j1, grid, lo, hi) -> wrapped: count cells into a uint16 grid. Use density(), not this."},
    {"downsplit", downsplit, METH_VARARGS,
     "downsplit(c1, c2, xtab, ytab, q, out, w, h, wl, hl, r0, r1) -> max: coarse shares from full-resolution "
     "counts. Use density(), not this."},
    {"count16", count16, METH_VARARGS,
     "count16(ix, iy, grid, w, h[, counter, block]) -> wrapped: add 1 per point into a uint16 grid. Use density(), not this."},
    {"blur", blur, METH_VARARGS,
     "blur(src, dst, w, h, kx, ky, r0, r1[, second, stream, counter, block]): rows [r0, r1) of the separable blur of src "
     "into dst. Use density(), not this."},
    {"split", split, METH_VARARGS,
     "split(ix, iy, weights, xtab, ytab, q, grid, wl, hl, wide): add each point's shares (in 1/q per "
     "axis) to the four grid cells around it. Use density(), not this."},
    {"stamp", stamp, METH_VARARGS,
     "stamp(ix, iy, weights, patch, r, grid, w, h): add a (2r+1)^2 patch at each point. Use density(), not this."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_splat", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__splat(void)
{
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
#ifdef HAVE_WORKER
    static int atfork_set;
    if (!atfork_set && pthread_atfork(NULL, NULL, worker_atfork_child) == 0)
        atfork_set = 1;
    if (PyModule_AddIntConstant(m, "WORKER", 1) < 0) {
#else
    if (PyModule_AddIntConstant(m, "WORKER", 0) < 0) {
#endif
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
