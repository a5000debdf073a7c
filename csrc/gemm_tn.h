// Weight-gradient GEMM over all steps and rows, after the backward loop:
//
//   C[M, N] = Σ_{t, b} A[t, b, m] · (B[t, b, n] ⊙ mask[b, n])       e.g. dW_hh = Σ dhh_tᵀ (m ⊙ h_{t-1})
//
// A and B are (T, rows, lda) and (T, rows, ldb) row-major; M and N are padded (N a multiple of the vector
// width). The rows are taken in blocks that stay in cache while every tile of C passes over them; a tile of
// MR rows by NR vectors of C is held in registers within a block. Threads split the rows of C (m0..m1).
// Needs simd.h.

template <class T, int MR, int NR>
inline void gemm_tn_tile(long s0, long s1, long rows, const T* A, long lda, const T* Bm, long ldb, const T* mask,
                         T* C, long ldc, bool accumulate) {
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
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) {
        b[j] = vload(Bm + k * ldb + j * V);
        if (mask) b[j] *= vload(mask + r * ldb + j * V);
      }
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const T a = A[k * lda + i];
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

template <class T, int MR, int NR>
inline void gemm_tn_rows(long m0, long m1, long s0, long s1, long rows, const T* A, long lda, const T* Bm,
                         long ldb, const T* mask, T* C, long ldc, bool acc) {
  long m = m0;
  for (; m + MR <= m1; m += MR)
    gemm_tn_tile<T, MR, NR>(s0, s1, rows, A + m, lda, Bm, ldb, mask, C + m * ldc, ldc, acc);
  for (; m < m1; ++m) gemm_tn_tile<T, 1, NR>(s0, s1, rows, A + m, lda, Bm, ldb, mask, C + m * ldc, ldc, acc);
}

// Rows m0..m1 of C = Σ_{t, b} A[t, b, :]ᵀ (B[t, b, :] ⊙ mask[b, :]); mask may be null.
template <class T>
void gemm_tn(long m0, long m1, long N, long steps, long rows, const T* A, long lda, const T* Bm, long ldb,
             const T* mask, T* C, long ldc) {
  constexpr int V = Vec<T>::lanes;
  constexpr int NR = LSTMKIT_GEMM_NR;
  constexpr int MR = LSTMKIT_GEMM_NR == 4 ? 6 : 3;
  const long block = rows >= 256 ? 1 : 256 / rows;  // steps per cache block
  for (long s0 = 0; s0 < steps || s0 == 0; s0 += block) {
    const long s1 = s0 + block < steps ? s0 + block : steps;
    const bool acc = s0 > 0;
    long n = 0;
    for (; n + NR * V <= N; n += NR * V)
      gemm_tn_rows<T, MR, NR>(m0, m1, s0, s1, rows, A, lda, Bm + n, ldb, mask ? mask + n : mask, C + n, ldc, acc);
    for (; n < N; n += V)
      gemm_tn_rows<T, MR, 1>(m0, m1, s0, s1, rows, A, lda, Bm + n, ldb, mask ? mask + n : mask, C + n, ldc, acc);
    if (steps == 0) break;
  }
}
