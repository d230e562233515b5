/*
 * trackheat.render._shade: the live overlay's full-size pass, in one sweep over the frame.
 *
 * render.LevelShader calls it. Per output row it scales the heat levels up
 * (bilinear, OpenCV's INTER_LINEAR geometry), looks the colour up and blends
 * it over the frame, all in row buffers that stay in the L1 cache. Done with
 * OpenCV calls the same work is four passes over full-size images (resize,
 * colour lookup, BGRA->BGR, addWeighted); at 1080p those passes move about
 * 45 MB per frame and the blend alone runs at one byte per cycle. Here the
 * frame is read once and the overlay written once, straight to memory.
 *
 * Blend arithmetic: out = (frame*wf + colour*(256-wf) + 128) >> 8 in 16-bit
 * lanes (wf = (1-alpha) in 1/256; never above 65408, so no overflow).
 *
 * Per-level blend (a weight table, wlut): wf is each level's own, so cold
 * levels leave the frame as it is while hot ones cover it by their level,
 * through the same alpha ramp as export (render.colour.alpha_lut). Levels up
 * to `cold` have wf 256 and colour 0: a run of 16 such pixels is the frame's
 * 48 bytes copied, which is most of a screen most of the time.
 *
 * The GIL is released, so two bands of rows run on two cores.
 * If this module cannot be built, render.py does the same with OpenCV.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* SSE2 is part of every x86-64 CPU; GCC and clang say so with __SSE2__, MSVC with _M_X64. */
#if defined(__SSE2__) || defined(_M_X64)
#define SHADE_SSE2 1
#include <emmintrin.h>
#endif

/* Weights of the per-column and per-row taps (any size that is not a factor 1, 2 or 4):
   11 bits, as OpenCV's resize; a level is then within 1/2 + 2 * 255/4096 of the exact value. */
#define TAP_BITS 11
#define TAP_ONE (1 << TAP_BITS)

/* A row of heat levels scaled up horizontally: h[x] = a[x0]*(ONE-wx) + a[x1]*wx (fixed point). */
static void scale_row(const uint8_t *a, const int32_t *xtab, Py_ssize_t w, uint32_t *h)
{
    for (Py_ssize_t x = 0; x < w; x++) {
        const int32_t x0 = xtab[3 * x], x1 = xtab[3 * x + 1], wx = xtab[3 * x + 2];
        h[x] = (uint32_t)(a[x0] * (TAP_ONE - wx) + a[x1] * wx);
    }
}

/* The source row `j` scaled up, from a two-row cache (consecutive output rows share source rows). */
static const uint32_t *source_row(Py_ssize_t j, const uint8_t *levels, Py_ssize_t pw,
                                  const int32_t *xtab, Py_ssize_t w,
                                  uint32_t *buf[2], Py_ssize_t tag[2], Py_ssize_t keep)
{
    if (tag[0] == j) return buf[0];
    if (tag[1] == j) return buf[1];
    int slot = (tag[0] == keep) ? 1 : 0; /* never evict the row the caller still needs */
    scale_row(levels + j * pw, xtab, w, buf[slot]);
    tag[slot] = j;
    return buf[slot];
}

/* The vertical step of the factor paths: t[i+1] = wn*near[i] + wf*far[i] (16 bits: wn + wf <= 8),
   with t[0] and t[pw+1] repeating the edge samples (OpenCV clamps the same way). */
static void weigh_rows(const uint8_t *near, const uint8_t *far, int wn, int wf, Py_ssize_t pw, uint16_t *t)
{
    Py_ssize_t i = 0;
#ifdef SHADE_SSE2
    /* written out: GCC vectorizes the plain loop below or not, depending on what it inlines
       it into (measured: 2.5x slower scalar) */
    const __m128i z = _mm_setzero_si128(), vn = _mm_set1_epi16((short)wn), vf = _mm_set1_epi16((short)wf);
    for (; i + 8 <= pw; i += 8) {
        const __m128i a = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(near + i)), z);
        const __m128i b = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(far + i)), z);
        _mm_storeu_si128((__m128i *)(t + i + 1), _mm_add_epi16(_mm_mullo_epi16(a, vn), _mm_mullo_epi16(b, vf)));
    }
#endif
    for (; i < pw; i++)
        t[i + 1] = (uint16_t)(wn * near[i] + wf * far[i]);
    t[0] = t[1];
    t[pw + 1] = t[pw];
}

/* Factor 2 (a 1080p or 1440p frame with heat at half size): OpenCV's bilinear weights are
   exactly 1/4 and 3/4, so a level is (row-pair sums) in 16-bit integers with its rounding.
   t[i] = 3*near[i] + far[i]; l[2i] = (t[i-1] + 3 t[i] + 8) >> 4,
   l[2i+1] = (3 t[i] + t[i+1] + 8) >> 4, with edge samples repeated (OpenCV clamps the same way). */
static void levels_x2(const uint8_t *near, const uint8_t *far, Py_ssize_t pw, uint16_t *t, uint8_t *l)
{
    weigh_rows(near, far, 3, 1, pw, t);
    Py_ssize_t i = 0;
#ifdef SHADE_SSE2
    const __m128i eight = _mm_set1_epi16(8);
    for (; i + 8 <= pw; i += 8) { /* t <= 1020, so every sum fits 16 bits */
        const __m128i c = _mm_loadu_si128((const __m128i *)(t + i + 1));
        const __m128i c3 = _mm_add_epi16(c, _mm_add_epi16(c, c));
        const __m128i even = _mm_srli_epi16(_mm_add_epi16(_mm_add_epi16(_mm_loadu_si128((const __m128i *)(t + i)), c3), eight), 4);
        const __m128i odd = _mm_srli_epi16(_mm_add_epi16(_mm_add_epi16(_mm_loadu_si128((const __m128i *)(t + i + 2)), c3), eight), 4);
        _mm_storeu_si128((__m128i *)(l + 2 * i), _mm_or_si128(even, _mm_slli_epi16(odd, 8))); /* bytes even, odd, ... */
    }
#endif
    for (; i < pw; i++) {
        const uint16_t c3 = (uint16_t)(3 * t[i + 1]);
        l[2 * i] = (uint8_t)((uint16_t)(t[i] + c3 + 8) >> 4);
        l[2 * i + 1] = (uint8_t)((uint16_t)(c3 + t[i + 2] + 8) >> 4);
    }
}

/* Factor 4 (a 4K frame with heat at a quarter): the weights are eighths. A row is
   t[i] = wn*near[i] + (8-wn)*far[i] (wn 5 or 7 by the row's phase), then each source
   column gives four outputs: (3 t[i-1] + 5 t[i]), (t[i-1] + 7 t[i]), (7 t[i] + t[i+1]),
   (5 t[i] + 3 t[i+1]), each (+32) >> 6. t <= 2040, so every sum fits 16 bits. */
static void levels_x4(const uint8_t *near, const uint8_t *far, int wn, Py_ssize_t pw, uint16_t *t, uint8_t *l)
{
    weigh_rows(near, far, wn, 8 - wn, pw, t);
    Py_ssize_t i = 0;
#ifdef SHADE_SSE2
    const __m128i k3 = _mm_set1_epi16(3), k5 = _mm_set1_epi16(5), k7 = _mm_set1_epi16(7), r32 = _mm_set1_epi16(32);
    for (; i + 8 <= pw; i += 8) {
        const __m128i m = _mm_loadu_si128((const __m128i *)(t + i));
        const __m128i c = _mm_loadu_si128((const __m128i *)(t + i + 1));
        const __m128i p = _mm_loadu_si128((const __m128i *)(t + i + 2));
        const __m128i o0 = _mm_srli_epi16(_mm_add_epi16(_mm_add_epi16(_mm_mullo_epi16(m, k3), _mm_mullo_epi16(c, k5)), r32), 6);
        const __m128i o1 = _mm_srli_epi16(_mm_add_epi16(_mm_add_epi16(m, _mm_mullo_epi16(c, k7)), r32), 6);
        const __m128i o2 = _mm_srli_epi16(_mm_add_epi16(_mm_add_epi16(_mm_mullo_epi16(c, k7), p), r32), 6);
        const __m128i o3 = _mm_srli_epi16(_mm_add_epi16(_mm_add_epi16(_mm_mullo_epi16(c, k5), _mm_mullo_epi16(p, k3)), r32), 6);
        const __m128i o01 = _mm_or_si128(o0, _mm_slli_epi16(o1, 8)), o23 = _mm_or_si128(o2, _mm_slli_epi16(o3, 8));
        _mm_storeu_si128((__m128i *)(l + 4 * i), _mm_unpacklo_epi16(o01, o23)); /* bytes o0 o1 o2 o3, ... */
        _mm_storeu_si128((__m128i *)(l + 4 * i + 16), _mm_unpackhi_epi16(o01, o23));
    }
#endif
    for (; i < pw; i++) {
        const int m = t[i], c = t[i + 1], p = t[i + 2];
        l[4 * i] = (uint8_t)((3 * m + 5 * c + 32) >> 6);
        l[4 * i + 1] = (uint8_t)((m + 7 * c + 32) >> 6);
        l[4 * i + 2] = (uint8_t)((7 * c + p + 32) >> 6);
        l[4 * i + 3] = (uint8_t)((5 * c + 3 * p + 32) >> 6);
    }
}

/* Any other size: per-column taps from xtab (scalar), scaled rows cached two at a time. */
static void levels_any(const uint8_t *levels, Py_ssize_t pw, const int32_t *xtab, const int32_t *yt, Py_ssize_t w,
                       uint32_t *buf[2], Py_ssize_t tag[2], uint8_t *l)
{
    const Py_ssize_t y0 = yt[0], y1 = yt[1];
    const uint32_t wy = (uint32_t)yt[2], wy0 = TAP_ONE - wy;
    const uint32_t *h0 = source_row(y0, levels, pw, xtab, w, buf, tag, y1);
    const uint32_t *h1 = source_row(y1, levels, pw, xtab, w, buf, tag, y0);
    for (Py_ssize_t x = 0; x < w; x++)
        l[x] = (uint8_t)((h0[x] * wy0 + h1[x] * wy + (1u << (2 * TAP_BITS - 1))) >> (2 * TAP_BITS)); /* < 2^31 */
}

/* The colours of pixels x and x+1: two loads, then two overlapping 8-byte stores. */
static inline void gather2(uint16_t *crow, const uint16_t *lut, const uint8_t *lv, Py_ssize_t x)
{
    uint64_t a, b;
    memcpy(&a, lut + 4 * lv[x], 8);
    memcpy(&b, lut + 4 * lv[x + 1], 8);
    memcpy(crow + 3 * x, &a, 8);
    memcpy(crow + 3 * x + 3, &b, 8);
}

/* One row of the per-level blend: o = (fr*wlut[l] + lut[l] + 128) >> 8 per byte. */
static void level_row(const uint8_t *fr, const uint8_t *lv, const uint16_t *lut, const uint16_t *wlut, int cold,
                      Py_ssize_t w, uint8_t *o)
{
    Py_ssize_t x = 0;
#ifdef SHADE_SSE2
    const __m128i z = _mm_setzero_si128(), half = _mm_set1_epi16(128);
    const __m128i cmax = _mm_set1_epi8((char)(cold < 0 ? 0 : cold));
    const int stream = ((uintptr_t)o & 15) == 0; /* rows of a multiple of 16 bytes: every chunk aligned */
    uint16_t cbuf[52], wbuf[52]; /* 16 pixels' colours and weights (+1 spare lane for the 8-byte copies) */
    for (; x + 16 <= w; x += 16) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(lv + x));
        const __m128i *f = (const __m128i *)(fr + 3 * x);
        __m128i *d = (__m128i *)(o + 3 * x);
        if (cold >= 0 && _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_subs_epu8(v, cmax), z)) == 0xFFFF) {
            const __m128i a = _mm_loadu_si128(f), b = _mm_loadu_si128(f + 1), c = _mm_loadu_si128(f + 2);
            if (stream) {
                _mm_stream_si128(d, a);
                _mm_stream_si128(d + 1, b);
                _mm_stream_si128(d + 2, c);
            } else {
                _mm_storeu_si128(d, a);
                _mm_storeu_si128(d + 1, b);
                _mm_storeu_si128(d + 2, c);
            }
            continue;
        }
        for (int k = 0; k < 16; k++) {
            memcpy(cbuf + 3 * k, lut + 4 * lv[x + k], 8);
            memcpy(wbuf + 3 * k, wlut + 4 * lv[x + k], 8);
        }
        for (int k = 0; k < 3; k++) {
            const __m128i fb = _mm_loadu_si128(f + k);
            __m128i lo = _mm_mullo_epi16(_mm_unpacklo_epi8(fb, z), _mm_loadu_si128((const __m128i *)(wbuf + 16 * k)));
            __m128i hi = _mm_mullo_epi16(_mm_unpackhi_epi8(fb, z), _mm_loadu_si128((const __m128i *)(wbuf + 16 * k + 8)));
            lo = _mm_add_epi16(_mm_add_epi16(lo, _mm_loadu_si128((const __m128i *)(cbuf + 16 * k))), half);
            hi = _mm_add_epi16(_mm_add_epi16(hi, _mm_loadu_si128((const __m128i *)(cbuf + 16 * k + 8))), half);
            const __m128i r = _mm_packus_epi16(_mm_srli_epi16(lo, 8), _mm_srli_epi16(hi, 8));
            if (stream)
                _mm_stream_si128(d + k, r);
            else
                _mm_storeu_si128(d + k, r);
        }
    }
#endif
    for (; x < w; x++) {
        const uint16_t *c = lut + 4 * lv[x], *wt = wlut + 4 * lv[x];
        for (int k = 0; k < 3; k++)
            o[3 * x + k] = (uint8_t)((uint16_t)((uint16_t)(fr[3 * x + k] * wt[k]) + c[k] + 128) >> 8);
    }
}

static void shade_rows(const uint8_t *frame, const uint8_t *levels, const uint16_t *lut, int wf,
                       const uint16_t *wlut, int cold_max, uint8_t *out, const int32_t *xtab, const int32_t *ytab,
                       Py_ssize_t w, Py_ssize_t h, Py_ssize_t pw, Py_ssize_t ph, Py_ssize_t r0, Py_ssize_t r1,
                       uint16_t *t16, uint32_t *hb0, uint32_t *hb1, uint8_t *lrow, uint16_t *crow)
{
    uint32_t *buf[2] = {hb0, hb1};
    Py_ssize_t tag[2] = {-1, -1};
    const Py_ssize_t n = 3 * w;
    const int same = (pw == w && ph == h), x2 = (2 * pw == w && 2 * ph == h), x4 = (4 * pw == w && 4 * ph == h);
    const uint16_t w16 = (uint16_t)wf;
#ifdef SHADE_SSE2
    /* level 0's colour for 8 pixels = 24 lanes = three vectors, the pattern repeating every 3 lanes */
    uint16_t cold[24];
    for (int k = 0; k < 24; k++)
        cold[k] = lut[k % 3];
    const __m128i cold0 = _mm_loadu_si128((const __m128i *)cold), cold1 = _mm_loadu_si128((const __m128i *)(cold + 8)),
                  cold2 = _mm_loadu_si128((const __m128i *)(cold + 16));
#endif
    for (Py_ssize_t y = r0; y < r1; y++) {
        const uint8_t *lv = lrow;
        if (same) {
            lv = levels + y * pw;
        } else if (x2) {
            const Py_ssize_t k = y / 2;
            Py_ssize_t f = (y & 1) ? k + 1 : k - 1;
            if (f < 0) f = 0;
            if (f >= ph) f = ph - 1;
            levels_x2(levels + k * pw, levels + f * pw, pw, t16, lrow);
        } else if (x4) {
            const Py_ssize_t k = y / 4, r = y % 4;
            Py_ssize_t f = r < 2 ? k - 1 : k + 1;
            if (f < 0) f = 0;
            if (f >= ph) f = ph - 1;
            levels_x4(levels + k * pw, levels + f * pw, (r == 1 || r == 2) ? 7 : 5, pw, t16, lrow);
        } else {
            levels_any(levels, pw, xtab, ytab + 3 * y, w, buf, tag, lrow);
        }
        if (wlut) {
            level_row(frame + y * n, lv, lut, wlut, cold_max, w, out + y * n);
            continue;
        }
        /* premultiplied colour, 8.8 fixed point: one 8-byte copy per pixel (the 4th lane is
           overwritten by the next pixel; crow has one spare lane at the end). Where 16 pixels
           in a row are all cold (level 0: most of a screen, most of the time) their colours
           are one 96-byte copy instead of 16 lookups. */
        Py_ssize_t x = 0;
#ifdef SHADE_SSE2
        for (; x + 16 <= w; x += 16) {
            const __m128i v = _mm_loadu_si128((const __m128i *)(lv + x));
            if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())) == 0xFFFF) {
                __m128i *c = (__m128i *)(crow + 3 * x); /* six stores, not a memcpy (GCC made that rep movs) */
                _mm_storeu_si128(c, cold0);
                _mm_storeu_si128(c + 1, cold1);
                _mm_storeu_si128(c + 2, cold2);
                _mm_storeu_si128(c + 3, cold0);
                _mm_storeu_si128(c + 4, cold1);
                _mm_storeu_si128(c + 5, cold2);
                continue;
            }
            for (Py_ssize_t k = x; k < x + 16; k += 2)
                gather2(crow, lut, lv, k);
        }
#endif
        for (; x + 1 < w; x += 2)
            gather2(crow, lut, lv, x);
        for (; x < w; x++)
            memcpy(crow + 3 * x, lut + 4 * lv[x], 8);
        const uint8_t *fr = frame + y * n;
        uint8_t *o = out + y * n;
        Py_ssize_t i0 = 0;
#ifdef SHADE_SSE2
        /* The overlay is written with streaming stores: 6 MB a frame at 1080p, more than the
           caches hold, so reading each line in before overwriting it (as plain stores do)
           is wasted memory bandwidth (measured: 0.3 ms a frame here). Unaligned head first. */
        Py_ssize_t head = (Py_ssize_t)((16 - ((uintptr_t)o & 15)) & 15);
        if (head > n) head = n;
        for (; i0 < head; i0++)
            o[i0] = (uint8_t)((uint16_t)((uint16_t)(fr[i0] * w16) + crow[i0] + 128) >> 8);
        {
            const __m128i z = _mm_setzero_si128(), wv = _mm_set1_epi16((short)w16), half = _mm_set1_epi16(128);
            for (; i0 + 16 <= n; i0 += 16) {
                __m128i f = _mm_loadu_si128((const __m128i *)(fr + i0));
                __m128i lo = _mm_mullo_epi16(_mm_unpacklo_epi8(f, z), wv);
                __m128i hi = _mm_mullo_epi16(_mm_unpackhi_epi8(f, z), wv);
                lo = _mm_add_epi16(_mm_add_epi16(lo, _mm_loadu_si128((const __m128i *)(crow + i0))), half);
                hi = _mm_add_epi16(_mm_add_epi16(hi, _mm_loadu_si128((const __m128i *)(crow + i0 + 8))), half);
                _mm_stream_si128((__m128i *)(o + i0), _mm_packus_epi16(_mm_srli_epi16(lo, 8), _mm_srli_epi16(hi, 8)));
            }
        }
#endif
        for (Py_ssize_t i = i0; i < n; i++) {
            uint16_t t = (uint16_t)(fr[i] * w16);
            t = (uint16_t)(t + crow[i] + 128);
            o[i] = (uint8_t)(t >> 8);
        }
    }
}

static int exact(Py_buffer *b, Py_ssize_t len, const char *what)
{
    if (b->len != len) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected %zd", what, b->len, len);
        return 0;
    }
    return 1;
}

static PyObject *shade(PyObject *self, PyObject *args)
{
    Py_buffer frame, levels, lut, out, xtab, ytab, wl;
    Py_ssize_t w, h, pw, ph, r0, r1;
    int wf;
    memset(&wl, 0, sizeof wl);
    if (!PyArg_ParseTuple(args, "y*y*y*iw*y*y*nnnnnn|y*", &frame, &levels, &lut, &wf, &out, &xtab, &ytab,
                          &w, &h, &pw, &ph, &r0, &r1, &wl))
        return NULL;
    PyObject *result = NULL;
    const uint16_t *wlut = wl.obj ? (const uint16_t *)wl.buf : NULL;
    int cold = -1; /* the highest level below which every level leaves the frame as it is (-1: none) */
    uint16_t *t16 = NULL, *crow = NULL;
    uint32_t *hb0 = NULL, *hb1 = NULL;
    uint8_t *lrow = NULL;
    if (w <= 0 || h <= 0 || pw <= 0 || ph <= 0 || r0 < 0 || r1 > h || r0 > r1 || wf < 0 || wf > 256) {
        PyErr_SetString(PyExc_ValueError, "shade: bad sizes, rows or weight");
        goto done;
    }
    /* every size checked against the real buffers, with no product that can overflow */
    if (w > PY_SSIZE_T_MAX / 12 / h || pw > PY_SSIZE_T_MAX / ph) {
        PyErr_SetString(PyExc_ValueError, "shade: sizes too large");
        goto done;
    }
    if (!exact(&frame, h * w * 3, "frame") || !exact(&out, h * w * 3, "out") || !exact(&levels, ph * pw, "levels") ||
        !exact(&lut, 256 * 4 * 2, "lut") || (wlut && !exact(&wl, 256 * 4 * 2, "wlut")) || !exact(&xtab, w * 3 * 4, "xtab") || !exact(&ytab, h * 3 * 4, "ytab"))
        goto done;
    if (((uintptr_t)wl.buf & 1)) {
        PyErr_SetString(PyExc_ValueError, "shade: wlut must be aligned to its element size");
        goto done;
    }
    if (wlut) {
        const uint16_t *c = (const uint16_t *)lut.buf;
        for (int k = 0; k < 256 * 4; k++)
            if (wlut[k] > 256) { /* more would overflow the 16-bit lanes */
                PyErr_SetString(PyExc_ValueError, "shade: wlut weights must be 0..256");
                goto done;
            }
        while (cold < 255 && wlut[4 * (cold + 1)] == 256 && wlut[4 * (cold + 1) + 1] == 256 && wlut[4 * (cold + 1) + 2] == 256 &&
               c[4 * (cold + 1)] == 0 && c[4 * (cold + 1) + 1] == 0 && c[4 * (cold + 1) + 2] == 0)
            cold++;
    }
    if (((uintptr_t)lut.buf & 1) || ((uintptr_t)xtab.buf & 3) || ((uintptr_t)ytab.buf & 3)) {
        PyErr_SetString(PyExc_ValueError, "shade: lut, xtab and ytab must be aligned to their element size");
        goto done;
    }
    const int32_t *xt = (const int32_t *)xtab.buf, *yt = (const int32_t *)ytab.buf;
    for (Py_ssize_t x = 0; x < w; x++)
        if (xt[3 * x] < 0 || xt[3 * x] >= pw || xt[3 * x + 1] < 0 || xt[3 * x + 1] >= pw ||
            xt[3 * x + 2] < 0 || xt[3 * x + 2] > TAP_ONE) {
            PyErr_SetString(PyExc_ValueError, "shade: xtab out of range");
            goto done;
        }
    for (Py_ssize_t y = r0; y < r1; y++)
        if (yt[3 * y] < 0 || yt[3 * y] >= ph || yt[3 * y + 1] < 0 || yt[3 * y + 1] >= ph ||
            yt[3 * y + 2] < 0 || yt[3 * y + 2] > TAP_ONE) {
            PyErr_SetString(PyExc_ValueError, "shade: ytab out of range");
            goto done;
        }
    t16 = PyMem_Malloc(sizeof(uint16_t) * (w + 2));
    hb0 = PyMem_Malloc(sizeof(uint32_t) * w);
    hb1 = PyMem_Malloc(sizeof(uint32_t) * w);
    crow = PyMem_Malloc(sizeof(uint16_t) * (3 * w + 1));
    lrow = PyMem_Malloc(w);
    if (!t16 || !hb0 || !hb1 || !crow || !lrow) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    shade_rows(frame.buf, levels.buf, lut.buf, wf, wlut, cold, out.buf, xt, yt, w, h, pw, ph, r0, r1, t16, hb0, hb1, lrow, crow);
#ifdef SHADE_SSE2
    _mm_sfence();
#endif
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_Free(t16);
    PyMem_Free(hb0);
    PyMem_Free(hb1);
    PyMem_Free(crow);
    PyMem_Free(lrow);
    PyBuffer_Release(&frame);
    PyBuffer_Release(&levels);
    PyBuffer_Release(&lut);
    PyBuffer_Release(&out);
    PyBuffer_Release(&xtab);
    PyBuffer_Release(&ytab);
    if (wl.obj)
        PyBuffer_Release(&wl);
    return result;
}

static PyMethodDef methods[] = {
    {"shade", shade, METH_VARARGS,
     "shade(frame, levels, lut, wf, out, xtab, ytab, w, h, pw, ph, r0, r1[, wlut]): rows r0..r1 of "
     "out = (frame*wf + lut[scaled levels] + 128) >> 8, wf per level from wlut when given. "
     "Use render.LevelShader, not this."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_shade", NULL, -1, methods};

PyMODINIT_FUNC PyInit__shade(void)
{
    PyObject *m = PyModule_Create(&module);
#ifdef SHADE_SSE2
    const char *simd = "sse2";
#else
    const char *simd = "none"; /* plain loops, vectorized as far as the compiler manages */
#endif
    if (m && PyModule_AddStringConstant(m, "simd", simd) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
