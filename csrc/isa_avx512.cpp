// AVX-512 kernels (x86-64 only; chosen at run time when the CPU has AVX-512F/VL/DQ/BW).
#include "isa_api.h"
#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
// GCC 12 warns inside its own avx512fintrin.h (_mm512_undefined_ps), a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define LSTMKIT_ISA avx512
#define LSTMKIT_VBYTES 64
#define LSTMKIT_GEMM_MR 4
#define LSTMKIT_GEMM_TN_MR 6
#define LSTMKIT_GEMM_NR 4
#define LSTMKIT_BF16 1  // gemm_bf16.h, for CPUs that also have AVX512-BF16
#include "isa_kernels.inc"
#endif
