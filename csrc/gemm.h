// The small per-step GEMM of the time loop, register-blocked on short vectors.
//
//   C[M, N] (+)= A[M, K] · Bp[K, N]
//
// A is row-major with leading dimension lda; Bp is the packed right operand (weights packed once per
// call, zero-padded so N is a multiple of the vector width, panel-major as described at gemm()); C is row-major
// with leading dimension ldc. A tile of MR rows by NR vectors of C stays in registers over the whole K
// loop: each k loads NR vectors of Bp, broadcasts MR scalars of A and issues MR·NR fused multiply-adds.
// Needs the Vec<T> helpers of simd.h; LSTMKIT_GEMM_NR is the widest tile in vectors (4 with 32 vector
// registers, 2 with 16).

template <class T, int MR, int NR>
inline void gemm_tile(int K, const T* A, long lda, const T* Bp, long ldb, T* C, long ldc, bool accumulate) {
  constexpr int V = Vec<T>::lanes;
  vec_t<T> acc[MR][NR];
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) acc[i][j] = accumulate ? vload(C + i * ldc + j * V) : vsplat<T>(0);
  for (int k = 0; k < K; ++k) {
    vec_t<T> b[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) b[j] = vload(Bp + k * ldb + j * V);
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const T a = A[i * lda + k];
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) acc[i][j] += a * b[j];
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) vstore(C + i * ldc + j * V, acc[i][j]);
}

// All rows of one column panel of NR vectors: tiles of 4 rows, then the 1-3 rows left.
template <class T, int NR>
inline void gemm_panel(int M, int K, const T* A, long lda, const T* Bp, long ldb, T* C, long ldc, bool acc) {
  int m = 0;
  for (; m + 4 <= M; m += 4) gemm_tile<T, 4, NR>(K, A + m * lda, lda, Bp, ldb, C + m * ldc, ldc, acc);
  switch (M - m) {
    case 3: gemm_tile<T, 3, NR>(K, A + m * lda, lda, Bp, ldb, C + m * ldc, ldc, acc); break;
    case 2: gemm_tile<T, 2, NR>(K, A + m * lda, lda, Bp, ldb, C + m * ldc, ldc, acc); break;
    case 1: gemm_tile<T, 1, NR>(K, A + m * lda, lda, Bp, ldb, C + m * ldc, ldc, acc); break;
    default: break;
  }
}

// C[M, N] (+)= A[M, K] · Bp[K, N]; N must be a multiple of the vector width.
// Bp is packed panel-major: the columns n..n+w of a panel (w = NR vectors, the last panel narrower) lie
// at Bp + n·K as a row-major [K][w] block, so the K loop walks contiguous memory.
template <class T>
void gemm(int M, int N, int K, const T* A, long lda, const T* Bp, long, T* C, long ldc, bool accumulate) {
  constexpr int V = Vec<T>::lanes;
  constexpr int NR = LSTMKIT_GEMM_NR;
  int n = 0;
  for (; n + NR * V <= N; n += NR * V)
    gemm_panel<T, NR>(M, K, A, lda, Bp + long(n) * K, NR * V, C + n, ldc, accumulate);
  const T* tail = Bp + long(n) * K;
  switch ((N - n) / V) {
    case 3: gemm_panel<T, 3>(M, K, A, lda, tail, 3 * V, C + n, ldc, accumulate); break;
    case 2: gemm_panel<T, 2>(M, K, A, lda, tail, 2 * V, C + n, ldc, accumulate); break;
    case 1: gemm_panel<T, 1>(M, K, A, lda, tail, V, C + n, ldc, accumulate); break;
    default: break;
  }
}
