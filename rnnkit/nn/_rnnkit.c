/* The recurrent time loops in C: threads, run-time choice of instruction set, entry points.
 *
 * The arithmetic is in _loops.h, built three times: for AVX-512, for AVX2 + FMA (both on
 * x86-64 only) and for the compiler's baseline (SSE2, or NEON on ARM64). At load, the
 * best build this CPU runs is chosen (rnnkit_select_kernel changes it: c_binding.py does,
 * for RNNKIT_KERNEL and for the tests). Entry points take one argument struct each
 * (_rnnkit.h), mirrored in c_binding.py and checked there against rnnkit_layout().
 *
 * What the loops do (the equations of lstm_kernel.py, gru_kernel.py, rnn_kernel.py):
 * each step's recurrent product is computed in register tiles and the cell's
 * nonlinearities and state update are applied to the tile while it is in L1, so a step
 * is one pass over the recurrent weight and no intermediate arrays.
 *
 *   forward:  acc[r][gate q of block b] = xproj + sum_k h_{t-1}[r, k] slab_b[q, k, u]
 *             then the cell update of those units (everything a unit needs is in the tile)
 *   backward: the gate gradients of a row from dh_t (dc_t) and the cached activations,
 *             dh_{t-1} = (GRU: dh_t z +) sum_k da[t, r, k] W_hh[k, units]
 *
 * Threads. Training: the rows of a batch are independent, so threads take chunks of rows
 * and run the whole sequence for them, never waiting for each other (split_rows).
 * Sampling (one row): threads own ranges of unit blocks and meet at a barrier between
 * layers (stack_share in _loops.h). Each weight slab is laid out contiguously, so a tile
 * reads its weights as one stream and they stay in the core's cache from step to step.
 *
 * sigmoid and tanh come from a polynomial exp accurate to about a float32 ulp
 * (tests/nn/test_c_loops.py holds every build to the float64 NumPy kernels).
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE /* sched_getcpu, pthread_attr_setaffinity_np (Linux) */
#include <Python.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "_rnnkit.h"

/* ---- the builds, and the one in use ------------------------------------------------- */

enum { KERNEL_GENERIC = 0, KERNEL_AVX2 = 1, KERNEL_AVX512 = 2, KERNEL_COUNT = 3 };

extern const struct rnnkit_kernels rnnkit_kernels_generic;
#if RNNKIT_X86
extern const struct rnnkit_kernels rnnkit_kernels_avx2, rnnkit_kernels_avx512;
#endif

static const struct rnnkit_kernels *build(int kernel) {
    switch (kernel) {
    case KERNEL_GENERIC: return &rnnkit_kernels_generic;
#if RNNKIT_X86
    case KERNEL_AVX2: return &rnnkit_kernels_avx2;
    case KERNEL_AVX512: return &rnnkit_kernels_avx512;
#endif
    default: return NULL;
    }
}

/* Whether this library holds a build of `kernel` (0 generic, 1 AVX2, 2 AVX-512). */
int rnnkit_kernel_built(int kernel) { return build(kernel) != NULL; }

/* Whether this CPU (and its OS) runs `kernel`'s instructions. */
int rnnkit_kernel_supported(int kernel) {
#if RNNKIT_X86
    __builtin_cpu_init();
    switch (kernel) {
    case KERNEL_GENERIC: return 1;
    case KERNEL_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case KERNEL_AVX512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
    default: return 0;
    }
#else
    return kernel == KERNEL_GENERIC;
#endif
}

static const struct rnnkit_kernels *active = &rnnkit_kernels_generic;
static int active_id = KERNEL_GENERIC;

/* Use `kernel` from now on; 0 on success, -1 if it is not built or the CPU lacks it. Call
 * it while no loop runs (c_binding.py holds a lock). */
int rnnkit_select_kernel(int kernel) {
    if (!rnnkit_kernel_built(kernel) || !rnnkit_kernel_supported(kernel)) return -1;
    active = build(kernel);
    active_id = kernel;
    return 0;
}

int rnnkit_selected_kernel(void) { return active_id; }

/* The best build this CPU runs. */
int rnnkit_best_kernel(void) {
    for (int kernel = KERNEL_COUNT - 1; kernel > 0; kernel--)
        if (rnnkit_kernel_built(kernel) && rnnkit_kernel_supported(kernel)) return kernel;
    return KERNEL_GENERIC;
}

/* "name size field offset field offset ...; name size ..." for the argument structs, for
 * c_binding.py to check its mirrors against (a stale build from other sources is refused
 * rather than misread). */
struct field {
    const char *name;
    size_t offset;
};
#define SEQUENCE(f) {#f, offsetof(struct rnnkit_sequence, f)}
#define STACK(f) {#f, offsetof(struct rnnkit_stack, f)}
#define ADAM(f) {#f, offsetof(struct rnnkit_adam, f)}
#define GEMM(f) {#f, offsetof(struct rnnkit_gemm, f)}
static const struct field sequence_fields[] = {
    SEQUENCE(cell), SEQUENCE(steps), SEQUENCE(batch), SEQUENCE(hidden), SEQUENCE(reverse),
    SEQUENCE(vocab), SEQUENCE(threads), SEQUENCE(batch_sizes), SEQUENCE(gates),
    SEQUENCE(weight), SEQUENCE(hidden_bias), SEQUENCE(hidden_states), SEQUENCE(cells),
    SEQUENCE(aux), SEQUENCE(grad_output), SEQUENCE(dh), SEQUENCE(dc), SEQUENCE(grad_gates),
    SEQUENCE(grad_hidden_gates), SEQUENCE(ids), SEQUENCE(table), SEQUENCE(grad_table)};
static const struct field stack_fields[] = {
    STACK(cell), STACK(active), STACK(layers), STACK(hidden), STACK(vocab), STACK(input_size),
    STACK(first_input), STACK(x), STACK(first_weights),
    STACK(biases), STACK(hidden_biases), STACK(input_weights), STACK(weights), STACK(h),
    STACK(c), STACK(scratch), STACK(head_weight), STACK(head_bias), STACK(logits)};
static const struct field adam_fields[] = {
    ADAM(count), ADAM(param), ADAM(grad), ADAM(exp_avg), ADAM(exp_avg_sq), ADAM(shrink),
    ADAM(l2), ADAM(one_minus_beta1), ADAM(beta2), ADAM(one_minus_beta2), ADAM(eps),
    ADAM(step_size), ADAM(bias_correction2_sqrt)};
static const struct field gemm_fields[] = {
    GEMM(trans_a), GEMM(trans_b), GEMM(by_columns), GEMM(threads), GEMM(m), GEMM(n), GEMM(k),
    GEMM(lda), GEMM(ldb), GEMM(ldc), GEMM(beta), GEMM(a), GEMM(b), GEMM(c)};

static size_t describe(char *text, size_t room, const char *name, size_t size,
                       const struct field *fields, size_t count) {
    size_t used = (size_t)snprintf(text, room, "%s %zu", name, size);
    for (size_t i = 0; i < count && used < room; i++)
        used += (size_t)snprintf(text + used, room - used, " %s %zu", fields[i].name,
                                 fields[i].offset);
    return used;
}

/* The argument structs in the order rnnkit_layout describes them. */
#define COUNT(fields) (sizeof fields / sizeof *fields)
static const struct {
    const char *name;
    size_t size;
    const struct field *fields;
    size_t count;
} structs[] = {
    {"rnnkit_sequence", sizeof(struct rnnkit_sequence), sequence_fields, COUNT(sequence_fields)},
    {"rnnkit_stack", sizeof(struct rnnkit_stack), stack_fields, COUNT(stack_fields)},
    {"rnnkit_adam", sizeof(struct rnnkit_adam), adam_fields, COUNT(adam_fields)},
    {"rnnkit_gemm", sizeof(struct rnnkit_gemm), gemm_fields, COUNT(gemm_fields)},
};

const char *rnnkit_layout(void) {
    static char text[4096];
    size_t used = 0;
    for (size_t s = 0; s < COUNT(structs) && used < sizeof text; s++) {
        if (s) used += (size_t)snprintf(text + used, sizeof text - used, "; ");
        if (used < sizeof text)
            used += describe(text + used, sizeof text - used, structs[s].name, structs[s].size,
                             structs[s].fields, structs[s].count);
    }
    return text;
}

/* A pause in a busy wait. */
static inline void cpu_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
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

/* Rows per chunk. The rows go in two equal chunks per thread, small enough to even out a
 * slowed thread, if each chunk still holds two full register tiles (2 ROWS rows); else in
 * one chunk per thread: fewer passes over the weights, and no tiles of 4 rows or less,
 * whose few FMA chains wait on the latency (a layer at config B, 1 thread, in chunks of 8
 * rows: forward 10% slower than in chunks of 16). The tiles of a chunk are of nearly
 * equal size (tile_rows in _loops.h), so a chunk need not be whole tiles: 32 rows on 2
 * threads go in 2 chunks of 16 (tiles 6, 5, 5), not 12 + 12 + 8, which left one thread 20
 * rows and the other 12; 64 rows in 4 chunks of 16, not 18 + 18 + 18 + 10. */
static int chunk_rows_for(int rows, int threads) {
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (rows < 1) return 1;
    if (threads <= 1) return rows;
    const int two_per_thread = (rows + 2 * threads - 1) / (2 * threads);
    const int chunk_rows =
        two_per_thread >= 2 * ROWS ? two_per_thread : (rows + threads - 1) / threads;
    const int least = rows < ROWS ? rows : ROWS; /* one tile at least */
    return chunk_rows > least ? chunk_rows : least;
}

/* task(args, first, last, chunk) over the row ranges (chunks of chunk_rows) of [0, rows),
 * on `threads` threads. The chunks and their numbers do not depend on which thread runs
 * them, so a result summed per chunk is the same from run to run. */
static void split_chunks(rows_task task, const void *args, int rows, int threads,
                         int chunk_rows) {
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    struct share shares[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    int next_chunk = 0;
    for (int j = 0; j < threads; j++)
        shares[j] = (struct share){task, args, rows, &next_chunk, chunk_rows};
    /* Start each helper on a core of its own, not the caller's: the scheduler would often
     * put it beside the caller (the other core looks busy while a BLAS worker spins on it,
     * yielding) and take milliseconds to move it. (Linux only.) */
#if defined(__linux__)
    cpu_set_t allowed;
    const int caller_cpu = sched_getcpu();
    const int pin = sched_getaffinity(0, sizeof allowed, &allowed) == 0 && caller_cpu >= 0;
    int cpu = caller_cpu; /* helpers go to the allowed CPUs after the caller's, in turn */
#endif
    for (int j = 1; j < threads; j++) {
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
#if defined(__linux__)
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
#endif
        started[j] = pthread_create(&ids[j], &attributes, run_share, &shares[j]) == 0;
        pthread_attr_destroy(&attributes);
    }
    run_share(&shares[0]); /* a thread that could not start leaves its chunks to this one */
    for (int j = 1; j < threads; j++)
        if (started[j]) pthread_join(ids[j], NULL);
}

static void split_rows(rows_task task, const void *args, int rows, int threads) {
    split_chunks(task, args, rows, threads, chunk_rows_for(rows, threads));
}

/* ---- batch-1 steps (sampling) ------------------------------------------------------ */

/* A batch of one row cannot be split by rows, and a step reads every weight once: at the
 * sizes of a character model (a few MB of weights) the step is bound by reading them
 * from memory. So the stepper splits the hidden units between threads instead: each
 * thread owns a range of unit blocks for every step and reads only its share of the
 * weights, which then stays in its own core's cache between steps. Steps come every few
 * tens of microseconds, too often to start threads for each, so the stepper keeps
 * workers that spin briefly between steps and sleep once the caller stops stepping. */

struct stepper_pool {
    int threads;
    pthread_t ids[MAX_THREADS];
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int generation;  /* bumped for each step to run (under lock, read atomically) */
    int finished;    /* workers done with the current generation */
    int arrived, sense; /* the spin barrier */
    int quit;
    const struct rnnkit_stack *job;
    int stalled;        /* a thread of this step waited longer than STALL_NANOSECONDS */
    int64_t solo_until; /* until then (now_ns), steps run on the caller's thread alone */
    int64_t solo_steps; /* steps that ran on the caller alone so far (for tests) */
};

#define SPIN_NANOSECONDS 200000 /* how long an idle worker waits awake for the next step */

/* A thread that shares its core with a thread of another program (or a BLAS or OpenMP
 * worker spinning after its own work) runs in turns of milliseconds: every step that needs
 * it then waits for its turn, and two threads step ten times slower than one (2 x 256
 * LSTM: 500 µs against 60). A wait at a barrier that long (a share takes microseconds; a
 * sleeping worker wakes in tens) means that, and the stepper then steps alone for a while
 * before trying both threads again: one stall per SOLO_NANOSECONDS at worst. */
#define STALL_NANOSECONDS 250000
#define SOLO_NANOSECONDS 50000000

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
        cpu_pause();
    } else {
        struct timespec pause = {0, 20000};
        nanosleep(&pause, NULL);
    }
}

/* One turn of a thread's wait inside a step (spin_wait), which now and then reads the
 * clock: the first reading notes when the wait began (`started`), a later one past
 * STALL_NANOSECONDS marks the step stalled. */
static void wait_turn(struct stepper_pool *pool, int spins, int64_t *started) {
    spin_wait(spins);
    if (spins % 256 != 0 && spins <= 4096) return; /* the clock only now and then */
    const int64_t now = now_ns();
    if (!*started)
        *started = now;
    else if (now - *started > STALL_NANOSECONDS)
        __atomic_store_n(&pool->stalled, 1, __ATOMIC_RELAXED);
}

void rnnkit_pool_barrier(void *handle, int *local_sense) {
    struct stepper_pool *pool = handle;
    if (!pool) return; /* a step on the caller's thread alone */
    *local_sense = !*local_sense;
    if (__atomic_add_fetch(&pool->arrived, 1, __ATOMIC_ACQ_REL) == pool->threads) {
        __atomic_store_n(&pool->arrived, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&pool->sense, *local_sense, __ATOMIC_RELEASE);
    } else {
        int64_t started = 0;
        for (int spins = 1; __atomic_load_n(&pool->sense, __ATOMIC_ACQUIRE) != *local_sense; spins++)
            wait_turn(pool, spins, &started);
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
            cpu_pause();
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
        active->stack_share(pool->job, pool, j, &local_sense);
        __atomic_add_fetch(&pool->finished, 1, __ATOMIC_ACQ_REL);
    }
}

/* Steps run on the caller's thread alone for the next `nanoseconds`, as after a stall
 * (tests take that path with it; 0 ends it). Returns how many steps have run alone. */
int64_t rnnkit_stepper_pool_step_alone(void *handle, int64_t nanoseconds) {
    struct stepper_pool *pool = handle;
    if (nanoseconds >= 0) pool->solo_until = nanoseconds > 0 ? now_ns() + nanoseconds : 0;
    return pool->solo_steps;
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

/* One step of a stack (see stack_share in _loops.h). The caller's thread takes share 0;
 * with one share (or no pool) it takes the whole step alone. */
void rnnkit_stack_step(void *handle, struct rnnkit_stack *q) {
    struct stepper_pool *pool = handle;
    if (!pool || q->active <= 1 || now_ns() < pool->solo_until) {
        /* one share: the caller alone, no barriers, and no worker to wake (a sleeping one
         * takes tens of microseconds to come, more on a busy machine) */
        int unused = 0;
        if (pool && q->active > 1) pool->solo_steps++;
        const int shares = q->active;
        q->active = 1;
        active->stack_share(q, NULL, 0, &unused);
        q->active = shares;
        return;
    }
    if (q->active > pool->threads) q->active = pool->threads;
    /* between steps every thread's barrier sense equals the pool's */
    int local_sense = pool->sense;
    pool->job = q;
    __atomic_store_n(&pool->finished, 0, __ATOMIC_RELAXED);
    pthread_mutex_lock(&pool->lock);
    __atomic_add_fetch(&pool->generation, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    active->stack_share(q, pool, 0, &local_sense);
    int64_t started = 0;
    for (int spins = 1; __atomic_load_n(&pool->finished, __ATOMIC_ACQUIRE) < pool->threads - 1; spins++)
        wait_turn(pool, spins, &started);
    if (__atomic_load_n(&pool->stalled, __ATOMIC_RELAXED)) {
        __atomic_store_n(&pool->stalled, 0, __ATOMIC_RELAXED);
        pool->solo_until = now_ns() + SOLO_NANOSECONDS;
    }
}

/* out (rows, G H) = x (rows, K) W^T + bias, W as forward slabs: the input side of a
 * stepper's first layer for every token, made here rather than with NumPy so that no BLAS
 * thread pool is woken (its workers would then spin on the cores the stepper needs). */
void rnnkit_project_rows(int cell, int rows, int input_size, int hidden, const float *x,
                         const float *slabs, const float *bias, float *out) {
    active->project_rows(cell, rows, input_size, hidden, x, slabs, bias, out);
}

/* ---- matrix products through the BLAS, on these threads ---------------------------- */

/* NumPy's OpenBLAS runs a product on its own pool of threads, whose idle workers then spin
 * for about 2^28 cycles (OpenBLAS's THREAD_TIMEOUT; ~0.1 s) on the other cores, with no
 * yield on x86-64. A C time loop started in that window shares a core with a spinning
 * worker: with 2 cores, the loop's second thread ran at half speed or less (at config A
 * of benchmarks/speed.py, rnnkit trained slower on 2 threads than on 1). So while the
 * loops run on several threads, the layers' products (input projections, weight
 * gradients, the linear layers) come here instead: OpenBLAS's sgemm on one thread for
 * each of these threads' shares of the rows (or columns) of the result, with OpenBLAS held
 * to one thread meanwhile; its pool is never woken, and nothing spins between the loops.
 * c_binding.py finds the library's sgemm and thread-count functions (rnnkit_use_blas);
 * rnnkit/nn/products.py decides which products come here. */

typedef void (*sgemm_lp64)(int order, int trans_a, int trans_b, int m, int n, int k,
                           float alpha, const float *a, int lda, const float *b, int ldb,
                           float beta, float *c, int ldc);
typedef void (*sgemm_ilp64)(int order, int trans_a, int trans_b, int64_t m, int64_t n,
                            int64_t k, float alpha, const float *a, int64_t lda,
                            const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

static void *blas_sgemm;          /* cblas_sgemm of NumPy's BLAS, or NULL */
static int blas_ilp64;            /* its integers are 64-bit */
static void (*blas_set_threads)(int);
static int (*blas_get_threads)(void);

/* Use `sgemm` (a cblas_sgemm, 64-bit integers if ilp64) for rnnkit_gemm, and the BLAS's
 * thread-count functions (either may be NULL) to hold it to one thread meanwhile. */
void rnnkit_use_blas(void *sgemm, int ilp64, void *set_threads, void *get_threads) {
    blas_sgemm = sgemm;
    blas_ilp64 = ilp64;
    blas_set_threads = (void (*)(int))set_threads;
    blas_get_threads = (int (*)(void))get_threads;
}

enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

static void sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                  float *c, int64_t ldc) {
    const int ta = trans_a ? CBLAS_TRANS : CBLAS_NO_TRANS;
    const int tb = trans_b ? CBLAS_TRANS : CBLAS_NO_TRANS;
    if (blas_ilp64)
        ((sgemm_ilp64)blas_sgemm)(CBLAS_ROW_MAJOR, ta, tb, m, n, k, alpha, a, lda, b, ldb,
                                  beta, c, ldc);
    else
        ((sgemm_lp64)blas_sgemm)(CBLAS_ROW_MAJOR, ta, tb, (int)m, (int)n, (int)k, alpha, a,
                                 (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* One share of a product: the result's rows [first, last) (or, by_columns, its columns). */
static void gemm_share(const void *args, int first, int last, int chunk) {
    const struct rnnkit_gemm *q = args;
    (void)chunk;
    const int64_t count = last - first;
    if (!q->by_columns) {
        const float *a = q->a + (q->trans_a ? (size_t)first : (size_t)first * q->lda);
        sgemm(q->trans_a, q->trans_b, count, q->n, q->k, 1.0f, a, q->lda, q->b, q->ldb, q->beta,
              q->c + (size_t)first * q->ldc, q->ldc);
    } else {
        const float *b = q->b + (q->trans_b ? (size_t)first * q->ldb : (size_t)first);
        sgemm(q->trans_a, q->trans_b, q->m, count, q->k, 1.0f, q->a, q->lda, b, q->ldb, q->beta,
              q->c + first, q->ldc);
    }
}

/* Work below this many multiply-adds per thread is not worth starting a thread for. */
#define GEMM_MIN_SHARE 1000000

/* c = a b (+ c if beta is 1), row-major, by up to q->threads of these threads; 0 done, -1
 * if no BLAS was given (the caller then multiplies itself). */
int rnnkit_gemm(const struct rnnkit_gemm *q) {
    if (!blas_sgemm) return -1;
    const int64_t extent = q->by_columns ? q->n : q->m;
    const double work = (double)q->m * (double)q->n * (double)q->k;
    int threads = q->threads < 1 ? 1 : q->threads;
    if (work < (double)GEMM_MIN_SHARE * threads) threads = (int)(work / GEMM_MIN_SHARE);
    if (threads < 1) threads = 1;
    /* two chunks per thread, in multiples of 16 rows: a thread slowed down takes fewer */
    int64_t chunk = threads == 1 ? extent : (extent + 2 * threads - 1) / (2 * threads);
    chunk = (chunk + 15) / 16 * 16;
    if (chunk < 1) chunk = 1;
    const int held = blas_get_threads && blas_set_threads ? blas_get_threads() : 1;
    if (held > 1) blas_set_threads(1);
    if (threads == 1 || extent > INT32_MAX)
        gemm_share(q, 0, (int)(extent > INT32_MAX ? INT32_MAX : extent), 0);
    else
        split_chunks(gemm_share, q, (int)extent, threads, (int)chunk);
    if (held > 1) blas_set_threads(held);
    return 0;
}

/* How many chunks split_rows makes of `rows` rows on `threads` threads (the caller sizes
 * grad_table by it). */
int rnnkit_chunks(int rows, int threads) {
    const int chunk_rows = chunk_rows_for(rows, threads);
    return (rows + chunk_rows - 1) / chunk_rows;
}

/* FLOPs done by `rounds` rounds of register-only vector FMAs (see fma_peak in _loops.h). */
double rnnkit_fma_peak(int64_t rounds) { return active->fma_peak(rounds); }

/* One Adam(W) step of one float32 parameter (struct rnnkit_adam), on the caller's thread. */
void rnnkit_adam(const struct rnnkit_adam *q) { active->adam(q); }

void rnnkit_forward(const struct rnnkit_sequence *q) {
    split_rows(active->forward_rows, q, q->batch, q->threads);
}

void rnnkit_backward(const struct rnnkit_sequence *q) {
    split_rows(active->backward_rows, q, q->batch, q->threads);
}

/* An importable module, so that Python can find this file; the functions above are
 * reached through ctypes. The best build is chosen when the module is loaded. */
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, .m_name = "_rnnkit", .m_size = -1};

PyMODINIT_FUNC PyInit__rnnkit(void) {
    rnnkit_select_kernel(rnnkit_best_kernel());
    return PyModule_Create(&module);
}
