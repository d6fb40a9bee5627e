/* The time loops built for AVX-512 (zmm vectors of 16 floats, 32 registers: 6 x 4 tiles).
 * Only on x86-64 (GCC or clang); _rnnkit.c runs them where the CPU has the instructions. */
#include "_rnnkit.h"
#if RNNKIT_X86
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,fma")
#endif
#define ISA avx512
#define VECTOR_BYTES 64
#define TILE_VECTORS 4
#include "_loops.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
