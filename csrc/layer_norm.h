// Layer normalization of one padded row (Ba et al. 2016), forward and backward. Needs simd.h.
//
//   μ = Σ x / n,  σ² = Σ x² / n - μ²,  x̂ = (x - μ) / sqrt(σ² + ε),  y = γ x̂ + β
//   dx = (γ dy - mean(γ dy) - x̂ · mean(γ dy ⊙ x̂)) / sqrt(σ² + ε)
// Rows hold `len` values (a multiple of the vector width) of which `n` are real; `valid` is 1 on the
// real lanes and 0 on padding, where x, γ and β are zero.

constexpr double kLayerNormEps = 1e-5;

template <class T>
inline void layer_norm_stats(const T* x, long len, long n, const T* valid, T* mean, T* rstd) {
  // One pass: σ² = Σ x² / n - μ² (padding is zero, so it adds nothing to either sum).
  constexpr int V = Vec<T>::lanes;
  (void)valid;
  vec_t<T> s = vsplat<T>(0), q = vsplat<T>(0);
  for (long j = 0; j < len; j += V) {
    const vec_t<T> v = vload(x + j);
    s += v;
    q += v * v;
  }
  const T mu = vsum<T>(s) / T(n);
  T var = vsum<T>(q) / T(n) - mu * mu;
  var = var > T(0) ? var : T(0);
  *mean = mu;
  *rstd = rsqrt_scalar(var + T(kLayerNormEps));
}

// x ← γ x̂ + β in place; stores x̂ (zero on padding) and 1/sqrt(σ² + ε).
template <class T>
inline void layer_norm_row(T* x, long len, long n, const T* valid, const T* gamma, const T* beta, T* xhat,
                           T* rstd_out) {
  constexpr int V = Vec<T>::lanes;
  T mean, rstd;
  layer_norm_stats<T>(x, len, n, valid, &mean, &rstd);
  *rstd_out = rstd;
  for (long j = 0; j < len; j += V) {
    const vec_t<T> xh = vmasked<T>((vload(x + j) - mean) * rstd, vload(valid + j));
    vstore(xhat + j, xh);
    vstore(x + j, xh * vload(gamma + j) + vload(beta + j));
  }
}

// dx from dy (in place), accumulating dγ += dy ⊙ x̂ and dβ += dy.
template <class T>
inline void layer_norm_backward_row(T* dy, long len, long n, const T* valid, const T* gamma, const T* xhat,
                                    T rstd, T* dgamma, T* dbeta) {
  constexpr int V = Vec<T>::lanes;
  vec_t<T> s1 = vsplat<T>(0), s2 = vsplat<T>(0);
  for (long j = 0; j < len; j += V) {
    const vec_t<T> g = vload(dy + j), xh = vload(xhat + j);
    const vec_t<T> gdy = g * vload(gamma + j);
    s1 += gdy;
    s2 += gdy * xh;
    vstore(dgamma + j, vload(dgamma + j) + g * xh);
    vstore(dbeta + j, vload(dbeta + j) + g);
  }
  const T m1 = vsum<T>(s1) / T(n), m2 = vsum<T>(s2) / T(n);
  for (long j = 0; j < len; j += V) {
    const vec_t<T> dx = (vload(dy + j) * vload(gamma + j) - m1 - vload(xhat + j) * m2) * rstd;
    vstore(dy + j, vmasked<T>(dx, vload(valid + j)));
  }
}

// Two rows normalized and summed, as the gates with the input projection inside need:
//   a ← γ₁ x̂₁ + γ₂ x̂₂ + β,  x̂₁ = LN(a), x̂₂ = LN(u)
// with both rows' statistics from one pass and the sum written in a second (β already holds every bias
// that is added after the norms). x̂₁, x̂₂ and the statistics are stored where the pointers are not null
// (training); on padding x̂ is not zero, which the backward's `valid` mask makes harmless (γ is zero there).
template <class T>
inline void layer_norm_pair_row(T* a, const T* u, long len, long n, const T* gamma1, const T* gamma2,
                                const T* beta, T* xhat1, T* xhat2, T* rstd1_out, T* rstd2_out, T* mean2_out) {
  constexpr int V = Vec<T>::lanes;
  vec_t<T> s1 = vsplat<T>(0), q1 = vsplat<T>(0), s2 = vsplat<T>(0), q2 = vsplat<T>(0);
  for (long j = 0; j < len; j += V) {
    const vec_t<T> x1 = vload(a + j), x2 = vload(u + j);
    s1 += x1;
    q1 += x1 * x1;
    s2 += x2;
    q2 += x2 * x2;
  }
  auto stats = [n](vec_t<T> s, vec_t<T> q, T* mean, T* rstd) {
    const T mu = vsum<T>(s) / T(n);
    T var = vsum<T>(q) / T(n) - mu * mu;
    var = var > T(0) ? var : T(0);
    *mean = mu;
    *rstd = rsqrt_scalar(var + T(kLayerNormEps));
  };
  T m1, r1, m2, r2;
  stats(s1, q1, &m1, &r1);
  stats(s2, q2, &m2, &r2);
  if (rstd1_out) *rstd1_out = r1, *rstd2_out = r2;
  if (mean2_out) *mean2_out = m2;
  for (long j = 0; j < len; j += V) {
    const vec_t<T> x1 = (vload(a + j) - m1) * r1, x2 = (vload(u + j) - m2) * r2;
    if (xhat1) vstream(xhat1 + j, x1);
    if (xhat2) vstream(xhat2 + j, x2);
    vstore(a + j, x1 * vload(gamma1 + j) + x2 * vload(gamma2 + j) + vload(beta + j));
  }
}

// The backward of layer_norm_pair_row for one row: from da, dx₁ (in place of da) and dx₂ (into du),
// accumulating dγ₁ += da ⊙ x̂₁, dγ₂ += da ⊙ x̂₂ and dβ += da.
template <class T>
inline void layer_norm_pair_backward_row(T* da, T* du, long len, long n, const T* valid, const T* gamma1,
                                         const T* gamma2, const T* xhat1, const T* xhat2, T rstd1, T rstd2,
                                         T* dgamma1, T* dgamma2, T* dbeta) {
  constexpr int V = Vec<T>::lanes;
  vec_t<T> a1 = vsplat<T>(0), b1 = vsplat<T>(0), a2 = vsplat<T>(0), b2 = vsplat<T>(0);
  for (long j = 0; j < len; j += V) {
    const vec_t<T> g = vload(da + j), x1 = vload(xhat1 + j), x2 = vload(xhat2 + j);
    const vec_t<T> g1 = g * vload(gamma1 + j), g2 = g * vload(gamma2 + j);
    a1 += g1;
    b1 += g1 * x1;
    a2 += g2;
    b2 += g2 * x2;
    vstore(dgamma1 + j, vload(dgamma1 + j) + g * x1);
    vstore(dgamma2 + j, vload(dgamma2 + j) + g * x2);
    vstore(dbeta + j, vload(dbeta + j) + g);
  }
  const T m11 = vsum<T>(a1) / T(n), m12 = vsum<T>(b1) / T(n);
  const T m21 = vsum<T>(a2) / T(n), m22 = vsum<T>(b2) / T(n);
  for (long j = 0; j < len; j += V) {
    const vec_t<T> g = vload(da + j), ok = vload(valid + j);
    vstore(du + j, vmasked<T>((g * vload(gamma2 + j) - m21 - vload(xhat2 + j) * m22) * rstd2, ok));
    vstore(da + j, vmasked<T>((g * vload(gamma1 + j) - m11 - vload(xhat1 + j) * m12) * rstd1, ok));
  }
}
