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

// A tile of MR rows by NV vectors of C summed over the pairs k0..k1: A's pair (i, k) at A[i·si + k·sk]
// (row-major rows of pairs in the step GEMM, pairs of rows in the weight gradients), B's pair row k at
// Bm + k·ldb (all in 32-bit words, one bfloat16 pair each).
template <int MR, int NV>
LSTMKIT_BF16_TARGET inline void bf16_tile(long k0, long k1, const uint32_t* A, long si, long sk, const uint32_t* Bm,
                                          long ldb, float* C, long ldc, bool accumulate) {
  __m512 acc[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) acc[i][j] = accumulate ? _mm512_loadu_ps(C + i * ldc + 16 * j) : _mm512_setzero_ps();
  for (long k = k0; k < k1; ++k) {
    __m512bh b[NV];
    for (int j = 0; j < NV; ++j) b[j] = (__m512bh)_mm512_loadu_si512(Bm + k * ldb + 16 * j);
    for (int i = 0; i < MR; ++i) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(int(A[i * si + k * sk]));
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
    const auto* b = reinterpret_cast<const uint32_t*>(Bp);  // [KT2][w] pairs
    float* c = C + m * ldc;
    switch (height) {
      case 4: bf16_tile<4, NV>(0, KT2, a, KT2, 1, b, w, c, ldc, acc); break;
      case 3: bf16_tile<3, NV>(0, KT2, a, KT2, 1, b, w, c, ldc, acc); break;
      case 2: bf16_tile<2, NV>(0, KT2, a, KT2, 1, b, w, c, ldc, acc); break;
      default: bf16_tile<1, NV>(0, KT2, a, KT2, 1, b, w, c, ldc, acc); break;
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

// ---- the weight-gradient GEMM (gemm_tn.h) in bfloat16 --------------------------------------------------
//
//   C[M, N] = Σ_k A[k, m] · B[k, n] over the K = T·B rows of all steps
//
// vdpbf16ps sums pairs along its bfloat16 lanes, so here the pairs run along k: both operands are first
// rewritten as K2 = ceil(K / 2) rows of pairs (rows 2k2 and 2k2 + 1 side by side, the odd K's last
// partner zero), each in one pass (bf16_pair_interleave), then tiles of C sum over k2.

// Rows k2 in [k0, k1) of the pair form of a (K, n) float32 matrix (leading dimension ld; row k scaled
// elementwise by mask row k % mrows when mask is not null, mask's leading dimension ld too): out[k2][j]
// holds (src[2k2][j], src[2k2 + 1][j]) for j < n and zeros up to `width` (a multiple of 16).
LSTMKIT_BF16_TARGET inline void bf16_pair_interleave(const float* src, long ld, long n, long K, const float* mask,
                                                     long mrows, long k0, long k1, uint32_t* out, long width) {
  for (long k2 = k0; k2 < k1; ++k2) {
    const long r0 = 2 * k2, r1 = 2 * k2 + 1;
    uint32_t* o = out + k2 * width;
    for (long j = 0; j < width; j += 16) {
      const long left = n - j;
      const __mmask16 valid = left >= 16 ? __mmask16(0xffff) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
      __m512 x0 = _mm512_maskz_loadu_ps(valid, src + r0 * ld + j);
      __m512 x1 = r1 < K ? _mm512_maskz_loadu_ps(valid, src + r1 * ld + j) : _mm512_setzero_ps();
      if (mask) {
        x0 = _mm512_mul_ps(x0, _mm512_maskz_loadu_ps(valid, mask + (r0 % mrows) * ld + j));
        if (r1 < K) x1 = _mm512_mul_ps(x1, _mm512_maskz_loadu_ps(valid, mask + (r1 % mrows) * ld + j));
      }
      const __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(x0));
      const __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(x1));
      _mm512_storeu_si512(o + j, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
    }
  }
}

template <int NV>
LSTMKIT_BF16_TARGET inline void bf16_tn_panel(long m0, long m1, long k0, long k1, const uint32_t* A, long lda,
                                              const uint32_t* Bm, long ldb, float* C, long ldc, bool acc) {
  constexpr int MR = 6;  // 6 x 4 accumulators, as gemm_tn.h's AVX-512 tile; heights split evenly
  const long tiles = (m1 - m0 + MR - 1) / MR;
  long m = m0;
  for (long q = 0; q < tiles; ++q) {
    const long height = (m1 - m0) * (q + 1) / tiles - (m1 - m0) * q / tiles;
    const uint32_t* a = A + m;
    float* c = C + m * ldc;
    switch (height) {
      case 6: bf16_tile<6, NV>(k0, k1, a, 1, lda, Bm, ldb, c, ldc, acc); break;
      case 5: bf16_tile<5, NV>(k0, k1, a, 1, lda, Bm, ldb, c, ldc, acc); break;
      case 4: bf16_tile<4, NV>(k0, k1, a, 1, lda, Bm, ldb, c, ldc, acc); break;
      case 3: bf16_tile<3, NV>(k0, k1, a, 1, lda, Bm, ldb, c, ldc, acc); break;
      case 2: bf16_tile<2, NV>(k0, k1, a, 1, lda, Bm, ldb, c, ldc, acc); break;
      default: bf16_tile<1, NV>(k0, k1, a, 1, lda, Bm, ldb, c, ldc, acc); break;
    }
    m += height;
  }
}

// Rows m0..m1 of C[M, N] = Σ_k2 A2[k2, m] · B2[k2, n] over the pair forms (N a multiple of 16), the k2 taken
// in blocks whose rows of B2 stay in cache while every tile of C passes over them.
LSTMKIT_BF16_TARGET inline void gemm_tn_bf16(long m0, long m1, long N, long K2, const uint32_t* A2, long lda,
                                             const uint32_t* B2, long ldb, float* C, long ldc) {
  if (m0 >= m1) return;
  const long vectors = N / 16, block = 128;
  for (long k0 = 0; k0 < K2 || k0 == 0; k0 += block) {
    const long k1 = k0 + block < K2 ? k0 + block : K2;
    const bool acc = k0 > 0;
    long v = 0;
    for (; v + 4 <= vectors; v += 4) bf16_tn_panel<4>(m0, m1, k0, k1, A2, lda, B2 + 16 * v, ldb, C + 16 * v, ldc, acc);
    switch (vectors - v) {
      case 3: bf16_tn_panel<3>(m0, m1, k0, k1, A2, lda, B2 + 16 * v, ldb, C + 16 * v, ldc, acc); break;
      case 2: bf16_tn_panel<2>(m0, m1, k0, k1, A2, lda, B2 + 16 * v, ldb, C + 16 * v, ldc, acc); break;
      case 1: bf16_tn_panel<1>(m0, m1, k0, k1, A2, lda, B2 + 16 * v, ldb, C + 16 * v, ldc, acc); break;
      default: break;
    }
    if (K2 == 0) break;
  }
}
