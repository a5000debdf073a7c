// Weight-gradient GEMM over all steps and rows, after the backward loop:
//
//   C[M, N] = Σ_{t, b} (A[t, b, m] · mask[b, m]) · B[t, b, n]       e.g. dW_hhᵀ = Σ (m ⊙ h_{t-1})ᵀ dhh_t
//
// A and B are (T, rows, lda) and (T, rows, ldb) row-major; N is rounded up to whole vectors, and the
// columns of C past N hold whatever B's rows hold past N (B must be readable that far: see layout.h).
// The output runs along B's rows, so the long gate dimension 4H is the vector one and only the short
// dimension (R, or I + 1) is taken row by row. The rows are taken in blocks that stay in cache while every
// tile of C passes over them; a tile of MR rows by NR vectors of C is held in registers within a block.
// Threads split the rows of C (m0..m1). Needs simd.h.

template <class T, int MR, int NR, bool Masked>
inline void gemm_tn_tile(long s0, long s1, long rows, const T* A, long lda, const T* mask, const T* Bm, long ldb,
                         T* C, long ldc, bool accumulate, bool prefetch) {
  constexpr int V = Vec<T>::lanes;
  vec_t<T> acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) acc[i][j] = accumulate ? vload(C + i * ldc + j * V) : vsplat<T>(0);
  for (long s = s0; s < s1; ++s) {
    for (long r = 0; r < rows; ++r) {
      const long k = s * rows + r;
      vec_t<T> b[NR];
      if (prefetch)  // B's rows are ldb apart, a stride the hardware prefetcher follows late: ask 8 ahead
#pragma GCC unroll 4
        for (int j = 0; j < NR; ++j) __builtin_prefetch(Bm + (k + 8) * ldb + j * V, 0, 3);
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) b[j] = vload(Bm + k * ldb + j * V);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        // unmasked, a broadcast straight from memory (a scalar picked at run time took a register that
        // the twelve accumulators of an AVX2 tile need, and was spilled)
        const vec_t<T> a = Masked ? vsplat<T>(A[k * lda + i] * mask[r * lda + i]) : vsplat<T>(A[k * lda + i]);
#pragma GCC unroll 4
        for (int j = 0; j < NR; ++j) acc[i][j] += a * b[j];
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) vstore(C + i * ldc + j * V, acc[i][j]);
}

template <class T, int MR, int NR, bool Masked>
inline void gemm_tn_rows(long m0, long m1, long s0, long s1, long rows, const T* A, long lda, const T* mask,
                         const T* Bm, long ldb, T* C, long ldc, bool acc) {
// The first tile of a panel brings its block of B into cache, asking for rows ahead (a prefetch past the
// last row is a hint and never faults); the tiles after it find them there, where prefetches only cost.
#define LSTMKIT_TN_TILE(R) \
  gemm_tn_tile<T, R, NR, Masked>(s0, s1, rows, A + m, lda, Masked ? mask + m : mask, Bm, ldb, C + m * ldc, ldc, acc, m == m0)
  // tiles as even as possible: a thread's 26 rows as 6, 5, 5, 5, 5 rather than 6, 6, 6, 6, 2, whose last
  // tile loads as much of B per multiply-add as three times its rows
  const long tiles = (m1 - m0 + MR - 1) / MR;
  long m = m0;
  for (long q = 0; q < tiles; ++q) {
    const long height = (m1 - m0) * (q + 1) / tiles - (m1 - m0) * q / tiles;
    if (height == MR) {
      LSTMKIT_TN_TILE(MR);
    } else {
      switch (height) {
        case 5: LSTMKIT_TN_TILE(5); break;
        case 4: LSTMKIT_TN_TILE(4); break;
        case 3: LSTMKIT_TN_TILE(3); break;
        case 2: LSTMKIT_TN_TILE(2); break;
        case 1: LSTMKIT_TN_TILE(1); break;
        default: break;
      }
    }
    m += height;
  }
#undef LSTMKIT_TN_TILE
}

// Rows m0..m1 of one result C = Σ_{t, b} (A[t, b, :] ⊙ mask[b, :])ᵀ B[t, b, :] (mask may be null).
template <class T>
struct TnPart {
  const T* A;
  long lda;
  const T* mask;  // (rows, lda), or null
  long m0, m1;
  T* C;
};

// Every part against the same B, taken in blocks of rows that stay in cache while each part's tiles pass
// over them, so B (the largest operand: T·B rows of 4H) is read from memory once for all parts.
// With `accumulate` the sums are added to C instead of replacing it.
template <class T>
void gemm_tn(const TnPart<T>* parts, int nparts, long N, long steps, long rows, const T* Bm, long ldb, long ldc,
             bool accumulate = false) {
  constexpr int V = Vec<T>::lanes;
  constexpr int NR = LSTMKIT_GEMM_NR;
  constexpr int MR = LSTMKIT_GEMM_TN_MR;
  const long vectors = (N + V - 1) / V;
  const long block = rows >= 256 ? 1 : 256 / rows;  // steps per cache block
  for (long s0 = 0; s0 < steps || s0 == 0; s0 += block) {
    const long s1 = s0 + block < steps ? s0 + block : steps;
    const bool acc = accumulate || s0 > 0;
    for (int p = 0; p < nparts; ++p) {
      const TnPart<T>& q = parts[p];
      if (q.m0 >= q.m1) continue;
#define LSTMKIT_TN_PANEL(W)                                                                                         \
  (q.mask ? gemm_tn_rows<T, MR, W, true>(q.m0, q.m1, s0, s1, rows, q.A, q.lda, q.mask, Bm + n * V, ldb, q.C + n * V, \
                                         ldc, acc)                                                                  \
          : gemm_tn_rows<T, MR, W, false>(q.m0, q.m1, s0, s1, rows, q.A, q.lda, q.mask, Bm + n * V, ldb,            \
                                          q.C + n * V, ldc, acc))
      long n = 0;
      for (; n + NR <= vectors; n += NR) LSTMKIT_TN_PANEL(NR);
      switch (vectors - n) {
        case 3: LSTMKIT_TN_PANEL(3); break;
        case 2: LSTMKIT_TN_PANEL(2); break;
        case 1: LSTMKIT_TN_PANEL(1); break;
        default: break;
      }
#undef LSTMKIT_TN_PANEL
    }
    if (steps == 0) break;
  }
}
