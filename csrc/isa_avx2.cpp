// AVX2 + FMA kernels (x86-64 only; chosen at run time when the CPU has them but not AVX-512).
#include "isa_api.h"
#if defined(__x86_64__)
#pragma GCC target("avx2,fma")
#define LSTMKIT_ISA avx2
#define LSTMKIT_VBYTES 32
#define LSTMKIT_GEMM_MR 6
#define LSTMKIT_GEMM_TN_MR 6
#define LSTMKIT_GEMM_NR 2
#include "isa_kernels.inc"
#endif
