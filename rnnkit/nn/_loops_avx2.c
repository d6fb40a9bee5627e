/* The time loops built for AVX2 + FMA (ymm vectors of 8 floats, 16 registers: 6 x 2 tiles).
 * Only on x86-64 (GCC or clang); _rnnkit.c runs them where the CPU has the instructions. */
#include "_rnnkit.h"
#if RNNKIT_X86
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif
#define ISA avx2
#define VECTOR_BYTES 32
#define TILE_VECTORS 2
#include "_loops.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
