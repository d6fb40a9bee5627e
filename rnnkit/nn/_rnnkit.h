/* What the C time loops share between their per-instruction-set builds and their entry
 * points: the argument structs (mirrored field for field by ctypes Structures in
 * c_binding.py, which checks every offset against rnnkit_layout() at load) and the table of
 * one build's loops. */
#ifndef RNNKIT_H
#define RNNKIT_H

#include <stddef.h>
#include <stdint.h>

/* x86-64 builds carry AVX-512 and AVX2 loops besides the generic ones; -DRNNKIT_X86=0 builds
 * the generic ones alone, as on other machines (tests/nn/test_portable_loops.py does) */
#ifndef RNNKIT_X86
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RNNKIT_X86 1
#else
#define RNNKIT_X86 0
#endif
#endif

#define UNITS 16 /* hidden units per block: every weight slab and tile is in blocks of 16 */
#define ROWS 6   /* batch rows per register tile */

enum rnnkit_cell { RNNKIT_RNN_TANH = 0, RNNKIT_RNN_RELU = 1, RNNKIT_LSTM = 2, RNNKIT_GRU = 3 };

static inline int rnnkit_gate_count(int cell) {
    return cell == RNNKIT_LSTM ? 4 : cell == RNNKIT_GRU ? 3 : 1;
}

/* One direction of one layer over a sequence. T steps, B rows, H hidden units, G gates.
 *
 * gates (T, B, G H): in, the input projection W_ih x + b (for the GRU b_ih + [b_hr, b_hz, 0]);
 *   out, the activations (LSTM i, f, g, o; GRU r, z, n; RNN the pre-activations).
 * weight: forward, (H / 16, G, H, 16) slabs, slab[b, q, k, u] = W_hh^T[k, gate q of unit
 *   16 b + u]; backward, (H / 16, G H, 16): W_hh's columns, 16 per slab.
 * hidden_states, cells (T + 1, B, H): the state buffers of sequence_ops.py, entry
 *   [reverse ? T : 0] holding the initial state; cells NULL but for the LSTM.
 * aux (T, B, H): the LSTM's tanh(c_t), the GRU's m = W_hn h_{t-1} + b_hn.
 * backward: grad_output (T, B, H); dh, dc (B, H) in, the final state's gradient, out, the
 *   initial state's; grad_gates (T, B, G H) out, the input-side pre-activation gradients
 *   (zero for rows past their length); grad_hidden_gates the GRU's hidden side (else NULL).
 * ids (T, B) token ids: gates start from rows of table (V, G H); backward adds each row's
 *   input-side gradients into its chunk's (V, G H) slice of grad_table (chunks, V, G H). */
struct rnnkit_sequence {
    int32_t cell, steps, batch, hidden, reverse, vocab, threads, pad;
    const int64_t *batch_sizes; /* NULL, or the rows running at each step (rows sorted) */
    float *gates;
    const float *weight;
    const float *hidden_bias; /* the GRU's b_hn (H), or NULL */
    float *hidden_states, *cells, *aux;
    const float *grad_output;
    float *dh, *dc, *grad_gates, *grad_hidden_gates;
    const int64_t *ids;
    const float *table;
    float *grad_table;
};

/* One step of a one-direction stack for one row. layers L, H hidden units, G gates.
 * first_input (G H): layer 0's W_ih x + b; or, if first_input is NULL, x (input_size) and
 * first_weights (H / 16, G, input_size, 16), layer 0's W_ih as forward slabs, from which the
 * step computes it (with biases[0]). biases (L, G H): layer l's input-side bias (row
 * 0 only with x). hidden_biases (L, H): the GRU's b_hn, or NULL. input_weights (L - 1, H / 16,
 * G, H, 16) and weights (L, H / 16, G, H, 16): forward slabs of W_ih (layers >= 1) and W_hh.
 * h, c (L, H): the state, updated in place (c NULL but for the LSTM). scratch (2 G H + H).
 * head (optional): logits (V) = head_weight (V, H) h_top + head_bias. */
struct rnnkit_stack {
    int32_t cell, active, layers, hidden, vocab, input_size;
    const float *first_input, *x, *first_weights, *biases, *hidden_biases, *input_weights, *weights;
    float *h, *c, *scratch;
    const float *head_weight, *head_bias;
    float *logits;
};

/* One Adam or AdamW step of one float32 parameter of `count` values, in one pass (see
 * rnnkit/optim/adam.py for the equations). The coefficients come computed in double by the
 * caller (1 - 0.999 in float32 is off by 1e-5):
 *   p *= shrink (AdamW: 1 - lr wd, else 1);  g = g + l2 p (Adam: wd, else 0)
 *   m += (1 - b1) (g - m),  v = b2 v + (1 - b2) g^2,  p -= step_size m / (sqrt(v) / bc2 + eps)
 * with step_size = lr / (1 - b1^t) and bc2 = sqrt(1 - b2^t). */
struct rnnkit_adam {
    int64_t count;
    float *param;
    const float *grad;
    float *exp_avg, *exp_avg_sq;
    float shrink, l2, one_minus_beta1, beta2, one_minus_beta2, eps, step_size;
    float bias_correction2_sqrt;
};

/* c (m, n) = a (m, k) b (k, n) (+ c if beta is 1), row-major with leading dimensions lda,
 * ldb, ldc; a (b) stored transposed if trans_a (trans_b), i.e. as a (k, m) array. Split
 * by rows of c, or by its columns if by_columns (see rnnkit_gemm in _rnnkit.c). */
struct rnnkit_gemm {
    int32_t trans_a, trans_b, by_columns, threads;
    int64_t m, n, k, lda, ldb, ldc;
    float beta, pad;
    const float *a, *b;
    float *c;
};

/* One instruction set's loops (see _loops.h). */
struct rnnkit_kernels {
    void (*forward_rows)(const void *sequence, int first, int last, int chunk);
    void (*backward_rows)(const void *sequence, int first, int last, int chunk);
    void (*stack_share)(const struct rnnkit_stack *stack, void *pool, int j, int *sense);
    void (*project_rows)(int cell, int rows, int input_size, int hidden, const float *x,
                         const float *slabs, const float *bias, float *out);
    void (*adam)(const struct rnnkit_adam *step);
    double (*fma_peak)(int64_t rounds);
};

/* The stepper pool's barrier (in _rnnkit.c), met by every thread of a stack step. */
void rnnkit_pool_barrier(void *pool, int *local_sense);

#endif
