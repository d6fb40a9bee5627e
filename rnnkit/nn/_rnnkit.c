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
 *   forward:  acc[r][gate q of block b] = xproj + sum_k h_{t-1}[r, k] slab_b[k, 16 q + u]
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

static size_t describe(char *text, size_t room, const char *name, size_t size,
                       const struct field *fields, size_t count) {
    size_t used = (size_t)snprintf(text, room, "%s %zu", name, size);
    for (size_t i = 0; i < count && used < room; i++)
        used += (size_t)snprintf(text + used, room - used, " %s %zu", fields[i].name,
                                 fields[i].offset);
    return used;
}

const char *rnnkit_layout(void) {
    static char text[2048];
    size_t used = describe(text, sizeof text, "rnnkit_sequence", sizeof(struct rnnkit_sequence),
                           sequence_fields, sizeof sequence_fields / sizeof *sequence_fields);
    if (used < sizeof text)
        used += (size_t)snprintf(text + used, sizeof text - used, "; ");
    if (used < sizeof text)
        used += describe(text + used, sizeof text - used, "rnnkit_stack",
                         sizeof(struct rnnkit_stack), stack_fields,
                         sizeof stack_fields / sizeof *stack_fields);
    if (used < sizeof text)
        used += (size_t)snprintf(text + used, sizeof text - used, "; ");
    if (used < sizeof text)
        describe(text + used, sizeof text - used, "rnnkit_adam", sizeof(struct rnnkit_adam),
                 adam_fields, sizeof adam_fields / sizeof *adam_fields);
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
        cpu_pause();
    } else {
        struct timespec pause = {0, 20000};
        nanosleep(&pause, NULL);
    }
}

void rnnkit_pool_barrier(void *handle, int *local_sense) {
    struct stepper_pool *pool = handle;
    if (!pool) return; /* a step on the caller's thread alone */
    *local_sense = !*local_sense;
    if (__atomic_add_fetch(&pool->arrived, 1, __ATOMIC_ACQ_REL) == pool->threads) {
        __atomic_store_n(&pool->arrived, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&pool->sense, *local_sense, __ATOMIC_RELEASE);
    } else {
        for (int spins = 1; __atomic_load_n(&pool->sense, __ATOMIC_ACQUIRE) != *local_sense; spins++)
            spin_wait(spins);
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
    if (!pool || q->active <= 1) {
        /* one share: the caller alone, no barriers, and no worker to wake (a sleeping one
         * takes tens of microseconds to come, more on a busy machine) */
        int unused = 0;
        q->active = 1;
        active->stack_share(q, NULL, 0, &unused);
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
    for (int spins = 1; __atomic_load_n(&pool->finished, __ATOMIC_ACQUIRE) < pool->threads - 1; spins++)
        spin_wait(spins);
}

/* out (rows, G H) = x (rows, K) W^T + bias, W as forward slabs: the input side of a
 * stepper's first layer for every token, made here rather than with NumPy so that no BLAS
 * thread pool is woken (its workers would then spin on the cores the stepper needs). */
void rnnkit_project_rows(int cell, int rows, int input_size, int hidden, const float *x,
                         const float *slabs, const float *bias, float *out) {
    active->project_rows(cell, rows, input_size, hidden, x, slabs, bias, out);
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
