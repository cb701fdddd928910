/* CPU kernels for SimFeatUp (float32): neighbour dot products of the range kernel,
 * bicubic ×2 with reflect padding, and the per-pixel D×D weighted sum.
 *
 * Compiled on first use by segearth_ov/ops/cpu_kernels.py (cc -O3), which splits the
 * B·H output rows into ranges [row0, row1) over a thread pool: no OpenMP runtime of its
 * own to compete with torch's. The PyTorch twins in models/upsamplers/jbu.py compute the
 * same sums and are the fallback and the test oracle.
 * Each output pixel reads its D×D neighbourhood of C-vectors, which neighbouring pixels
 * share, so the work stays in cache instead of streaming D² full maps through memory.
 */
#include <stdint.h>

#define CB 16 /* channels per block (one 64-byte line) */
#define PB 4  /* pixels per block: 8 independent vector sums keep both FMA units busy */
#define RB 2  /* output rows per band of the weighted sum */

typedef float v8 __attribute__((vector_size(32)));
static inline v8 ld8(const float *p) { v8 v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void st8(float *p, v8 v) { __builtin_memcpy(p, &v, sizeof v); }

#define DOT_ROW(D)                                                                   \
    for (int64_t a = 0; a < (D); ++a) {                                              \
        v8 acc[D];                                                                   \
        for (int c2 = 0; c2 < (D); ++c2) acc[c2] = (v8){0};                          \
        for (int64_t c = 0; c < C; ++c) {                                            \
            const v8 qv = ld8(q + ((b * C + c) * H + i) * W + j);                    \
            const float *xr = x + ((b * C + c) * Hp + i + a) * Wp + j;              \
            for (int c2 = 0; c2 < (D); ++c2) acc[c2] += qv * ld8(xr + c2);           \
        }                                                                            \
        for (int c2 = 0; c2 < (D); ++c2)                                             \
            st8(out + ((b * d2 + a * (D) + c2) * H + i) * W + j, acc[c2]);           \
    }

/* Planar (NCHW) layout, 8 neighbouring pixels per vector:
 * out[b, a*d+c, i, j] = sum_ch q[b,ch,i,j] * x[b,ch,i+a,j+c]
 * q: B×C×H×W, x: B×C×(H+d-1)×(W+d-1), out: B×d²×H×W. */
void local_dot(const float *q, const float *x, float *out, int64_t H, int64_t W, int64_t C,
               int64_t d, int64_t row0, int64_t row1) {
    const int64_t Hp = H + d - 1, Wp = W + d - 1, d2 = d * d;
    for (int64_t bi = row0; bi < row1; ++bi) {
        const int64_t b = bi / H, i = bi % H;
        int64_t j = 0;
        if (d == 11) {
            for (; j + 8 <= W; j += 8) DOT_ROW(11)
        } else if (d == 7) {
            for (; j + 8 <= W; j += 8) DOT_ROW(7)
        }
        for (; j < W; ++j)
            for (int64_t a = 0; a < d; ++a)
                for (int64_t c2 = 0; c2 < d; ++c2) {
                    float s = 0.f;
                    for (int64_t c = 0; c < C; ++c)
                        s += q[((b * C + c) * H + i) * W + j] *
                             x[((b * C + c) * Hp + i + a) * Wp + j + c2];
                    out[((b * d2 + a * d + c2) * H + i) * W + j] = s;
                }
    }
}

/* Bicubic ×2 upsampling (align_corners=False, a = -0.75, borders clamped, as
 * torch.nn.functional.interpolate) written straight into a reflect-padded buffer
 * (like F.pad(..., mode='reflect')): helpers, and bicubic_up2_reflect_blocked below. */
static void cubic_weights(float t, float w[4]) {
    const float a = -0.75f;
    float x = t + 1.f;
    w[0] = ((a * x - 5.f * a) * x + 8.f * a) * x - 4.f * a;
    x = t;
    w[1] = ((a + 2.f) * x - (a + 3.f)) * x * x + 1.f;
    x = 1.f - t;
    w[2] = ((a + 2.f) * x - (a + 3.f)) * x * x + 1.f;
    x = 2.f - t;
    w[3] = ((a * x - 5.f * a) * x + 8.f * a) * x - 4.f * a;
}

static inline int64_t clampi(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

static inline int64_t reflect(int64_t v, int64_t n) {
    if (v < 0) return -v;
    if (v >= n) return 2 * (n - 1) - v;
    return v;
}

/* ---- the weighted sum: its input (the upsampled map) is stored as B×NB×Hp×Wp×CB
 * (NB = ceil(C/CB) blocks of CB channels, zero-padded), so that one pixel's block is one
 * aligned 64-byte line, and output rows taken RB at a time per block, so that the rows they
 * share stay in L2. Written directly by bicubic_up2_reflect_blocked. */
void bicubic_up2_reflect_blocked(const float *x, float *out, int64_t h, int64_t w, int64_t C,
                                 int64_t p, int64_t row0, int64_t row1) {
    const int64_t H = 2 * h, W = 2 * w, Hp = H + 2 * p, Wp = W + 2 * p;
    const int64_t NB = (C + CB - 1) / CB;
    float wt[2][4];
    cubic_weights(0.75f, wt[0]);
    cubic_weights(0.25f, wt[1]);
    float tmp[4][CB];
    for (int64_t r = row0; r < row1; ++r) {           /* r over B·Hp padded output rows */
        const int64_t b = r / Hp, yp = r % Hp;
        const int64_t y = reflect(yp - p, H), iy = y / 2, py = y % 2, y0 = iy - 2 + py;
        const float *wy = wt[py];
        for (int64_t xp = 0; xp < Wp; ++xp) {
            const int64_t xo = reflect(xp - p, W), ix = xo / 2, px = xo % 2, x0 = ix - 2 + px;
            const float *wx = wt[px];
            for (int64_t cb = 0; cb < NB; ++cb) {
                const int64_t c0 = cb * CB, n = C - c0 < CB ? C - c0 : CB;
                float *o = out + (((b * NB + cb) * Hp + yp) * Wp + xp) * CB;
                const float *rows[4];
                for (int s = 0; s < 4; ++s)
                    rows[s] = x + ((b * h + clampi(y0 + s, 0, h - 1)) * w) * C + c0;
                const int64_t cx[4] = {clampi(x0, 0, w - 1) * C, clampi(x0 + 1, 0, w - 1) * C,
                                       clampi(x0 + 2, 0, w - 1) * C, clampi(x0 + 3, 0, w - 1) * C};
                if (n == CB) {
                    v8 lo = {0}, hi = {0};
                    for (int s = 0; s < 4; ++s) {
                        const float *xr = rows[s];
                        const v8 tlo = ld8(xr + cx[0]) * wx[0] + ld8(xr + cx[1]) * wx[1] +
                                       ld8(xr + cx[2]) * wx[2] + ld8(xr + cx[3]) * wx[3];
                        const v8 thi = ld8(xr + cx[0] + 8) * wx[0] + ld8(xr + cx[1] + 8) * wx[1] +
                                       ld8(xr + cx[2] + 8) * wx[2] + ld8(xr + cx[3] + 8) * wx[3];
                        lo += tlo * wy[s];
                        hi += thi * wy[s];
                    }
                    st8(o, lo);
                    st8(o + 8, hi);
                    continue;
                }
                for (int s = 0; s < 4; ++s) {
                    const float *xr = rows[s];
                    for (int64_t c = 0; c < n; ++c)
                        tmp[s][c] = xr[cx[0] + c] * wx[0] + xr[cx[1] + c] * wx[1] +
                                    xr[cx[2] + c] * wx[2] + xr[cx[3] + c] * wx[3];
                }
                for (int64_t c = 0; c < n; ++c)
                    o[c] = tmp[0][c] * wy[0] + tmp[1][c] * wy[1] + tmp[2][c] * wy[2] +
                           tmp[3][c] * wy[3];
                for (int64_t c = n; c < CB; ++c) o[c] = 0.f;
            }
        }
    }
}

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
/* Sliding register block: 6 output pixels × 16 channels in 12 accumulators. Along a kernel
 * row, each input pixel is loaded once and used by all of the 6 outputs whose window covers
 * it (m: input column from pixel j; p: output pixel). Per pixel, the taps are summed in the
 * same (row, column) order as the PyTorch twin. */
#define TAP(D, p, m) if ((m) - (p) >= 0 && (m) - (p) < (D)) {                             \
        const __m256 w = _mm256_broadcast_ss(kr + (p) * d2 + (m) - (p));                   \
        s##p##0 = _mm256_fmadd_ps(w, x0, s##p##0); s##p##1 = _mm256_fmadd_ps(w, x1, s##p##1); }
#define COL(D, m) {                                                                       \
        const __m256 x0 = _mm256_load_ps(r + (m) * CB), x1 = _mm256_load_ps(r + (m) * CB + 8); \
        TAP(D, 0, m) TAP(D, 1, m) TAP(D, 2, m) TAP(D, 3, m) TAP(D, 4, m) TAP(D, 5, m) }
#define STORE(p) if (n == CB) { _mm256_storeu_ps(orow + (j + p) * C + c0, s##p##0);        \
                                _mm256_storeu_ps(orow + (j + p) * C + c0 + 8, s##p##1); }  \
    else { float acc[CB]; _mm256_storeu_ps(acc, s##p##0); _mm256_storeu_ps(acc + 8, s##p##1); \
           for (int64_t c = 0; c < n; ++c) orow[(j + p) * C + c0 + c] = acc[c]; }
#define SLIDE6(D, COLS)                                                                   \
    for (; j + 6 <= W; j += 6) {                                                          \
        __m256 s00 = _mm256_setzero_ps(), s01 = s00, s10 = s00, s11 = s00, s20 = s00,      \
               s21 = s00, s30 = s00, s31 = s00, s40 = s00, s41 = s00, s50 = s00, s51 = s00; \
        for (int64_t a = 0; a < (D); ++a) {                                               \
            const float *r = xplane + (a * Wp + j) * CB;                                  \
            const float *kr = krow + j * d2 + a * (D);                                    \
            COLS                                                                          \
        }                                                                                 \
        STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5)                             \
    }
#define COLS11 COL(11, 0) COL(11, 1) COL(11, 2) COL(11, 3) COL(11, 4) COL(11, 5) COL(11, 6)  \
    COL(11, 7) COL(11, 8) COL(11, 9) COL(11, 10) COL(11, 11) COL(11, 12) COL(11, 13)       \
    COL(11, 14) COL(11, 15)
#define COLS7 COL(7, 0) COL(7, 1) COL(7, 2) COL(7, 3) COL(7, 4) COL(7, 5) COL(7, 6)          \
    COL(7, 7) COL(7, 8) COL(7, 9) COL(7, 10) COL(7, 11)
#define SLIDE_ROWS if (d == 11) { SLIDE6(11, COLS11) } else if (d == 7) { SLIDE6(7, COLS7) }
#else
#define SLIDE_ROWS
#endif
/* out[b,i,j,:] = sum_{a,c} k[b,i,j,a*d+c] * x[b,i+a,j+c,:], with x stored channel-blocked:
 * xb: B×NB×Hp×Wp×CB (zero-padded channels), k: B×H×W×d², out: B×H×W×C.
 * SLIDE_ROWS (AVX2) or PB pixels at a time, their running sums in registers; the sum runs
 * over (a, c) in the same order as the PyTorch twin (jbu.adaptive_conv). */
static void blocked_row(const float *xplane, const float *krow, float *orow, int64_t W, int64_t Wp,
                      int64_t C, int64_t d, int64_t c0, int64_t n) {
    const int64_t d2 = d * d;
    int64_t j = 0;
    SLIDE_ROWS
    for (; j + PB <= W; j += PB) {
        v8 s00 = {0}, s01 = {0}, s10 = {0}, s11 = {0}, s20 = {0}, s21 = {0}, s30 = {0}, s31 = {0};
        const float *k0 = krow + j * d2, *k1 = k0 + d2, *k2 = k1 + d2, *k3 = k2 + d2;
        for (int64_t a = 0; a < d; ++a) {
            const float *r = xplane + (a * Wp + j) * CB;
            for (int64_t c2 = 0; c2 < d; ++c2) {
                const float *xv = r + c2 * CB;
                const int64_t o = a * d + c2;
                const v8 w0 = (v8){0} + k0[o], w1 = (v8){0} + k1[o];
                const v8 w2 = (v8){0} + k2[o], w3 = (v8){0} + k3[o];
                s00 += w0 * ld8(xv);          s01 += w0 * ld8(xv + 8);
                s10 += w1 * ld8(xv + CB);     s11 += w1 * ld8(xv + CB + 8);
                s20 += w2 * ld8(xv + 2 * CB); s21 += w2 * ld8(xv + 2 * CB + 8);
                s30 += w3 * ld8(xv + 3 * CB); s31 += w3 * ld8(xv + 3 * CB + 8);
            }
        }
        float acc[PB][CB];
        st8(acc[0], s00); st8(acc[0] + 8, s01); st8(acc[1], s10); st8(acc[1] + 8, s11);
        st8(acc[2], s20); st8(acc[2] + 8, s21); st8(acc[3], s30); st8(acc[3] + 8, s31);
        for (int p = 0; p < PB; ++p)
            for (int64_t c = 0; c < n; ++c) orow[(j + p) * C + c0 + c] = acc[p][c];
    }
    for (; j < W; ++j) {
        float acc[CB] = {0};
        const float *kk = krow + j * d2;
        for (int64_t a = 0; a < d; ++a) {
            const float *r = xplane + (a * Wp + j) * CB;
            for (int64_t c2 = 0; c2 < d; ++c2) {
                const float w = kk[a * d + c2];
                const float *xv = r + c2 * CB;
                for (int c = 0; c < CB; ++c) acc[c] += w * xv[c];
            }
        }
        for (int64_t c = 0; c < n; ++c) orow[j * C + c0 + c] = acc[c];
    }
}

void local_weighted_sum_blocked(const float *xb, const float *k, float *out, int64_t H, int64_t W,
                                int64_t C, int64_t d, int64_t row0, int64_t row1) {
    const int64_t Hp = H + d - 1, Wp = W + d - 1, d2 = d * d, NB = (C + CB - 1) / CB;
    for (int64_t band = row0; band < row1; band += RB) {
        const int64_t band_end = band + RB < row1 ? band + RB : row1;
        for (int64_t cb = 0; cb < NB; ++cb) {
            const int64_t c0 = cb * CB, n = C - c0 < CB ? C - c0 : CB;
            for (int64_t bi = band; bi < band_end; ++bi) {
                const int64_t b = bi / H, i = bi % H;
                const float *xplane = xb + (((b * NB + cb) * Hp + i) * Wp) * CB;
                blocked_row(xplane, k + bi * W * d2, out + bi * W * C, W, Wp, C, d, c0, n);
            }
        }
    }
}
