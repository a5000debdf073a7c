// The step GEMM of gemm.h with bfloat16 operands and float32 accumulation (AVX512-BF16, vdpbf16ps):
//
//   C[M, N] (+)= [A1 | A][M, K1 + K] · Bp[K1 + K, N]
//
// for float32 inference where the caller asked for it (Dims::bf16). Each vdpbf16ps multiplies 16 pairs of
// bfloat16 and adds both products to a float32 lane: twice the multiply-adds of a float32 FMA per
// instruction. The left operand's rows are rounded to bfloat16 pairs first (round to nearest even) into
// `pairs`; Bp is the float32 panel layout of gemm.h with each block [KT][w] stored as [KT2][w][2]
// bfloat16 (KT2 = ceil(KT / 2), the odd row's partner zero): pack_bf16_panels in bindings.cpp.
// Included by the AVX-512 kernels only (LSTMKIT_BF16); run only where the CPU has AVX512-BF16.

#define LSTMKIT_BF16_TARGET __attribute__((target("avx512bf16")))

// Rows of [A1 | A] as bfloat16 pairs, KT2 32-bit words a row: pair k holds elements 2k (low half) and 2k+1.
// Each row is first copied whole into `row` (KT floats, then zeros to a multiple of 32), then converted 32
// values at a time.
LSTMKIT_BF16_TARGET inline void bf16_pair_rows(int M, const Operand<float>& A1, int K, const float* A, long lda,
                                               uint32_t* pairs, long KT2, float* row) {
  constexpr int V = 16;
  const long KT = A1.K + K, padded = (KT + 2 * V - 1) / (2 * V) * (2 * V);
  for (long k = KT; k < padded; ++k) row[k] = 0.0f;
  for (int i = 0; i < M; ++i) {
    vcopy<float>(row, A1.A + i * A1.lda, A1.K);
    vcopy<float>(row + A1.K, A + i * lda, K);
    uint32_t* out = pairs + i * KT2;
    for (long k0 = 0; k0 < KT; k0 += 2 * V) {  // 32 values to 16 pairs
      const __m512bh both = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(row + k0 + V), _mm512_loadu_ps(row + k0));
      const long n = KT2 - k0 / 2 < V ? KT2 - k0 / 2 : V;
      _mm512_mask_storeu_epi32(out + k0 / 2, __mmask16((1u << n) - 1), (__m512i)both);
    }
  }
}

template <int MR, int NV>
LSTMKIT_BF16_TARGET inline void bf16_tile(long KT2, const uint32_t* pairs, const uint16_t* Bp, long w, float* C,
                                          long ldc, bool accumulate) {
  __m512 acc[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) acc[i][j] = accumulate ? _mm512_loadu_ps(C + i * ldc + 16 * j) : _mm512_setzero_ps();
  for (long k = 0; k < KT2; ++k) {
    __m512bh b[NV];
    for (int j = 0; j < NV; ++j) b[j] = (__m512bh)_mm512_loadu_si512(Bp + 2 * (k * w + 16 * j));
    for (int i = 0; i < MR; ++i) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(int(pairs[i * KT2 + k]));
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], a, b[j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) _mm512_storeu_ps(C + i * ldc + 16 * j, acc[i][j]);
}

template <int NV>
LSTMKIT_BF16_TARGET inline void bf16_panel(int M, long KT2, const uint32_t* pairs, const uint16_t* Bp, float* C,
                                           long ldc, bool acc) {
  constexpr int MR = 4;  // 4 x 4 accumulators, as gemm.h's AVX-512 step tile; heights split evenly
  const long w = 16L * NV;
  const int tiles = (M + MR - 1) / MR;
  int m = 0;
  for (int q = 0; q < tiles; ++q) {
    const int height = M * (q + 1) / tiles - M * q / tiles;
    const uint32_t* a = pairs + m * KT2;
    float* c = C + m * ldc;
    switch (height) {
      case 4: bf16_tile<4, NV>(KT2, a, Bp, w, c, ldc, acc); break;
      case 3: bf16_tile<3, NV>(KT2, a, Bp, w, c, ldc, acc); break;
      case 2: bf16_tile<2, NV>(KT2, a, Bp, w, c, ldc, acc); break;
      default: bf16_tile<1, NV>(KT2, a, Bp, w, c, ldc, acc); break;
    }
    m += height;
  }
}

// C[M, N] (+)= [A1 | A] · Bp (see the top of this file); `pairs` holds M · ceil((K1 + K) / 2) words and
// then K1 + K + 32 floats of scratch (bf16_pair_rows).
LSTMKIT_BF16_TARGET inline void gemm_bf16(int M, int N, const Operand<float>& A1, int K, const float* A, long lda,
                                          const uint16_t* Bp, float* C, long ldc, bool accumulate,
                                          uint32_t* pairs) {
  constexpr int V = 16, NR = 4;
  const long KT2 = (A1.K + K + 1) / 2;
  bf16_pair_rows(M, A1, K, A, lda, pairs, KT2, reinterpret_cast<float*>(pairs + M * KT2));
  int n = 0;
  for (; n + NR * V <= N; n += NR * V) bf16_panel<NR>(M, KT2, pairs, Bp + 2 * n * KT2, C + n, ldc, accumulate);
  const uint16_t* tail = Bp + 2 * n * KT2;
  switch ((N - n) / V) {
    case 3: bf16_panel<3>(M, KT2, pairs, tail, C + n, ldc, accumulate); break;
    case 2: bf16_panel<2>(M, KT2, pairs, tail, C + n, ldc, accumulate); break;
    case 1: bf16_panel<1>(M, KT2, pairs, tail, C + n, ldc, accumulate); break;
    default: break;
  }
}
