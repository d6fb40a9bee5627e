/* Fused LSTM time loops in C: an optional accelerator for float32 (see lstm_fused.py).
 *
 * The equations are lstm_kernel.py's. What this file adds is the loop structure that NumPy
 * cannot express: each step's recurrent product is computed in register tiles and the gate
 * nonlinearities and the cell update are applied to the tile while it is still in
 * L1, so a step is one pass over the recurrent weight and no intermediate arrays.
 *
 * Layout. Gate values (pre-activations, activations, their gradients) keep PyTorch's
 * layout, a row of 4H: gate q (order i, f, g, o) of unit u at q H + u. Hidden units are
 * taken in blocks of 16 (one AVX-512 vector), and a register tile holds all four gates of
 * one block for up to 6 rows, so the cell update of those units needs nothing outside the
 * tile. The weights are rearranged once per call into contiguous "slabs" per unit block
 * (lstm_fused.py): for the forward product a (K, 64) slab whose column 16 q + u is gate q
 * of unit 16 b + u; for dh = da W_hh a (4H, 16) slab of the block's 16 columns.
 *
 *   forward:  acc[r][q] = xproj[t, r, q, b] + sum_k h_{t-1}[r, k] * slab_b[k, q]     (FMA)
 *             i, f, o = sigmoid(acc), g = tanh(acc), c_t = f c_{t-1} + i g, h_t = o tanh(c_t)
 *   backward: da[t, r, q, b] from dh_t, dc_t and the cached activations (lstm_kernel.py)
 *             dh_{t-1}[r, units] = sum_k da[t, r, k] * W_hh[k, units]                (FMA)
 *
 * Threads. Training: the rows of a batch are independent, so threads take chunks of rows
 * and run the whole sequence for them, never waiting for each other (split_rows).
 * Sampling (one row): threads own ranges of unit blocks and meet at a barrier between
 * layers (stack_step_share). Each weight slab is laid out contiguously, so a tile reads
 * its weights as one stream and they stay in the core's cache from step to step.
 *
 * sigmoid and tanh are computed from a polynomial exp accurate to about a float32 ulp
 * (tests/nn/test_lstm_fused.py holds the results to the float64 NumPy kernels). float64
 * always runs in NumPy, where the oracle tests hold results to 1e-8.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE /* sched_getcpu, pthread_attr_setaffinity_np */
#include <Python.h>

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <stdint.h>
#include <string.h>

#define UNITS 16         /* hidden units per block: one AVX-512 vector of float32 */
#define TILE (4 * UNITS) /* columns of a unit block's forward weight slab: 4 gates x 16 */
#define ROWS 6           /* batch rows per register tile: 24 accumulators of 32 registers */
#define AVX512 __attribute__((target("avx512f,fma"), always_inline)) static inline
#define AVX512_FN __attribute__((target("avx512f,fma"))) static

/* ---- vector math ------------------------------------------------------------------- */

/* exp(x) = 2^n exp(r), n = round(x / ln 2), |r| <= ln(2) / 2, and
 * exp(r) = 1 + r + r^2 P(r) with the degree-5 polynomial P of Cephes' expf (relative
 * error ~1e-7, a float32 ulp). */
AVX512 __m512 exp_ps(__m512 x) {
    /* max and min return their second operand when either is NaN: x goes second, so a NaN
     * passes through (and on through roundscale, scalef and rcp14) */
    x = _mm512_min_ps(_mm512_set1_ps(88.0f), _mm512_max_ps(_mm512_set1_ps(-87.0f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* ln 2 split in two so that n * ln2_hi is exact */
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* 1 / d: the 14-bit estimate and one Newton step, r' = r (2 - d r) (error about 2^-28
 * before float32 rounding, and several times the throughput of a division) */
AVX512 __m512 reciprocal_ps(__m512 d) {
    __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

/* sigmoid(a) = 1 / (1 + exp(-a)) */
AVX512 __m512 sigmoid_ps(__m512 a) {
    __m512 one = _mm512_set1_ps(1.0f);
    return reciprocal_ps(_mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), a))));
}

/* tanh(a) = sign(a) (1 - e) / (1 + e), e = exp(-2 |a|) <= 1: no overflow for any a. The
 * absolute error stays below 1e-7; for tiny |a| the relative error grows (1 - e cancels),
 * which the gates, all of them O(1) quantities, do not notice. */
AVX512 __m512 tanh_ps(__m512 a) {
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 sign = _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32((int)0x80000000u)));
    __m512 magnitude = _mm512_castsi512_ps(
        _mm512_andnot_si512(_mm512_set1_epi32((int)0x80000000u), _mm512_castps_si512(a)));
    __m512 e = exp_ps(_mm512_mul_ps(magnitude, _mm512_set1_ps(-2.0f)));
    __m512 t = _mm512_mul_ps(_mm512_sub_ps(one, e), reciprocal_ps(_mm512_add_ps(one, e)));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t), _mm512_castps_si512(sign)));
}

/* ---- forward ----------------------------------------------------------------------- */

/* The cell update of `rows` rows of one unit block, from their pre-activations a (row
 * stride a_stride, gate q at a + q H; overwritten with the activations i, f, g, o); the
 * states have row stride `hidden`. Kept out of line: inlined into the product loop, its constants would
 * take the registers the accumulators need. */
__attribute__((target("avx512f,fma"), noinline)) static void
cell_update(int rows, int a_stride, int hidden, float *a, const float *c_prev, float *c_next,
            float *h_next, float *tanh_cell) {
    for (int r = 0; r < rows; r++, a += a_stride) {
        const size_t s = (size_t)r * hidden;
        __m512 i = sigmoid_ps(_mm512_loadu_ps(a)), f = sigmoid_ps(_mm512_loadu_ps(a + hidden));
        __m512 g = tanh_ps(_mm512_loadu_ps(a + 2 * hidden));
        __m512 o = sigmoid_ps(_mm512_loadu_ps(a + 3 * hidden));
        /* c_t = f c_{t-1} + i g ;  h_t = o tanh(c_t) */
        __m512 c = _mm512_fmadd_ps(f, _mm512_loadu_ps(c_prev + s), _mm512_mul_ps(i, g));
        __m512 tc = tanh_ps(c);
        _mm512_storeu_ps(c_next + s, c);
        _mm512_storeu_ps(tanh_cell + s, tc);
        _mm512_storeu_ps(h_next + s, _mm512_mul_ps(o, tc));
        _mm512_storeu_ps(a, i);
        _mm512_storeu_ps(a + hidden, f);
        _mm512_storeu_ps(a + 2 * hidden, g);
        _mm512_storeu_ps(a + 3 * hidden, o);
    }
}

/* c[r, gate q of the block's 16 units] += sum_k a[r, k] slab[k, 16 q : 16 q + 16] for the
 * R rows of a register tile: a's rows have stride a_stride, c's c_stride, and c's gate
 * q lies at c + q * c_gate (PyTorch's layout: c_gate = H); slab is one unit block's
 * (K, 64) weights. */
AVX512 void add_product_tile(const int R, int k_count, const float *a, size_t a_stride,
                             const float *slab, float *c, size_t c_stride, size_t c_gate) {
    __m512 acc[ROWS][4];
    for (int r = 0; r < R; r++)
        for (int q = 0; q < 4; q++) acc[r][q] = _mm512_loadu_ps(c + r * c_stride + q * c_gate);
    for (int k = 0; k < k_count; k++) {
        const float *w = slab + (size_t)k * TILE;
        __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + UNITS);
        __m512 w2 = _mm512_loadu_ps(w + 2 * UNITS), w3 = _mm512_loadu_ps(w + 3 * UNITS);
        for (int r = 0; r < R; r++) {
            __m512 h = _mm512_set1_ps(a[r * a_stride + k]);
            acc[r][0] = _mm512_fmadd_ps(h, w0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(h, w1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(h, w2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(h, w3, acc[r][3]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int q = 0; q < 4; q++) _mm512_storeu_ps(c + r * c_stride + q * c_gate, acc[r][q]);
}

/* One tile of R rows x one unit block: the recurrent product added to the input
 * projection in registers, then the cell update of the rows while the tile is in L1. */
AVX512 void forward_tile(const int R, int hidden, const float *h_prev, const float *weight,
                         float *gates, const float *c_prev, float *c_next, float *h_next,
                         float *tanh_cell) {
    const int gate_stride = 4 * hidden; /* row stride of gates */
    add_product_tile(R, hidden, h_prev, hidden, weight, gates, gate_stride, hidden);
    cell_update(R, gate_stride, hidden, gates, c_prev, c_next, h_next, tanh_cell);
}

AVX512 void forward_rows(int rows, int hidden, const float *h_prev, const float *weight,
                         float *gates, const float *c_prev, float *c_next, float *h_next,
                         float *tanh_cell) {
    const int gate_stride = 4 * hidden;
    int r = 0;
    for (; r + ROWS <= rows; r += ROWS)
        forward_tile(ROWS, hidden, h_prev + r * hidden, weight, gates + r * gate_stride,
                     c_prev + r * hidden, c_next + r * hidden, h_next + r * hidden,
                     tanh_cell + r * hidden);
#define FORWARD_REST(n)                                                                      \
    case n:                                                                                  \
        forward_tile(n, hidden, h_prev + r * hidden, weight, gates + r * gate_stride,       \
                     c_prev + r * hidden, c_next + r * hidden, h_next + r * hidden,         \
                     tanh_cell + r * hidden);                                               \
        break;
    switch (rows - r) {
        FORWARD_REST(5)
        FORWARD_REST(4)
        FORWARD_REST(3)
        FORWARD_REST(2)
        FORWARD_REST(1)
    }
#undef FORWARD_REST
}

static int active_at(const int64_t *batch_sizes, int t, int batch) {
    return batch_sizes ? (int)batch_sizes[t] : batch;
}

/* How many of the rows [first, last) run at step t (rows are sorted by length). */
static int active_in(const int64_t *batch_sizes, int t, int first, int last) {
    int running = active_at(batch_sizes, t, last) - first;
    return running < 0 ? 0 : running > last - first ? last - first : running;
}

/* Arguments of one direction of one layer; a thread takes the rows [first, last). */
struct sequence {
    int steps, batch, hidden, reverse;
    const int64_t *batch_sizes; /* NULL, or the rows running at each step */
    float *gates;               /* (T, B, 4H) */
    const float *weight;        /* slabs, see forward and backward */
    float *hidden_states, *cells, *tanh_cell;
    const float *grad_output;
    float *dh, *dc, *grad_gates;
    /* Token input: gates start from rows of the table (V, 4H), the per-token input
     * projection; backward adds each row's gate gradients into its chunk's (V, 4H) slice
     * of grad_table (chunks, V, 4H). NULL ids: gates hold the input projection. */
    const int64_t *ids;
    const float *table;
    float *grad_table;
    int vocab;
};

/* gates (T, B, 4H): in, the input projection plus both biases; out, the
 * activations i, f, g, o. weight (H / 16, H, 64): W_hh^T, one contiguous (H, 64) slab per
 * unit block, so that a tile reads its weights as one stream. hidden_states and cells
 * (T + 1, B, H): the state buffers of sequence_ops.py, entry [reverse ? T : 0] holding
 * h_0 and c_0. tanh_cell (T, B, H). */
AVX512_FN void forward_rows_range(const void *args, int first, int last, int chunk) {
    const struct sequence *q = args;
    (void)chunk;
    const int hidden = q->hidden, blocks = hidden / UNITS;
    const size_t state_size = (size_t)q->batch * hidden, gate_size = 4 * state_size;
    for (int s = 0; s < q->steps; s++) {
        const int t = q->reverse ? q->steps - 1 - s : s;
        const int rows = active_in(q->batch_sizes, t, first, last);
        const size_t read = (size_t)(t + q->reverse) * state_size + (size_t)first * hidden;
        const size_t write = (size_t)(t + 1 - q->reverse) * state_size + (size_t)first * hidden;
        float *gates = q->gates + t * gate_size + (size_t)first * 4 * hidden;
        float *tanh_cell = q->tanh_cell + t * state_size + (size_t)first * hidden;
        if (q->ids)
            for (int r = 0; r < rows; r++)
                memcpy(gates + (size_t)r * 4 * hidden,
                       q->table + q->ids[(size_t)t * q->batch + first + r] * 4 * hidden,
                       4 * hidden * sizeof(float));
        for (int b = 0; b < blocks; b++)
            forward_rows(rows, hidden, q->hidden_states + read,
                         q->weight + (size_t)b * hidden * TILE, gates + b * UNITS,
                         q->cells + read + b * UNITS, q->cells + write + b * UNITS,
                         q->hidden_states + write + b * UNITS, tanh_cell + b * UNITS);
        /* rows past their length keep their state */
        const size_t done = (size_t)rows * hidden, count = (size_t)(last - first - rows) * hidden;
        memcpy(q->hidden_states + write + done, q->hidden_states + read + done,
               count * sizeof(float));
        memcpy(q->cells + write + done, q->cells + read + done, count * sizeof(float));
        memset(tanh_cell + done, 0, count * sizeof(float));
    }
}

/* ---- backward ---------------------------------------------------------------------- */

/* The gate gradients of one row of one unit block, gate q at act + q H and da + q H (see
 * lstm_kernel.py):
 *   dc_t  = dc_t + dh_t o (1 - tanh(c_t)^2)
 *   da_i = dc_t g i (1 - i),  da_f = dc_t c_{t-1} f (1 - f),  da_g = dc_t i (1 - g^2),
 *   da_o = dh_t tanh(c_t) o (1 - o),  dc_{t-1} = dc_t f */
AVX512 void gate_grads(int hidden, const float *act, const float *tanh_cell,
                       const float *c_prev, const float *grad_out, float *dh, float *dc,
                       float *da) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 i = _mm512_loadu_ps(act), f = _mm512_loadu_ps(act + hidden);
    __m512 g = _mm512_loadu_ps(act + 2 * hidden), o = _mm512_loadu_ps(act + 3 * hidden);
    __m512 tc = _mm512_loadu_ps(tanh_cell);
    __m512 h_grad = _mm512_add_ps(_mm512_loadu_ps(dh), _mm512_loadu_ps(grad_out));
    __m512 c_grad = _mm512_fmadd_ps(_mm512_mul_ps(h_grad, o), _mm512_fnmadd_ps(tc, tc, one),
                                    _mm512_loadu_ps(dc));
    __m512 da_i = _mm512_mul_ps(_mm512_mul_ps(c_grad, g), _mm512_mul_ps(i, _mm512_sub_ps(one, i)));
    __m512 da_f = _mm512_mul_ps(_mm512_mul_ps(c_grad, _mm512_loadu_ps(c_prev)),
                                _mm512_mul_ps(f, _mm512_sub_ps(one, f)));
    __m512 da_g = _mm512_mul_ps(_mm512_mul_ps(c_grad, i), _mm512_fnmadd_ps(g, g, one));
    __m512 da_o = _mm512_mul_ps(_mm512_mul_ps(h_grad, tc), _mm512_mul_ps(o, _mm512_sub_ps(one, o)));
    _mm512_storeu_ps(da, da_i);
    _mm512_storeu_ps(da + hidden, da_f);
    _mm512_storeu_ps(da + 2 * hidden, da_g);
    _mm512_storeu_ps(da + 3 * hidden, da_o);
    _mm512_storeu_ps(dc, _mm512_mul_ps(c_grad, f));
}

/* out[r, 16 V columns] = sum_k a[r, k] W[k, columns] for the R rows of a tile, k over
 * k_count; the weight of column block v is the contiguous (k_count, 16) slab at
 * weight + v * k_count * 16. Serves dh = da W_hh (k over the 4H gates) and dx = da W_ih. */
AVX512 void gate_product_tile(const int R, const int V, int k_count, const float *a,
                              size_t a_stride, const float *weight, float *out,
                              size_t out_stride) {
    __m512 acc[ROWS][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) acc[r][v] = _mm512_setzero_ps();
    for (int k = 0; k < k_count; k++) {
        __m512 wv[4];
        for (int v = 0; v < V; v++)
            wv[v] = _mm512_loadu_ps(weight + ((size_t)v * k_count + k) * UNITS);
        for (int r = 0; r < R; r++) {
            __m512 x = _mm512_set1_ps(a[r * a_stride + k]);
            for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(x, wv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) _mm512_storeu_ps(out + r * out_stride + v * UNITS, acc[r][v]);
}

#define GATE_TILE(R, V)                                                                      \
    gate_product_tile(R, V, k_count, a + r * a_stride, a_stride, w, o + r * out_stride,      \
                      out_stride)
#define GATE_TILE_V(R)                                                                       \
    switch (V) {                                                                             \
    case 4: GATE_TILE(R, 4); break;                                                          \
    case 3: GATE_TILE(R, 3); break;                                                          \
    case 2: GATE_TILE(R, 2); break;                                                          \
    default: GATE_TILE(R, 1);                                                                \
    }

/* gate_product_tile over `rows` rows and the column blocks [first_block, last_block). */
AVX512 void gate_product_rows(int rows, int k_count, const float *a, size_t a_stride,
                              const float *weight, float *out, size_t out_stride,
                              int first_block, int last_block) {
    for (int b = first_block; b < last_block; b += 4) {
        const int V = last_block - b < 4 ? last_block - b : 4;
        const float *w = weight + (size_t)b * k_count * UNITS;
        float *o = out + b * UNITS;
        int r = 0;
        for (; r + ROWS <= rows; r += ROWS) GATE_TILE_V(ROWS)
        switch (rows - r) {
        case 5: GATE_TILE_V(5) break;
        case 4: GATE_TILE_V(4) break;
        case 3: GATE_TILE_V(3) break;
        case 2: GATE_TILE_V(2) break;
        case 1: GATE_TILE_V(1) break;
        }
    }
}

/* gates (T, B, 4H) activations from forward; cells, tanh_cell as forward left them;
 * grad_output (T, B, H); weight (H / 16, 4H, 16): W_hh's columns, one contiguous
 * (4H, 16) slab per unit block. dh, dc (B, H): in, the gradients of the final state; out,
 * those of the initial state. grad_gates (T, B, 4H): out, the pre-activation
 * gradients (zero for rows past their length). */
AVX512_FN void backward_rows_range(const void *args, int first, int last, int chunk) {
    const struct sequence *q = args;
    const int hidden = q->hidden, blocks = hidden / UNITS;
    const size_t state_size = (size_t)q->batch * hidden, gate_size = 4 * state_size;
    float *dh = q->dh + (size_t)first * hidden, *dc = q->dc + (size_t)first * hidden;
    for (int s = 0; s < q->steps; s++) {
        const int t = q->reverse ? s : q->steps - 1 - s;
        const int rows = active_in(q->batch_sizes, t, first, last);
        const size_t state = t * state_size + (size_t)first * hidden;
        const float *c_prev = q->cells + (size_t)(t + q->reverse) * state_size + (size_t)first * hidden;
        float *grad_gates = q->grad_gates + t * gate_size + (size_t)first * 4 * hidden;
        const float *gates = q->gates + t * gate_size + (size_t)first * 4 * hidden;
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < blocks; b++) {
                const size_t unit = (size_t)r * hidden + b * UNITS;
                const size_t gate = (size_t)r * 4 * hidden + b * UNITS;
                gate_grads(hidden, gates + gate, q->tanh_cell + state + unit, c_prev + unit,
                           q->grad_output + state + unit, dh + unit, dc + unit,
                           grad_gates + gate);
            }
            if (q->ids) {
                const int64_t id = q->ids[(size_t)t * q->batch + first + r];
                float *sum = q->grad_table + ((size_t)chunk * q->vocab + id) * 4 * hidden;
                const float *row = grad_gates + (size_t)r * 4 * hidden;
                for (int k = 0; k < 4 * hidden; k += UNITS)
                    _mm512_storeu_ps(sum + k, _mm512_add_ps(_mm512_loadu_ps(sum + k),
                                                            _mm512_loadu_ps(row + k)));
            }
        }
        memset(grad_gates + (size_t)rows * 4 * hidden, 0,
               (size_t)(last - first - rows) * 4 * hidden * sizeof(float));
        gate_product_rows(rows, 4 * hidden, grad_gates, 4 * hidden, q->weight, dh, hidden, 0,
                          blocks);
    }
}

/* ---- threads ----------------------------------------------------------------------- */

/* The rows of a batch are independent, so threads split them and never wait for each
 * other: each runs the whole sequence for the rows it takes, reading the whole recurrent
 * weight from its own core's cache. Rows go out in chunks, each to whichever thread
 * asks next: a thread slowed down (by a BLAS worker still spinning on
 * its core after NumPy's last product, say) takes fewer. The threads live for one call;
 * unlike a pool's, they do not spin afterwards on a core that NumPy's BLAS needs next. */
typedef void (*rows_task)(const void *args, int first, int last, int chunk);

struct share {
    rows_task task;
    const void *args;
    int rows, *next_chunk, chunk_rows;
};

static void *run_share(void *arg) {
    struct share *share = arg;
    for (;;) {
        const int chunk = __atomic_fetch_add(share->next_chunk, 1, __ATOMIC_RELAXED);
        const int first = chunk * share->chunk_rows;
        if (first >= share->rows) return NULL;
        const int last = first + share->chunk_rows < share->rows ? first + share->chunk_rows
                                                                 : share->rows;
        share->task(share->args, first, last, chunk);
    }
}

#define MAX_THREADS 64

/* Rows per chunk. Chunks of whole register tiles, two per thread: small enough to even
 * out a slowed thread, large enough that a few tiles share each weight slab brought into
 * L1 (measured: 6-9% faster than one-tile chunks at configs A-C of benchmarks/speed.py). */
static int chunk_rows_for(int rows, int threads) {
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    const int chunk_rows = threads <= 1 ? rows : (rows + 2 * threads - 1) / (2 * threads);
    return chunk_rows < 1 ? 1 : (chunk_rows + ROWS - 1) / ROWS * ROWS;
}

/* task(args, first, last, chunk) over the row ranges (chunks) of [0, rows), on `threads`
 * threads. The chunks and their numbers do not depend on which thread runs them, so a
 * result summed per chunk is the same from run to run. */
static void split_rows(rows_task task, const void *args, int rows, int threads) {
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    struct share shares[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    const int chunk_rows = chunk_rows_for(rows, threads);
    int next_chunk = 0;
    for (int j = 0; j < threads; j++)
        shares[j] = (struct share){task, args, rows, &next_chunk, chunk_rows};
    /* Start each helper on a core of its own, not the caller's: the scheduler would often
     * put it beside the caller (the other core looks busy while a BLAS worker spins on it,
     * yielding) and take milliseconds to move it. */
    cpu_set_t allowed;
    const int caller_cpu = sched_getcpu();
    const int pin = sched_getaffinity(0, sizeof allowed, &allowed) == 0 && caller_cpu >= 0;
    int cpu = caller_cpu; /* helpers go to the allowed CPUs after the caller's, in turn */
    for (int j = 1; j < threads; j++) {
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        if (pin) {
            /* the next allowed CPU after the last one given, skipping the caller's */
            for (int tries = 0; tries < CPU_SETSIZE; tries++) {
                cpu = (cpu + 1) % CPU_SETSIZE;
                if (cpu != caller_cpu && CPU_ISSET(cpu, &allowed)) break;
            }
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            pthread_attr_setaffinity_np(&attributes, sizeof one, &one);
        }
        started[j] = pthread_create(&ids[j], &attributes, run_share, &shares[j]) == 0;
        pthread_attr_destroy(&attributes);
    }
    run_share(&shares[0]); /* a thread that could not start leaves its chunks to this one */
    for (int j = 1; j < threads; j++)
        if (started[j]) pthread_join(ids[j], NULL);
}

/* ---- batch-1 steps (sampling) ------------------------------------------------------ */

/* A batch of one row cannot be split by rows, and a step reads every weight once: at the
 * sizes of a character model (a few MB of weights) the step is bound by reading them
 * from memory. So the stepper splits the hidden units between threads instead: each
 * thread owns a range of unit blocks for every step and reads only its share of the
 * weights, which then stays in its own core's cache between steps. Steps come every few
 * tens of microseconds, too often to start threads for each, so the stepper keeps
 * workers that spin briefly between steps and sleep once the caller stops stepping. */

struct stack_step {
    int active; /* threads that take a share; the pool's others only meet the barriers */
    int layers, hidden;
    const float *first_input, *biases, *input_weights, *weights;
    float *h, *c, *scratch;
    /* optional head on the top layer's h: logits = head_weight h + head_bias, (V, H) */
    int vocab;
    const float *head_weight, *head_bias;
    float *logits;
};

struct stepper_pool {
    int threads;
    pthread_t ids[MAX_THREADS];
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int generation;  /* bumped for each step to run (under lock, read atomically) */
    int finished;    /* workers done with the current generation */
    int arrived, sense; /* the spin barrier */
    int quit;
    const struct stack_step *job;
};

#define SPIN_NANOSECONDS 200000 /* how long an idle worker waits awake for the next step */

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* One turn of a busy wait: a pause; after ~50 µs of waiting, a short sleep instead. The
 * waited-for thread may be sharing this core with us (the scheduler sometimes puts both
 * on one core and takes milliseconds to move one); a waiter that keeps spinning there
 * holds the core it needs. */
static void spin_wait(int spins) {
    if (spins < 4096) {
        _mm_pause();
    } else {
        struct timespec pause = {0, 20000};
        nanosleep(&pause, NULL);
    }
}

static void pool_barrier(struct stepper_pool *pool, int *local_sense) {
    *local_sense = !*local_sense;
    if (__atomic_add_fetch(&pool->arrived, 1, __ATOMIC_ACQ_REL) == pool->threads) {
        __atomic_store_n(&pool->arrived, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&pool->sense, *local_sense, __ATOMIC_RELEASE);
    } else {
        for (int spins = 1; __atomic_load_n(&pool->sense, __ATOMIC_ACQUIRE) != *local_sense; spins++)
            spin_wait(spins);
    }
}

/* One step of a stack of LSTM layers for one row, the share of thread j: unit blocks
 * [first, last). Layer 0's pre-activations start from first_input (W_ih x + b, looked up
 * or computed by the caller), layer l >= 1's from biases[l] + input_weights[l - 1] h_{l-1}.
 * The weights are (layers, H / 16, H, 64) slabs as in forward. h and c (layers, H) are
 * the state, updated in place; scratch (5H) holds a layer's gates until every thread is
 * done reading the old h. */
AVX512_FN void stack_step_share(const struct stack_step *q, struct stepper_pool *pool, int j,
                                int *local_sense) {
    const int hidden = q->hidden, blocks = hidden / UNITS, gate_stride = 4 * hidden;
    const int active = q->active, share = j < active ? j : active;
    const int first = (int)((int64_t)blocks * share / active);
    const int last = (int)((int64_t)blocks * (j < active ? j + 1 : active) / active);
    const size_t weight_size = (size_t)hidden * gate_stride, slab = (size_t)hidden * TILE;
    for (int l = 0; l < q->layers; l++) {
        const float *init = l == 0 ? q->first_input : q->biases + (size_t)l * gate_stride;
        const float *h_prev = q->h + (size_t)l * hidden;
        float *cell = q->c + (size_t)l * hidden;
        for (int b = first; b < last; b++) {
            float *a = q->scratch + b * UNITS;
            for (int g = 0; g < 4; g++)
                memcpy(a + g * hidden, init + g * hidden + b * UNITS, UNITS * sizeof(float));
            if (l > 0)
                add_product_tile(1, hidden, q->h + (size_t)(l - 1) * hidden, 0,
                                 q->input_weights + (l - 1) * weight_size + b * slab, a, 0, hidden);
            add_product_tile(1, hidden, h_prev, 0, q->weights + l * weight_size + b * slab, a, 0,
                             hidden);
        }
        /* every thread has read h_{t-1} of this layer: the new states can replace it */
        pool_barrier(pool, local_sense);
        for (int b = first; b < last; b++)
            cell_update(1, 0, hidden, q->scratch + b * UNITS, cell + b * UNITS, cell + b * UNITS,
                        q->h + (size_t)l * hidden + b * UNITS, q->scratch + 4 * hidden + b * UNITS);
        /* the next layer reads all of this layer's new h */
        pool_barrier(pool, local_sense);
    }
    if (q->head_weight) {
        /* each thread its share of the vocabulary: one dot product of length H per row */
        const int v_first = (int)((int64_t)q->vocab * share / active);
        const int v_last = (int)((int64_t)q->vocab * (j < active ? j + 1 : active) / active);
        const float *top = q->h + (size_t)(q->layers - 1) * hidden;
        for (int v = v_first; v < v_last; v++) {
            const float *w = q->head_weight + (size_t)v * hidden;
            __m512 sum = _mm512_setzero_ps();
            for (int k = 0; k < hidden; k += UNITS)
                sum = _mm512_fmadd_ps(_mm512_loadu_ps(w + k), _mm512_loadu_ps(top + k), sum);
            q->logits[v] = _mm512_reduce_add_ps(sum) + q->head_bias[v];
        }
    }
}

struct worker_start {
    struct stepper_pool *pool;
    int j;
};

static void *stepper_worker(void *arg) {
    struct worker_start *start = arg;
    struct stepper_pool *pool = start->pool;
    const int j = start->j;
    free(start);
    int seen = 0, local_sense = 0;
    for (;;) {
        int64_t spin_until = now_ns() + SPIN_NANOSECONDS;
        int spins = 0;
        while (__atomic_load_n(&pool->generation, __ATOMIC_ACQUIRE) == seen) {
            _mm_pause();
            if (++spins % 256 == 0 && now_ns() > spin_until) {
                pthread_mutex_lock(&pool->lock);
                while (pool->generation == seen && !pool->quit)
                    pthread_cond_wait(&pool->wake, &pool->lock);
                pthread_mutex_unlock(&pool->lock);
                break;
            }
        }
        if (__atomic_load_n(&pool->quit, __ATOMIC_ACQUIRE)) return NULL;
        seen = __atomic_load_n(&pool->generation, __ATOMIC_ACQUIRE);
        stack_step_share(pool->job, pool, j, &local_sense);
        __atomic_add_fetch(&pool->finished, 1, __ATOMIC_ACQ_REL);
    }
}

/* out (rows, 4H) = x (rows, K) W^T + bias, W as (H / 16, K, 64) slabs: the input
 * side of a stepper's first layer for every token, made here rather than with NumPy so
 * that no BLAS thread pool is woken (its workers would then spin for a while on the cores
 * the stepper's threads need). */
AVX512_FN void project_rows_avx512(int rows, int input_size, int hidden, const float *x,
                                   const float *slabs, const float *bias, float *out) {
    for (int r = 0; r < rows; r++) {
        float *row = out + (size_t)r * 4 * hidden;
        memcpy(row, bias, 4 * hidden * sizeof(float));
        for (int b = 0; b < hidden / UNITS; b++)
            add_product_tile(1, input_size, x + (size_t)r * input_size, 0,
                             slabs + (size_t)b * input_size * TILE, row + b * UNITS, 0, hidden);
    }
}

/* ---- entry points (called through ctypes) ------------------------------------------ */

void rnnkit_project_rows(int rows, int input_size, int hidden, const float *x,
                         const float *slabs, const float *bias, float *out) {
    project_rows_avx512(rows, input_size, hidden, x, slabs, bias, out);
}

void *rnnkit_stepper_pool_new(int threads) {
    struct stepper_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->threads = 1;
    for (int j = 1; j < threads; j++) {
        struct worker_start *start = malloc(sizeof *start);
        if (!start) break;
        *start = (struct worker_start){pool, j};
        if (pthread_create(&pool->ids[j], NULL, stepper_worker, start) != 0) {
            free(start);
            break;
        }
        pool->threads++;
    }
    return pool;
}

void rnnkit_stepper_pool_free(void *handle) {
    struct stepper_pool *pool = handle;
    pthread_mutex_lock(&pool->lock);
    __atomic_store_n(&pool->quit, 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&pool->generation, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int j = 1; j < pool->threads; j++) pthread_join(pool->ids[j], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    free(pool);
}

/* One step of the stack; see stack_step_share. The caller's thread takes share 0. */
void rnnkit_lstm_stack_step(void *handle, int active, int layers, int hidden,
                            const float *first_input, const float *biases,
                            const float *input_weights, const float *weights, float *h, float *c,
                            float *scratch, int vocab, const float *head_weight,
                            const float *head_bias, float *logits) {
    struct stepper_pool *pool = handle;
    if (active > pool->threads) active = pool->threads;
    if (active < 1) active = 1;
    struct stack_step q = {active, layers, hidden, first_input, biases, input_weights, weights,
                           h, c, scratch, vocab, head_weight, head_bias, logits};
    /* between steps every thread's barrier sense equals the pool's */
    int local_sense = pool->sense;
    pool->job = &q;
    __atomic_store_n(&pool->finished, 0, __ATOMIC_RELAXED);
    pthread_mutex_lock(&pool->lock);
    __atomic_add_fetch(&pool->generation, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    stack_step_share(&q, pool, 0, &local_sense);
    for (int spins = 1; __atomic_load_n(&pool->finished, __ATOMIC_ACQUIRE) < pool->threads - 1; spins++)
        spin_wait(spins);
}

/* The version of these entry points' arguments and data layout: lstm_fused.py refuses a
 * build whose number differs from its own (a stale build from an older checkout). */
int rnnkit_lstm_abi(void) { return 3; }

/* How many chunks split_rows makes of `rows` rows on `threads` threads (the caller sizes
 * grad_table by it). */
int rnnkit_lstm_chunks(int rows, int threads) {
    const int chunk_rows = chunk_rows_for(rows, threads);
    return (rows + chunk_rows - 1) / chunk_rows;
}

int rnnkit_lstm_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
}

void rnnkit_lstm_forward(int steps, int batch, int hidden, float *gates, const float *weight,
                         float *hidden_states, float *cells, float *tanh_cell,
                         const int64_t *batch_sizes, int reverse, const int64_t *ids,
                         const float *table, int threads) {
    struct sequence q = {.steps = steps, .batch = batch, .hidden = hidden, .reverse = reverse,
                         .batch_sizes = batch_sizes, .gates = gates, .weight = weight,
                         .hidden_states = hidden_states, .cells = cells, .tanh_cell = tanh_cell,
                         .ids = ids, .table = table};
    split_rows(forward_rows_range, &q, batch, threads);
}

void rnnkit_lstm_backward(int steps, int batch, int hidden, float *gates, const float *cells,
                          float *tanh_cell, const float *grad_output, const float *weight,
                          float *dh, float *dc, float *grad_gates, const int64_t *batch_sizes,
                          int reverse, const int64_t *ids, float *grad_table, int vocab,
                          int threads) {
    struct sequence q = {.steps = steps, .batch = batch, .hidden = hidden, .reverse = reverse,
                         .batch_sizes = batch_sizes, .gates = gates, .weight = weight,
                         .cells = (float *)cells, .tanh_cell = tanh_cell,
                         .grad_output = grad_output, .dh = dh, .dc = dc, .grad_gates = grad_gates,
                         .ids = ids, .grad_table = grad_table, .vocab = vocab};
    split_rows(backward_rows_range, &q, batch, threads);
}

/* An importable module, so that Python can find this file; the functions above are
 * reached through ctypes. */
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, .m_name = "_lstm_fused", .m_size = -1};

PyMODINIT_FUNC PyInit__lstm_fused(void) { return PyModule_Create(&module); }
