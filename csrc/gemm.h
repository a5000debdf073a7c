// The small per-step GEMM of the time loop, register-blocked on short vectors.
//
//   C[M, N] (+)= A[M, K] · Bp[K, N]
//
// A is row-major with leading dimension lda; Bp is the packed right operand (weights packed once per
// call, zero-padded so N is a multiple of the vector width, panel-major as described at gemm()); C is row-major
// with leading dimension ldc. A tile of MR rows by NR vectors of C stays in registers over the whole K
// loop: each k loads NR vectors of Bp, broadcasts MR scalars of A and issues MR·NR fused multiply-adds.
// Needs the Vec<T> helpers of simd.h; LSTMKIT_GEMM_NR is the widest tile in vectors (4 with 32 vector
// registers, 2 with 16) and LSTMKIT_GEMM_MR its height in rows.

// A row-major left operand of K columns (K may be 0).
template <class T>
struct Operand {
  int K;
  const T* A;
  long lda;
};

template <class T, int MR, int NR>
inline void gemm_tile(const Operand<T>& A1, int K, const T* A, long lda, const T* Bp, long ldb, T* C, long ldc,
                      bool accumulate) {
  constexpr int V = Vec<T>::lanes;
  vec_t<T> acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) acc[i][j] = accumulate ? vload(C + i * ldc + j * V) : vsplat<T>(0);
  // the K1 rows of the first operand, then the K rows of the second (Bp holds K1 + K rows)
  auto run = [&](int kn, const T* a_rows, long la, const T* b_rows) {
    for (int k = 0; k < kn; ++k) {
      vec_t<T> b[NR];
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) b[j] = vload(b_rows + k * ldb + j * V);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const T a = a_rows[i * la + k];
#pragma GCC unroll 4
        for (int j = 0; j < NR; ++j) acc[i][j] += a * b[j];
      }
    }
  };
  if (A1.K > 0) run(A1.K, A1.A, A1.lda, Bp);
  run(K, A, lda, Bp + long(A1.K) * ldb);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) vstore(C + i * ldc + j * V, acc[i][j]);
}

// All rows of one column panel of NR vectors: tiles of LSTMKIT_GEMM_MR rows (at most 6), then the rows left.
template <class T, int NR>
inline void gemm_panel(int M, const Operand<T>& A1, int K, const T* A, long lda, const T* Bp, long ldb, T* C,
                       long ldc, bool acc) {
  constexpr int MR = LSTMKIT_GEMM_MR;
  static_assert(MR >= 1 && MR <= 6, "LSTMKIT_GEMM_MR is 1 to 6");
  int m = 0;
  auto rows = [&](int r) { return Operand<T>{A1.K, A1.A + r * A1.lda, A1.lda}; };
#define LSTMKIT_GEMM_TILE(R) gemm_tile<T, R, NR>(rows(m), K, A + m * lda, lda, Bp, ldb, C + m * ldc, ldc, acc)
  for (; m + MR <= M; m += MR) LSTMKIT_GEMM_TILE(MR);
  switch (M - m) {  // M - m < MR: the cases past MR - 1 are never taken and not compiled
    case 5: if constexpr (MR > 5) LSTMKIT_GEMM_TILE(5 % MR); break;
    case 4: if constexpr (MR > 4) LSTMKIT_GEMM_TILE(4 % MR); break;
    case 3: if constexpr (MR > 3) LSTMKIT_GEMM_TILE(3 % MR); break;
    case 2: if constexpr (MR > 2) LSTMKIT_GEMM_TILE(2 % MR); break;
    case 1: if constexpr (MR > 1) LSTMKIT_GEMM_TILE(1); break;
    default: break;
  }
#undef LSTMKIT_GEMM_TILE
}

// C[M, N] (+)= [A1 | A][M, K1 + K] · Bp[K1 + K, N]; N must be a multiple of the vector width.
// The left operand comes in two row-major parts side by side (the step input x_t and the state h_{t-1}),
// so they need not be copied into one buffer; A1 may be empty (K1 = 0).
// Bp is packed panel-major: the columns n..n+w of a panel (w = NR vectors, the last panel narrower) lie
// at Bp + n·(K1 + K) as a row-major [K1 + K][w] block, so the K loop walks contiguous memory.
template <class T>
void gemm(int M, int N, const Operand<T>& A1, int K, const T* A, long lda, const T* Bp, T* C, long ldc,
          bool accumulate) {
  constexpr int V = Vec<T>::lanes;
  constexpr int NR = LSTMKIT_GEMM_NR;
  const long KT = A1.K + K;
  int n = 0;
  for (; n + NR * V <= N; n += NR * V)
    gemm_panel<T, NR>(M, A1, K, A, lda, Bp + n * KT, NR * V, C + n, ldc, accumulate);
  const T* tail = Bp + n * KT;
  switch ((N - n) / V) {
    case 3: gemm_panel<T, 3>(M, A1, K, A, lda, tail, 3 * V, C + n, ldc, accumulate); break;
    case 2: gemm_panel<T, 2>(M, A1, K, A, lda, tail, 2 * V, C + n, ldc, accumulate); break;
    case 1: gemm_panel<T, 1>(M, A1, K, A, lda, tail, V, C + n, ldc, accumulate); break;
    default: break;
  }
}

// C[M, N] (+)= A[M, K] · Bp[K, N] (one left operand).
template <class T>
void gemm(int M, int N, int K, const T* A, long lda, const T* Bp, long, T* C, long ldc, bool accumulate) {
  gemm<T>(M, N, Operand<T>{0, nullptr, 0}, K, A, lda, Bp, C, ldc, accumulate);
}
