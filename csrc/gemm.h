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

// A tile of MR rows by P·NR vectors: P column panels side by side (P > 1 only for the few rows of a short
// M, whose one-panel tile has too few accumulators to hide the multiply-add latency: a batch-1 step on
// AVX2 ran at a quarter of the rate that way). Panel p's packed block starts at Bp + p·pstride; its
// columns follow panel p-1's in C. Every element still sums its k in order, so a row's result does not
// depend on the tile it falls in (nor on the number of threads).
template <class T, int MR, int NR, int P = 1>
inline void gemm_tile(const Operand<T>& A1, int K, const T* A, long lda, const T* Bp, long ldb, long pstride, T* C,
                      long ldc, bool accumulate) {
  constexpr int V = Vec<T>::lanes, W = NR * P;
  vec_t<T> acc[MR][W];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < W; ++j) acc[i][j] = accumulate ? vload(C + i * ldc + j * V) : vsplat<T>(0);
  // the K1 rows of the first operand, then the K rows of the second (Bp holds K1 + K rows)
  auto run = [&](int kn, const T* a_rows, long la, const T* b_rows) {
    for (int k = 0; k < kn; ++k) {
      vec_t<T> b[W];
#pragma GCC unroll 16
      for (int j = 0; j < W; ++j) b[j] = vload(b_rows + (j / NR) * pstride + k * ldb + (j % NR) * V);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const T a = a_rows[i * la + k];
#pragma GCC unroll 16
        for (int j = 0; j < W; ++j) acc[i][j] += a * b[j];
      }
    }
  };
  if (A1.K > 0) run(A1.K, A1.A, A1.lda, Bp);
  run(K, A, lda, Bp + long(A1.K) * ldb);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < W; ++j) vstore(C + i * ldc + j * V, acc[i][j]);
}

// All rows of one column panel of NR vectors, in tiles of at most LSTMKIT_GEMM_MR rows (1 to 6) as even as
// possible: 8 rows as 4 + 4 rather than 6 + 2, whose 2-row tile has too few accumulators to hide the
// multiply-add latency.
template <class T, int NR>
inline void gemm_panel(int M, const Operand<T>& A1, int K, const T* A, long lda, const T* Bp, long ldb, T* C,
                       long ldc, bool acc) {
  constexpr int MR = LSTMKIT_GEMM_MR;
  static_assert(MR >= 1 && MR <= 6, "LSTMKIT_GEMM_MR is 1 to 6");
  auto rows = [&](int r) { return Operand<T>{A1.K, A1.A + r * A1.lda, A1.lda}; };
  const int tiles = (M + MR - 1) / MR;
  int m = 0;
  for (int q = 0; q < tiles; ++q) {
    const int height = M * (q + 1) / tiles - M * q / tiles;
#define LSTMKIT_GEMM_TILE(R) gemm_tile<T, R, NR>(rows(m), K, A + m * lda, lda, Bp, ldb, 0, C + m * ldc, ldc, acc)
    if (height == MR) {
      LSTMKIT_GEMM_TILE(MR);
    } else {
      switch (height) {  // height < MR: the cases past MR - 1 are never taken and not compiled
        case 5: if constexpr (MR > 5) LSTMKIT_GEMM_TILE(5 % MR); break;
        case 4: if constexpr (MR > 4) LSTMKIT_GEMM_TILE(4 % MR); break;
        case 3: if constexpr (MR > 3) LSTMKIT_GEMM_TILE(3 % MR); break;
        case 2: if constexpr (MR > 2) LSTMKIT_GEMM_TILE(2 % MR); break;
        case 1: if constexpr (MR > 1) LSTMKIT_GEMM_TILE(1); break;
        default: break;
      }
    }
#undef LSTMKIT_GEMM_TILE
    m += height;
  }
}

// The first columns of a GEMM of MR rows (M·NR < 8 vector accumulators: one or two rows), P panels per tile
// so that a tile holds at least 8 accumulators, the multiply-add latency times the two FMA ports; returns
// the columns done (whole groups of P panels), the rest left to gemm()'s panels.
template <class T, int MR>
inline int gemm_grouped(int N, const Operand<T>& A1, int K, const T* A, long lda, const T* Bp, T* C, long ldc,
                        bool acc) {
  constexpr int V = Vec<T>::lanes, NR = LSTMKIT_GEMM_NR;
  constexpr int P = (8 + MR * NR - 1) / (MR * NR);
  const long KT = A1.K + K, pstride = long(NR) * V * KT;
  int n = 0;
  for (; n + P * NR * V <= N; n += P * NR * V)
    gemm_tile<T, MR, NR, P>(A1, K, A, lda, Bp + n * KT, NR * V, pstride, C + n, ldc, acc);
  return n;
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
  if (M == 1 && NR < 8) n = gemm_grouped<T, 1>(N, A1, K, A, lda, Bp, C, ldc, accumulate);
  if (M == 2 && 2 * NR < 8) n = gemm_grouped<T, 2>(N, A1, K, A, lda, Bp, C, ldc, accumulate);
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
