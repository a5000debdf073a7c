// The step GEMM of gemm.h with bfloat16 operands and float32 accumulation (AVX512-BF16, vdpbf16ps):
//
//   C[M, N] (+)= [A1 | A][M, K1 + K] · Bp[K1 + K, N]
//
// for float32 models where the caller asked for it (Dims::bf16). Each vdpbf16ps multiplies 16 pairs of
// bfloat16 and adds both products to a float32 lane: twice the multiply-adds of a float32 FMA per
// instruction. The left operand's rows are rounded to bfloat16 pairs first (round to nearest even) into
// `pairs`; Bp is the float32 panel layout of gemm.h with each block [KT][w] stored as [KT2][w][2]
// bfloat16 (KT2 = ceil(KT / 2), the odd row's partner zero): pack_bf16 in bindings.cpp.
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

// Rows m0..m1 of C (+)= Σ_{k in [k0, k1)} A(m, k) · B(k, :) over N columns (a multiple of 16), in tiles of
// at most MR rows (the heights split evenly: 8 rows as 4 + 4, not 6 + 2) by 4 vectors, the last panel
// narrower. A's pair (m, k) at A[m·si + k·sk]. B's panel of columns n.. starts at Bm + n·K2 with its rows
// w apart when panel_major (packed weights: each panel its own [K2][w] block), else at Bm + n with its
// rows ldb apart (the weight gradients' pairs of rows).
template <int MR, int NV>
LSTMKIT_BF16_TARGET inline void bf16_panel(long m0, long m1, long k0, long k1, const uint32_t* A, long si, long sk,
                                           const uint32_t* b, long lb, float* C, long ldc, bool acc) {
  const long tiles = (m1 - m0 + MR - 1) / MR;
  long m = m0;
  for (long q = 0; q < tiles; ++q) {
    const long height = (m1 - m0) * (q + 1) / tiles - (m1 - m0) * q / tiles;
    const uint32_t* a = A + m * si;
    float* c = C + m * ldc;
    switch (height) {
      case 6: if constexpr (MR >= 6) bf16_tile<6, NV>(k0, k1, a, si, sk, b, lb, c, ldc, acc); break;
      case 5: if constexpr (MR >= 5) bf16_tile<5, NV>(k0, k1, a, si, sk, b, lb, c, ldc, acc); break;
      case 4: bf16_tile<4, NV>(k0, k1, a, si, sk, b, lb, c, ldc, acc); break;
      case 3: bf16_tile<3, NV>(k0, k1, a, si, sk, b, lb, c, ldc, acc); break;
      case 2: bf16_tile<2, NV>(k0, k1, a, si, sk, b, lb, c, ldc, acc); break;
      default: bf16_tile<1, NV>(k0, k1, a, si, sk, b, lb, c, ldc, acc); break;
    }
    m += height;
  }
}

template <int MR>
LSTMKIT_BF16_TARGET inline void bf16_rows(long m0, long m1, long N, long k0, long k1, const uint32_t* A, long si,
                                          long sk, const uint32_t* Bm, bool panel_major, long K2, long ldb,
                                          float* C, long ldc, bool acc) {
  constexpr long P = 16L * LSTMKIT_GEMM_NR;  // a packed panel's width (gemm.h)
  for (long n = 0; n < N; n += P) {
    const long w = N - n < P ? N - n : P;
    const uint32_t* b = Bm + (panel_major ? n * K2 : n);
    const long lb = panel_major ? w : ldb;
    switch (w / 16) {
      case 4: bf16_panel<MR, 4>(m0, m1, k0, k1, A, si, sk, b, lb, C + n, ldc, acc); break;
      case 3: bf16_panel<MR, 3>(m0, m1, k0, k1, A, si, sk, b, lb, C + n, ldc, acc); break;
      case 2: bf16_panel<MR, 2>(m0, m1, k0, k1, A, si, sk, b, lb, C + n, ldc, acc); break;
      case 1: bf16_panel<MR, 1>(m0, m1, k0, k1, A, si, sk, b, lb, C + n, ldc, acc); break;
      default: break;  // N is a multiple of 16: never a narrower tail
    }
  }
}

// C[M, N] (+)= [A1 | A] · Bp (see the top of this file); `pairs` holds M · ceil((K1 + K) / 2) words and
// then K1 + K + 32 floats of scratch (bf16_pair_rows). Tiles of 4 x 4 vectors, as gemm.h's AVX-512 step.
LSTMKIT_BF16_TARGET inline void gemm_bf16(int M, int N, const Operand<float>& A1, int K, const float* A, long lda,
                                          const uint16_t* Bp, float* C, long ldc, bool accumulate,
                                          uint32_t* pairs) {
  const long KT2 = (A1.K + K + 1) / 2;
  bf16_pair_rows(M, A1, K, A, lda, pairs, KT2, reinterpret_cast<float*>(pairs + M * KT2));
  bf16_rows<4>(0, M, N, 0, KT2, pairs, KT2, 1, reinterpret_cast<const uint32_t*>(Bp), true, KT2, 0, C, ldc,
               accumulate);
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

// Rows m0..m1 of C[M, N] (+)= Σ_k2 A2[k2, m] · B2[k2, n] over the pair forms (N a multiple of 16), the k2
// taken in blocks whose rows of B2 stay in cache while every tile of C passes over them.
LSTMKIT_BF16_TARGET inline void gemm_tn_bf16(long m0, long m1, long N, long K2, const uint32_t* A2, long lda,
                                             const uint32_t* B2, long ldb, float* C, long ldc,
                                             bool accumulate = false) {
  if (m0 >= m1) return;
  const long block = 128;  // pairs of rows of B2 a block: 128 x 4H floats' worth stays in L2
  for (long k0 = 0; k0 < K2 || k0 == 0; k0 += block) {
    const long k1 = k0 + block < K2 ? k0 + block : K2;
    // tiles of 6 x 4 vectors, as gemm_tn.h's AVX-512 ones
    bf16_rows<6>(m0, m1, N, k0, k1, A2, 1, lda, B2, false, 0, ldb, C, ldc, accumulate || k0 > 0);
    if (K2 == 0) break;
  }
}
