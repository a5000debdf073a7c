// Portable kernels: 16-byte vectors (SSE2 on x86-64, NEON on ARM), built for the baseline target.
#include "isa_api.h"
#define LSTMKIT_ISA generic
#define LSTMKIT_VBYTES 16
#define LSTMKIT_GEMM_MR 4
#define LSTMKIT_GEMM_TN_MR 3
#define LSTMKIT_GEMM_NR 2
#include "isa_kernels.inc"
