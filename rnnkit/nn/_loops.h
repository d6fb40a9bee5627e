/* The per-step arithmetic of the recurrent time loops, written once for every instruction set.
 *
 * This file is included by _loops_avx512.c, _loops_avx2.c and _loops_generic.c, each of which
 * sets the compiler's target (a GCC target pragma) and three macros before including it:
 *
 *   ISA            the suffix of the functions and of the kernel table (avx512, avx2, generic)
 *   VECTOR_BYTES   the width of one hardware vector: 64, 32 or 16 (SSE2 and ARM NEON)
 *   TILE_VECTORS   accumulator vectors per row of a register tile: ROWS x TILE_VECTORS
 *                  accumulators, plus TILE_VECTORS weight vectors and one broadcast, must
 *                  fit the register file (32 zmm: 6 x 4; 16 ymm or xmm: 6 x 2)
 *
 * The code uses GCC's vector extensions (a vector type of VECTOR_BYTES, arithmetic on it,
 * lane-wise comparisons), which every target lowers to its own instructions; the compiler
 * contracts a * b + c into one FMA where the target has it (-ffp-contract=fast). A few
 * operations (broadcast, min and max, the reciprocal estimate, sqrt) use the target's
 * intrinsics where it has them, and plain C elsewhere (tests/nn/test_portable_loops.py builds
 * and tests that plain C).
 *
 * The equations are those of lstm_kernel.py, gru_kernel.py and rnn_kernel.py; the layout
 * and the threading are described in _rnnkit.c and _rnnkit.h. Hidden units come in blocks
 * of UNITS = 16. Gate values keep PyTorch's layout (gate q of unit u at column q H + u).
 */
#include <stdint.h>
#include <string.h>

#include "_rnnkit.h"

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#endif

#define JOIN_(a, b) a##_##b
#define JOIN(a, b) JOIN_(a, b)
#define NAME(name) JOIN(name, ISA)

typedef float vec __attribute__((vector_size(VECTOR_BYTES)));
typedef int32_t ivec __attribute__((vector_size(VECTOR_BYTES)));
#define LANES (VECTOR_BYTES / 4)
#define CHUNK (TILE_VECTORS * LANES) /* columns of one register tile */
#define INLINE static inline __attribute__((always_inline))

/* ---- vector math ------------------------------------------------------------------- */

INLINE vec load(const float *p) {
    vec v;
    memcpy(&v, p, sizeof v); /* an unaligned load */
    return v;
}

INLINE void store(float *p, vec v) { memcpy(p, &v, sizeof v); }

/* x in every lane: one broadcast (from memory, in the product loops), not 0 + x */
INLINE vec splat(float x) {
#if VECTOR_BYTES == 64 && defined(__AVX512F__)
    return (vec)_mm512_set1_ps(x);
#elif VECTOR_BYTES == 32 && defined(__AVX__)
    return (vec)_mm256_set1_ps(x);
#elif VECTOR_BYTES == 16 && defined(__SSE2__)
    return (vec)_mm_set1_ps(x);
#elif VECTOR_BYTES == 16 && defined(__ARM_NEON) && defined(__aarch64__)
    return (vec)vdupq_n_f32(x);
#else
    vec v;
    for (int lane = 0; lane < LANES; lane++) v[lane] = x;
    return v;
#endif
}

/* mask ? a : b, lane by lane (C has no ?: on vectors) */
INLINE vec pick(ivec mask, vec a, vec b) {
    return (vec)((mask & (ivec)a) | (~mask & (ivec)b));
}

/* x held to [lo, hi]; a NaN passes through. One min and one max where the target has
 * them (the x86 ones return their second operand when either is a NaN), else two picks. */
INLINE vec clamp_v(vec x, float lo, float hi) {
#if VECTOR_BYTES == 64 && defined(__AVX512F__)
    return (vec)_mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), (__m512)x));
#elif VECTOR_BYTES == 32 && defined(__AVX__)
    return (vec)_mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), (__m256)x));
#else
    x = pick(x > hi, splat(hi), x);
    return pick(x < lo, splat(lo), x);
#endif
}

/* exp(x) = 2^n exp(r), n = round(x / ln 2), |r| <= ln(2) / 2, and
 * exp(r) = 1 + r + r^2 P(r) with the degree-5 polynomial P of Cephes' expf (relative
 * error ~1e-7, a float32 ulp). x is clamped to [-87, 88] so 2^n stays a normal float. */
INLINE vec exp_v(vec x) {
    x = clamp_v(x, -87.0f, 88.0f);
    /* adding 1.5 * 2^23 rounds to the nearest integer, which lands in the low mantissa bits */
    const vec shifter = splat(12582912.0f);
    const vec t = x * 1.44269504088896341f + shifter;
    const vec n = t - shifter;
    const ivec exponent = (ivec)t - (ivec)shifter;
    /* ln 2 split in two so that n * ln2_hi is exact */
    vec r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vec p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + (r + 1.0f);
    return p * (vec)((exponent + 127) << 23);
}

/* 1 / d: the hardware's estimate and one Newton step r' = r (2 - d r) where there is one
 * (14 bits -> ~28, 12 bits -> ~23, both below float32 rounding), a division elsewhere. */
INLINE vec reciprocal(vec d) {
#if VECTOR_BYTES == 64 && defined(__AVX512F__)
    const vec r = (vec)_mm512_rcp14_ps((__m512)d);
    return r * (2.0f - d * r);
#elif VECTOR_BYTES == 32 && defined(__AVX__)
    const vec r = (vec)_mm256_rcp_ps((__m256)d);
    return r * (2.0f - d * r);
#else
    return 1.0f / d;
#endif
}

/* sqrt, lane by lane (correctly rounded everywhere) */
INLINE vec sqrt_v(vec x) {
#if VECTOR_BYTES == 64 && defined(__AVX512F__)
    return (vec)_mm512_sqrt_ps((__m512)x);
#elif VECTOR_BYTES == 32 && defined(__AVX__)
    return (vec)_mm256_sqrt_ps((__m256)x);
#elif VECTOR_BYTES == 16 && defined(__SSE2__)
    return (vec)_mm_sqrt_ps((__m128)x);
#elif VECTOR_BYTES == 16 && defined(__ARM_NEON) && defined(__aarch64__)
    return (vec)vsqrtq_f32((float32x4_t)x);
#else
    vec root;
    for (int lane = 0; lane < LANES; lane++) root[lane] = __builtin_sqrtf(x[lane]);
    return root;
#endif
}

/* sigmoid(a) = 1 / (1 + exp(-a)) */
INLINE vec sigmoid_v(vec a) { return reciprocal(1.0f + exp_v(-a)); }

/* tanh(a) = 1 - 2 / (1 + e), e = exp(2 a): exp's clamp keeps 1 + e finite (e <= e^88),
 * and 2 / (1 + e) runs from 2 (a -> -inf: tanh = -1) to 0 (a -> inf: 1). Near a = 0 the
 * subtraction loses the relative accuracy, not the absolute: the absolute error stays
 * about 1e-7, as for sign(a) (1 - e') / (1 + e') with e' = exp(-2 |a|). */
INLINE vec tanh_v(vec a) {
    const vec e = exp_v(a + a);
    return 1.0f - 2.0f * reciprocal(1.0f + e);
}

INLINE vec relu_v(vec a) { return pick(a > 0.0f, a, splat(0.0f)); }

/* ---- products ---------------------------------------------------------------------- */

/* Columns of a product come in blocks of 16 (UNITS): column j lies at (j / 16) * stride +
 * j % 16 of its row, with one stride for the weights and one for the output. This one
 * form serves the forward slabs (blocks = the 4, 3 or 1 gates of a unit block, each gate
 * its own (K, 16) slab) and the backward slabs (blocks = unit blocks, each its own (K, 16)
 * slab). Each 16-column block of weights is contiguous over k, so a tile's pass over k reads
 * every weight stream in order: with the gates side by side in rows of 64 (a 256-byte
 * stride, a quarter of each line read a pass), the forward product of a 512-unit LSTM ran
 * 10-20% slower on AVX2 (Zen 3), where a tile is 16 columns wide. */
INLINE size_t column_at(int j, size_t block_stride) {
    return (size_t)(j / UNITS) * block_stride + (size_t)(j % UNITS);
}

/* out[r, columns j0 .. j0 + NV * LANES) (+)= sum_k a[r * a_stride + k] w[k * w_k + column]
 * for the R rows of a register tile: R x NV accumulators kept in registers over k. */
INLINE void product_tile(const int R, const int NV, int k_count, const float *a,
                         size_t a_stride, const float *w, size_t w_k, size_t w_block,
                         float *out, size_t out_stride, size_t out_block, int j0,
                         int accumulate) {
    vec acc[ROWS][TILE_VECTORS];
    float *ov[TILE_VECTORS];
    for (int v = 0; v < NV; v++) ov[v] = out + column_at(j0 + v * LANES, out_block);
    /* The output's old values are added after the k loop, not loaded into the
     * accumulators before it: they come from far away (the input projection of every
     * step, written long before), and the FMA chains would wait on those misses. Asked for
     * now, they are in L1 by the end. */
    if (accumulate)
        for (int r = 0; r < R; r++)
            for (int v = 0; v < NV; v++) __builtin_prefetch(ov[v] + r * out_stride, 1, 3);
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = splat(0.0f);
    /* The k loop walks few pointers, so that none spills to the stack to be reloaded at
     * every k: the rows through two, rows 0-2 from `low` and 3-5 from `high`, each at 0,
     * 1 or 2 strides (x86 addresses pointer + stride * 1 or 2), and the weights through
     * one, the other vectors at offsets known when compiled wherever they lie in the same
     * 16-column block. j0 is a multiple of CHUNK, which divides 16 or is a multiple of it,
     * so column_at(j0 + c) = column_at(j0) + column_at(c) for the tile's columns c. */
    const float *low = a, *high = R > 3 ? a + 3 * a_stride : a;
    const float *w_tile = w + column_at(j0, w_block);
    for (int k = 0; k < k_count; k++, low++, high++) {
        const float *wk_row = w_tile + (size_t)k * w_k; /* not stepped past the end */
        vec wk[TILE_VECTORS];
        for (int v = 0; v < NV; v++) wk[v] = load(wk_row + column_at(v * LANES, w_block));
        for (int r = 0; r < R; r++) {
            const vec x = splat(r < 3 ? low[r * a_stride] : high[(r - 3) * a_stride]);
            for (int v = 0; v < NV; v++) acc[r][v] += x * wk[v];
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) {
            float *o = ov[v] + r * out_stride;
            store(o, accumulate ? load(o) + acc[r][v] : acc[r][v]);
        }
}

#if TILE_VECTORS == 4
#define TILE_NV(R)                                                                           \
    switch (nv) {                                                                            \
    case 4: TILE(R, 4); break;                                                               \
    case 3: TILE(R, 3); break;                                                               \
    case 2: TILE(R, 2); break;                                                               \
    default: TILE(R, 1);                                                                     \
    }
#else
#define TILE_NV(R)                                                                           \
    switch (nv) {                                                                            \
    case 2: TILE(R, 2); break;                                                               \
    default: TILE(R, 1);                                                                     \
    }
#endif
#define TILE(R, NV)                                                                          \
    product_tile(R, NV, k_count, a + (size_t)r * a_stride, a_stride, w, w_k, w_block,        \
                 out + (size_t)r * out_stride, out_stride, out_block, j0, accumulate)

/* The rows of the register tile that starts at row r of `rows`: the rows go in
 * ceil(rows / ROWS) tiles of nearly equal size, the larger first (32 rows: 6, 6, 5, 5, 5,
 * 5, not 6 x 5 + 2). A tile of n rows keeps n x TILE_VECTORS independent FMA chains in
 * flight; with 2 rows (4 chains at AVX2) it waits on the FMA latency (4 cycles x 2 pipes
 * needs 8), at 5 rows it does not. */
INLINE int tile_rows(int rows, int r) {
    const int tiles_left = (rows - r + ROWS - 1) / ROWS;
    return (rows - r + tiles_left - 1) / tiles_left;
}

/* One row (a batch-1 step) has no other rows to keep the FMA units busy: a 1 x
 * TILE_VECTORS tile keeps only TILE_VECTORS chains in flight (2 at AVX2, where 8 are needed
 * to cover the latency), so a single row takes ROW_VECTORS vectors of columns at a time (up
 * to 64 columns, one LSTM unit block's four gates, and at most 8 chains: 64 columns at AVX2,
 * 32 with 16-byte vectors; AVX-512's tiles are already that wide and keep their path), its
 * FMAs reading the weights from memory. The sums are formed in the same order as
 * product_tile's, so the results are the same to the bit. */
#define ROW_VECTORS (64 / LANES > 8 ? 8 : 64 / LANES)
INLINE void product_row(const int NV, int k_count, const float *a, const float *w, size_t w_k,
                        size_t w_block, float *out, size_t out_block, int j0, int accumulate) {
    vec acc[ROW_VECTORS];
    const float *wv[ROW_VECTORS];
    for (int v = 0; v < NV; v++) {
        wv[v] = w + column_at(j0 + v * LANES, w_block);
        acc[v] = splat(0.0f);
        /* the old outputs, added after the k loop: asked for now (as in product_tile) */
        if (accumulate) __builtin_prefetch(out + column_at(j0 + v * LANES, out_block), 1, 3);
    }
    for (int k = 0; k < k_count; k++) {
        const vec x = splat(a[k]);
        for (int v = 0; v < NV; v++) acc[v] += x * load(wv[v] + (size_t)k * w_k);
    }
    for (int v = 0; v < NV; v++) {
        float *o = out + column_at(j0 + v * LANES, out_block);
        store(o, accumulate ? load(o) + acc[v] : acc[v]);
    }
}

#define ROW(NV) product_row(NV, k_count, a, w, w_k, w_block, out, out_block, j0, accumulate)
static void NAME(product_one_row)(int k_count, const float *a, const float *w, size_t w_k,
                                  size_t w_block, float *out, size_t out_block, int cols,
                                  int accumulate) {
    for (int j0 = 0; j0 < cols; j0 += ROW_VECTORS * LANES) {
        const int nv = cols - j0 >= ROW_VECTORS * LANES ? ROW_VECTORS : (cols - j0) / LANES;
        switch (nv) {
#if ROW_VECTORS > 4
        case 8: ROW(8); break;
        case 7: ROW(7); break;
        case 6: ROW(6); break;
        case 5: ROW(5); break;
#endif
        case 4: ROW(4); break;
        case 3: ROW(3); break;
        case 2: ROW(2); break;
        default: ROW(1);
        }
    }
}
#undef ROW

/* product_tile over `rows` rows (tiles of tile_rows) and the columns [0, cols), cols a
 * multiple of 16; a single row goes to product_one_row where that is wider. */
static void NAME(product_rows)(int rows, int k_count, const float *a, size_t a_stride,
                               const float *w, size_t w_k, size_t w_block, float *out,
                               size_t out_stride, size_t out_block, int cols, int accumulate) {
    if (rows == 1 && ROW_VECTORS > TILE_VECTORS) {
        NAME(product_one_row)(k_count, a, w, w_k, w_block, out, out_block, cols, accumulate);
        return;
    }
    for (int r = 0, n; r < rows; r += n) {
        n = tile_rows(rows, r);
        for (int j0 = 0; j0 < cols; j0 += CHUNK) {
            const int nv = cols - j0 >= CHUNK ? TILE_VECTORS : (cols - j0) / LANES;
            switch (n) {
            case 6: TILE_NV(6) break;
            case 5: TILE_NV(5) break;
            case 4: TILE_NV(4) break;
            case 3: TILE_NV(3) break;
            case 2: TILE_NV(2) break;
            default: TILE_NV(1)
            }
        }
    }
}
#undef TILE
#undef TILE_NV
#define product_rows NAME(product_rows)

/* ---- cell updates (forward) -------------------------------------------------------- */

/* LSTM, `rows` rows of one unit block: pre-activations a (row stride a_stride, gate q at
 * a + q H; overwritten with the activations i, f, g, o), states of row stride H:
 *   c_t = f c_{t-1} + i g,  h_t = o tanh(c_t) */
static void NAME(lstm_cells)(int rows, int a_stride, int hidden, float *a, const float *c_prev,
                             float *c_next, float *h_next, float *tanh_cell) {
    for (int r = 0; r < rows; r++, a += a_stride) {
        const size_t s = (size_t)r * hidden;
        for (int u = 0; u < UNITS; u += LANES) {
            const vec i = sigmoid_v(load(a + u)), f = sigmoid_v(load(a + hidden + u));
            const vec g = tanh_v(load(a + 2 * hidden + u));
            const vec o = sigmoid_v(load(a + 3 * hidden + u));
            const vec c = f * load(c_prev + s + u) + i * g;
            const vec tc = tanh_v(c);
            store(c_next + s + u, c);
            if (tanh_cell) store(tanh_cell + s + u, tc);
            store(h_next + s + u, o * tc);
            store(a + u, i);
            store(a + hidden + u, f);
            store(a + 2 * hidden + u, g);
            store(a + 3 * hidden + u, o);
        }
    }
}

/* GRU, `rows` rows of one unit block: x the input side (W_ih x + b_ih + [b_hr, b_hz, 0],
 * row stride x_stride, gate q at x + q H; overwritten with r, z, n), p the recurrent
 * products W_hh h (row stride p_stride, gate q at p + q p_gate), b_hn (or NULL):
 *   r, z = sigmoid(x + p),  m = p_n + b_hn,  n = tanh(x_n + r m),  h_t = n + z (h_{t-1} - n)
 * m is kept for backward (row stride H, may be NULL). h_prev and h_next may coincide. */
static void NAME(gru_cells)(int rows, int x_stride, int hidden, float *x, const float *p,
                            int p_stride, int p_gate, const float *b_hn, const float *h_prev,
                            float *h_next, float *m_out) {
    for (int row = 0; row < rows; row++, x += x_stride, p += p_stride) {
        const size_t s = (size_t)row * hidden;
        for (int u = 0; u < UNITS; u += LANES) {
            const vec r = sigmoid_v(load(x + u) + load(p + u));
            const vec z = sigmoid_v(load(x + hidden + u) + load(p + p_gate + u));
            vec m = load(p + 2 * p_gate + u);
            if (b_hn) m += load(b_hn + u);
            const vec n = tanh_v(load(x + 2 * hidden + u) + r * m);
            const vec h = load(h_prev + s + u);
            store(h_next + s + u, n + z * (h - n));
            if (m_out) store(m_out + s + u, m);
            store(x + u, r);
            store(x + hidden + u, z);
            store(x + 2 * hidden + u, n);
        }
    }
}

/* RNN: h = tanh(a) or relu(a) over `count` values (a multiple of LANES) */
static void NAME(rnn_cells)(int count, int relu, const float *a, float *h) {
    for (int u = 0; u < count; u += LANES) {
        const vec x = load(a + u);
        store(h + u, relu ? relu_v(x) : tanh_v(x));
    }
}

/* ---- forward time loops ------------------------------------------------------------ */

static int active_in(const int64_t *batch_sizes, int t, int first, int last) {
    const int running = (batch_sizes ? (int)batch_sizes[t] : last) - first;
    return running < 0 ? 0 : running > last - first ? last - first : running;
}

/* One direction of one layer for the rows [first, last): see struct rnnkit_sequence. */
static void NAME(forward_rows)(const void *args, int first, int last, int chunk) {
    const struct rnnkit_sequence *q = args;
    (void)chunk;
    const int hidden = q->hidden, blocks = hidden / UNITS, G = rnnkit_gate_count(q->cell);
    const int gate_stride = G * hidden;
    const size_t state_size = (size_t)q->batch * hidden, gate_size = (size_t)G * state_size;
    float tile[ROWS * 3 * UNITS]; /* the GRU's recurrent products of one tile */
    for (int s = 0; s < q->steps; s++) {
        const int t = q->reverse ? q->steps - 1 - s : s;
        const int rows = active_in(q->batch_sizes, t, first, last);
        const size_t read = (size_t)(t + q->reverse) * state_size + (size_t)first * hidden;
        const size_t write = (size_t)(t + 1 - q->reverse) * state_size + (size_t)first * hidden;
        const float *h_prev = q->hidden_states + read;
        float *h_next = q->hidden_states + write;
        float *gates = q->gates + t * gate_size + (size_t)first * gate_stride;
        float *aux = q->aux ? q->aux + t * state_size + (size_t)first * hidden : NULL;
        if (q->ids)
            for (int r = 0; r < rows; r++)
                memcpy(gates + (size_t)r * gate_stride,
                       q->table + q->ids[(size_t)t * q->batch + first + r] * gate_stride,
                       gate_stride * sizeof(float));
        if (q->cell == RNNKIT_LSTM) {
            for (int b = 0; b < blocks; b++) {
                /* the block's four gates in registers, then its cell update while in L1 */
                product_rows(rows, hidden, h_prev, hidden, q->weight + (size_t)b * hidden * 64,
                             UNITS, (size_t)hidden * UNITS, gates + b * UNITS, gate_stride,
                             hidden, 64, 1);
                NAME(lstm_cells)(rows, gate_stride, hidden, gates + b * UNITS,
                                 q->cells + read + b * UNITS, q->cells + write + b * UNITS,
                                 h_next + b * UNITS, aux + b * UNITS);
            }
        } else if (q->cell == RNNKIT_GRU) {
            for (int r = 0, n; r < rows; r += n) {
                n = tile_rows(rows, r);
                for (int b = 0; b < blocks; b++) {
                    product_rows(n, hidden, h_prev + (size_t)r * hidden, hidden,
                                 q->weight + (size_t)b * hidden * 48, UNITS,
                                 (size_t)hidden * UNITS, tile, 48, UNITS,
                                 48, 0);
                    const size_t unit = (size_t)r * hidden + b * UNITS;
                    NAME(gru_cells)(n, gate_stride, hidden,
                                    gates + (size_t)r * gate_stride + b * UNITS, tile, 48, UNITS,
                                    q->hidden_bias ? q->hidden_bias + b * UNITS : NULL,
                                    h_prev + unit, h_next + unit, aux + unit);
                }
            }
        } else {
            /* every unit block's product first (one slab per block, chunks across blocks),
             * then the nonlinearity over whole rows */
            product_rows(rows, hidden, h_prev, hidden, q->weight, UNITS, (size_t)hidden * UNITS,
                         gates, gate_stride, UNITS, hidden, 1);
            for (int r = 0; r < rows; r++)
                NAME(rnn_cells)(hidden, q->cell == RNNKIT_RNN_RELU,
                                gates + (size_t)r * gate_stride, h_next + (size_t)r * hidden);
        }
        /* rows past their length keep their state */
        const size_t done = (size_t)rows * hidden, count = (size_t)(last - first - rows) * hidden;
        memcpy(h_next + done, h_prev + done, count * sizeof(float));
        if (q->cells)
            memcpy(q->cells + write + done, q->cells + read + done, count * sizeof(float));
        if (aux) memset(aux + done, 0, count * sizeof(float));
    }
}

/* ---- backward time loops ----------------------------------------------------------- */

/* LSTM gate gradients of one row of one unit block (gate q at act + q H, da + q H):
 *   dc_t = dc_t + dh_t o (1 - tanh(c_t)^2)
 *   da_i = dc_t g i (1 - i),  da_f = dc_t c_{t-1} f (1 - f),  da_g = dc_t i (1 - g^2),
 *   da_o = dh_t tanh(c_t) o (1 - o),  dc_{t-1} = dc_t f */
INLINE void lstm_grads(int hidden, const float *act, const float *tanh_cell, const float *c_prev,
                       const float *grad_out, const float *dh, float *dc, float *da) {
    for (int u = 0; u < UNITS; u += LANES) {
        const vec i = load(act + u), f = load(act + hidden + u);
        const vec g = load(act + 2 * hidden + u), o = load(act + 3 * hidden + u);
        const vec tc = load(tanh_cell + u);
        const vec h_grad = load(dh + u) + load(grad_out + u);
        const vec c_grad = h_grad * o * (1.0f - tc * tc) + load(dc + u);
        store(da + u, c_grad * g * (i * (1.0f - i)));
        store(da + hidden + u, c_grad * load(c_prev + u) * (f * (1.0f - f)));
        store(da + 2 * hidden + u, c_grad * i * (1.0f - g * g));
        store(da + 3 * hidden + u, h_grad * tc * (o * (1.0f - o)));
        store(dc + u, c_grad * f);
    }
}

/* GRU gate gradients of one row of one unit block (see gru_kernel.py):
 *   dn = dh (1 - z),  da_n = dn (1 - n^2),  dm = da_n r,  da_r = da_n m r (1 - r),
 *   da_z = dh (h_{t-1} - n) z (1 - z);  dh becomes dh z (the direct part of dh_{t-1})
 * hidden-side gradients [da_r, da_z, dm] to gh, input-side [da_r, da_z, da_n] to gi. */
INLINE void gru_grads(int hidden, const float *act, const float *m_in, const float *h_prev,
                      const float *grad_out, float *dh, float *gi, float *gh) {
    for (int u = 0; u < UNITS; u += LANES) {
        const vec r = load(act + u), z = load(act + hidden + u), n = load(act + 2 * hidden + u);
        const vec h_grad = load(dh + u) + load(grad_out + u);
        const vec da_n = h_grad * (1.0f - z) * (1.0f - n * n);
        const vec da_r = da_n * load(m_in + u) * (r * (1.0f - r));
        const vec da_z = h_grad * (load(h_prev + u) - n) * (z * (1.0f - z));
        store(gi + u, da_r);
        store(gh + u, da_r);
        store(gi + hidden + u, da_z);
        store(gh + hidden + u, da_z);
        store(gi + 2 * hidden + u, da_n);
        store(gh + 2 * hidden + u, da_n * r);
        store(dh + u, h_grad * z);
    }
}

/* RNN: da = dh (1 - h^2) (tanh) or dh [h > 0] (relu), over `count` values */
INLINE void rnn_grads(int count, int relu, const float *h, const float *grad_out, const float *dh,
                      float *da) {
    for (int u = 0; u < count; u += LANES) {
        const vec y = load(h + u), d = load(dh + u) + load(grad_out + u);
        store(da + u, relu ? pick(y > 0.0f, d, splat(0.0f)) : d * (1.0f - y * y));
    }
}

/* One direction of one layer backward for the rows [first, last); see struct
 * rnnkit_sequence. dh_{t-1} = (GRU: dh z +) da W_hh, with W_hh as backward slabs. */
static void NAME(backward_rows)(const void *args, int first, int last, int chunk) {
    const struct rnnkit_sequence *q = args;
    const int hidden = q->hidden, blocks = hidden / UNITS, G = rnnkit_gate_count(q->cell);
    const int gate_stride = G * hidden;
    const size_t state_size = (size_t)q->batch * hidden, gate_size = (size_t)G * state_size;
    float *dh = q->dh + (size_t)first * hidden, *dc = q->dc ? q->dc + (size_t)first * hidden : 0;
    for (int s = 0; s < q->steps; s++) {
        const int t = q->reverse ? s : q->steps - 1 - s;
        const int rows = active_in(q->batch_sizes, t, first, last);
        const size_t state = t * state_size + (size_t)first * hidden;
        const size_t previous = (size_t)(t + q->reverse) * state_size + (size_t)first * hidden;
        const size_t next = (size_t)(t + 1 - q->reverse) * state_size + (size_t)first * hidden;
        const size_t gate_offset = t * gate_size + (size_t)first * gate_stride;
        float *grad_gates = q->grad_gates + gate_offset;
        float *grad_hidden = q->grad_hidden_gates ? q->grad_hidden_gates + gate_offset : grad_gates;
        const float *gates = q->gates + gate_offset;
        const float *grad_out = q->grad_output + state;
        for (int r = 0; r < rows; r++) {
            const size_t row = (size_t)r * hidden, gate_row = (size_t)r * gate_stride;
            if (q->cell == RNNKIT_LSTM) {
                for (int b = 0; b < blocks; b++)
                    lstm_grads(hidden, gates + gate_row + b * UNITS, q->aux + state + row + b * UNITS,
                               q->cells + previous + row + b * UNITS, grad_out + row + b * UNITS,
                               dh + row + b * UNITS, dc + row + b * UNITS,
                               grad_gates + gate_row + b * UNITS);
            } else if (q->cell == RNNKIT_GRU) {
                for (int b = 0; b < blocks; b++)
                    gru_grads(hidden, gates + gate_row + b * UNITS, q->aux + state + row + b * UNITS,
                              q->hidden_states + previous + row + b * UNITS,
                              grad_out + row + b * UNITS, dh + row + b * UNITS,
                              grad_gates + gate_row + b * UNITS, grad_hidden + gate_row + b * UNITS);
            } else {
                rnn_grads(hidden, q->cell == RNNKIT_RNN_RELU, q->hidden_states + next + row,
                          grad_out + row, dh + row, grad_gates + gate_row);
            }
            if (q->ids) {
                /* this row's input-side gate gradients, summed per token id for the table */
                const int64_t id = q->ids[(size_t)t * q->batch + first + r];
                float *sum = q->grad_table + ((size_t)chunk * q->vocab + id) * gate_stride;
                const float *from = grad_gates + gate_row;
                for (int k = 0; k < gate_stride; k += LANES) store(sum + k, load(sum + k) + load(from + k));
            }
        }
        const size_t rest = (size_t)(last - first - rows) * gate_stride * sizeof(float);
        memset(grad_gates + (size_t)rows * gate_stride, 0, rest);
        if (grad_hidden != grad_gates) memset(grad_hidden + (size_t)rows * gate_stride, 0, rest);
        product_rows(rows, gate_stride, grad_hidden, gate_stride, q->weight, UNITS,
                     (size_t)gate_stride * UNITS, dh, hidden, UNITS, hidden,
                     q->cell == RNNKIT_GRU);
    }
}

/* ---- batch-1 steps of a stack (sampling, decoding) --------------------------------- */

/* Thread j's share of one step of a stack of layers for one row: unit blocks
 * [first, last) of every layer; see struct rnnkit_stack. Layer l's input side is
 * first_input (l = 0; or biases[0] + first_weights x) or biases[l] + input_weights[l - 1]
 * h_{l-1}; the threads meet at a
 * barrier once every share of a layer's products has read the old h, and again once the
 * new h is written. scratch: [0, GH) the input side (LSTM, RNN: plus the recurrent product),
 * [GH, 2GH) the GRU's recurrent product, [2GH, 2GH + H) the LSTM's tanh(c). */
static void NAME(stack_share)(const struct rnnkit_stack *q, void *pool, int j, int *sense) {
    const int hidden = q->hidden, blocks = hidden / UNITS, G = rnnkit_gate_count(q->cell);
    const int gate_stride = G * hidden, width = G * UNITS;
    const int active = q->active, share = j < active ? j : active;
    const int first = (int)((int64_t)blocks * share / active);
    const int last = (int)((int64_t)blocks * (j < active ? j + 1 : active) / active);
    const size_t weight_size = (size_t)hidden * gate_stride, slab = (size_t)hidden * width;
    float *input_side = q->scratch, *recurrent = q->scratch + gate_stride;
    for (int l = 0; l < q->layers; l++) {
        const int from_x = l == 0 && !q->first_input;
        const float *init = l == 0 && !from_x ? q->first_input : q->biases + (size_t)l * gate_stride;
        const float *h_prev = q->h + (size_t)l * hidden;
        float *h = q->h + (size_t)l * hidden;
        for (int b = first; b < last; b++) {
            float *a = input_side + b * UNITS;
            for (int g = 0; g < G; g++)
                memcpy(a + g * hidden, init + g * hidden + b * UNITS, UNITS * sizeof(float));
            if (l > 0)
                product_rows(1, hidden, q->h + (size_t)(l - 1) * hidden, 0,
                             q->input_weights + (l - 1) * weight_size + b * slab, UNITS,
                             (size_t)hidden * UNITS, a, 0, hidden, width, 1);
            else if (from_x)
                product_rows(1, q->input_size, q->x, 0,
                             q->first_weights + (size_t)b * q->input_size * width, UNITS,
                             (size_t)q->input_size * UNITS, a, 0, hidden, width, 1);
            const int gru = q->cell == RNNKIT_GRU;
            product_rows(1, hidden, h_prev, 0, q->weights + l * weight_size + b * slab, UNITS,
                         (size_t)hidden * UNITS, gru ? recurrent + b * UNITS : a, 0, hidden, width,
                         !gru);
        }
        /* every share has read h_{t-1} of this layer: the new states can replace it */
        rnnkit_pool_barrier(pool, sense);
        for (int b = first; b < last; b++) {
            const int u = b * UNITS;
            if (q->cell == RNNKIT_LSTM)
                NAME(lstm_cells)(1, 0, hidden, input_side + u, q->c + (size_t)l * hidden + u,
                                 q->c + (size_t)l * hidden + u, h + u, NULL);
            else if (q->cell == RNNKIT_GRU)
                NAME(gru_cells)(1, 0, hidden, input_side + u, recurrent + u, 0, hidden,
                                q->hidden_biases ? q->hidden_biases + (size_t)l * hidden + u : NULL,
                                h + u, h + u, NULL);
            else
                NAME(rnn_cells)(UNITS, q->cell == RNNKIT_RNN_RELU, input_side + u, h + u);
        }
        /* the next layer reads all of this layer's new h */
        rnnkit_pool_barrier(pool, sense);
    }
    if (q->head_weight) {
        /* each thread its share of the vocabulary: one dot product of length H per row */
        const int v_first = (int)((int64_t)q->vocab * share / active);
        const int v_last = (int)((int64_t)q->vocab * (j < active ? j + 1 : active) / active);
        const float *top = q->h + (size_t)(q->layers - 1) * hidden;
        for (int v = v_first; v < v_last; v++) {
            const float *w = q->head_weight + (size_t)v * hidden;
            vec sum = splat(0.0f);
            for (int k = 0; k < hidden; k += LANES) sum += load(w + k) * load(top + k);
            float total = 0.0f;
            for (int lane = 0; lane < LANES; lane++) total += sum[lane];
            q->logits[v] = total + q->head_bias[v];
        }
    }
}

/* out (rows, G H) = x (rows, K) W^T + bias, W as (H / 16, G, K, 16) slabs */
static void NAME(project_rows)(int cell, int rows, int input_size, int hidden, const float *x,
                               const float *slabs, const float *bias, float *out) {
    const int G = rnnkit_gate_count(cell), width = G * UNITS;
    for (int r = 0; r < rows; r++) {
        float *row = out + (size_t)r * G * hidden;
        memcpy(row, bias, (size_t)G * hidden * sizeof(float));
        for (int b = 0; b < hidden / UNITS; b++)
            product_rows(1, input_size, x + (size_t)r * input_size, 0,
                         slabs + (size_t)b * input_size * width, UNITS,
                         (size_t)input_size * UNITS, row + b * UNITS, 0,
                         hidden, width, 1);
    }
}

/* ---- optimizer ---------------------------------------------------------------------- */

/* One Adam(W) step of one parameter, one pass over its arrays (struct rnnkit_adam). */
static void NAME(adam)(const struct rnnkit_adam *q) {
    const float shrink = q->shrink, l2 = q->l2, b1 = q->one_minus_beta1, b2 = q->one_minus_beta2;
    int64_t i = 0;
    for (; i + LANES <= q->count; i += LANES) {
        const vec p = load(q->param + i) * shrink;
        const vec g = load(q->grad + i) + l2 * p;
        const vec m = load(q->exp_avg + i) + (g - load(q->exp_avg + i)) * b1;
        const vec v = load(q->exp_avg_sq + i) * q->beta2 + (g * b2) * g;
        const vec d = sqrt_v(v) / q->bias_correction2_sqrt + q->eps;
        store(q->exp_avg + i, m);
        store(q->exp_avg_sq + i, v);
        store(q->param + i, p - q->step_size * (m / d));
    }
    for (; i < q->count; i++) {
        const float p = q->param[i] * shrink;
        const float g = q->grad[i] + l2 * p;
        const float m = q->exp_avg[i] + (g - q->exp_avg[i]) * b1;
        const float v = q->exp_avg_sq[i] * q->beta2 + (g * b2) * g;
        q->exp_avg[i] = m;
        q->exp_avg_sq[i] = v;
        q->param[i] = p - q->step_size * (m / (__builtin_sqrtf(v) / q->bias_correction2_sqrt + q->eps));
    }
}

/* ---- the machine's FMA rate ------------------------------------------------------- */

/* `rounds` rounds of 12 independent vector FMA chains (acc = acc x + y, which converges to
 * 1: no overflow, no denormals), enough in flight to cover the FMA latency on every
 * target; returns the floating-point operations done (2 per lane per FMA). What the
 * product tiles could reach at most: the benchmark's measure of peak. */
static double NAME(fma_peak)(int64_t rounds) {
    vec acc[12];
    const vec x = splat(0.999f), y = splat(0.001f);
    for (int k = 0; k < 12; k++) acc[k] = splat(0.5f + 0.01f * k);
    for (int64_t r = 0; r < rounds; r++) {
        /* each round depends on the last and the sum below on all: nothing is dropped */
        for (int k = 0; k < 12; k++) acc[k] = acc[k] * x + y;
    }
    float total = 0.0f;
    for (int k = 0; k < 12; k++)
        for (int lane = 0; lane < LANES; lane++) total += acc[k][lane];
    volatile float sink = total;
    (void)sink;
    return (double)rounds * 12 * LANES * 2;
}

const struct rnnkit_kernels NAME(rnnkit_kernels) = {
    NAME(forward_rows), NAME(backward_rows), NAME(stack_share), NAME(project_rows), NAME(adam),
    NAME(fma_peak),
};

#undef product_rows
