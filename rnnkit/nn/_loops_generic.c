/* The time loops built for the compiler's baseline target: 16-byte vectors, SSE2 on
 * x86-64, NEON on ARM64 (32 registers there: 6 x 4 tiles; 16 on x86: 6 x 2). Runs on
 * every CPU. */
#define ISA generic
#define VECTOR_BYTES 16
#if defined(__aarch64__)
#define TILE_VECTORS 4
#else
#define TILE_VECTORS 2
#endif
#include "_loops.h"
