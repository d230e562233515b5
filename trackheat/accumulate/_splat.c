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

static PyMethodDef methods[] = {
    {"split", split, METH_VARARGS,
     "split(ix, iy, weights, xtab, ytab, q, grid, wl, hl, wide): add each point's shares (in 1/q per "
     "axis) to the four grid cells around it. Use density(), not this."},
    {"stamp", stamp, METH_VARARGS,
     "stamp(ix, iy, weights, patch, r, grid, w, h): add a (2r+1)^2 patch at each point. Use density(), not this."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_splat", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__splat(void) { return PyModule_Create(&module); }
