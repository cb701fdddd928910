/* CPU kernels for SimFeatUp's per-pixel D×D weighted sums (channels-last, float32).
 *
 * Compiled on first use by segearth_ov/ops/cpu_kernels.py (cc -O3), which splits the
 * B·H output rows into ranges [row0, row1) over a thread pool: no OpenMP runtime of its
 * own to compete with torch's. The PyTorch twins in models/upsamplers/jbu.py compute the
 * same sums and are the fallback and the test oracle.
 * Each output pixel reads its D×D neighbourhood of C-vectors, which neighbouring pixels
 * share, so the work stays in cache instead of streaming D² full maps through memory.
 */
#include <stdint.h>

#define CB 16 /* channels per register block */

/* out[b,i,j,:] = sum_{a,c} k[b,i,j,a*d+c] * x[b,i+a,j+c,:]
 * x: B×(H+d-1)×(W+d-1)×C, k: B×H×W×d², out: B×H×W×C.
 * For one output row, CB channels at a time: the d rows of x it reads (d·(W+d-1)·CB
 * floats) stay in L2 while the row's pixels sweep across them, and each pixel's CB
 * running sums stay in registers. The sum runs over (a, c) in the same order as the
 * PyTorch twin, so both give the same float32 results. */
void local_weighted_sum(const float *x, const float *k, float *out, int64_t H, int64_t W,
                        int64_t C, int64_t d, int64_t row0, int64_t row1) {
    const int64_t Hp = H + d - 1, Wp = W + d - 1, d2 = d * d;
    for (int64_t bi = row0; bi < row1; ++bi) {
        const int64_t b = bi / H, i = bi % H;
        const float *xrow = x + (b * Hp + i) * Wp * C;
        const float *krow = k + bi * W * d2;
        float *orow = out + bi * W * C;
        for (int64_t c0 = 0; c0 < C; c0 += CB) {
            const int64_t n = C - c0 < CB ? C - c0 : CB;
            for (int64_t j = 0; j < W; ++j) {
                const float *kk = krow + j * d2;
                float acc[CB] = {0};
                if (n == CB) {
                    for (int64_t a = 0; a < d; ++a) {
                        const float *r = xrow + (a * Wp + j) * C + c0;
                        for (int64_t c2 = 0; c2 < d; ++c2) {
                            const float w = kk[a * d + c2];
                            const float *xv = r + c2 * C;
                            for (int c = 0; c < CB; ++c) acc[c] += w * xv[c];
                        }
                    }
                } else {
                    for (int64_t a = 0; a < d; ++a) {
                        const float *r = xrow + (a * Wp + j) * C + c0;
                        for (int64_t c2 = 0; c2 < d; ++c2) {
                            const float w = kk[a * d + c2];
                            const float *xv = r + c2 * C;
                            for (int64_t c = 0; c < n; ++c) acc[c] += w * xv[c];
                        }
                    }
                }
                float *o = orow + j * C + c0;
                for (int64_t c = 0; c < n; ++c) o[c] = acc[c];
            }
        }
    }
}

/* out[b,i,j,a*d+c] = <q[b,i,j,:], x[b,i+a,j+c,:]>
 * q: B×H×W×C, x: B×(H+d-1)×(W+d-1)×C, out: B×H×W×d² */
void local_dot(const float *q, const float *x, float *out, int64_t H, int64_t W, int64_t C,
               int64_t d, int64_t row0, int64_t row1) {
    const int64_t Hp = H + d - 1, Wp = W + d - 1, d2 = d * d;
    for (int64_t bi = row0; bi < row1; ++bi) {
        const int64_t b = bi / H, i = bi % H;
        for (int64_t j = 0; j < W; ++j) {
            const float *qv = q + (bi * W + j) * C;
            float *o = out + (bi * W + j) * d2;
            for (int64_t a = 0; a < d; ++a) {
                const float *row = x + ((b * Hp + i + a) * Wp + j) * C;
                for (int64_t c2 = 0; c2 < d; ++c2) {
                    const float *xv = row + c2 * C;
                    float s = 0.f;
                    for (int64_t c = 0; c < C; ++c) s += qv[c] * xv[c];
                    o[a * d + c2] = s;
                }
            }
        }
    }
}
