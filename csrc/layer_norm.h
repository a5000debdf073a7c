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
  *rstd = T(1) / __builtin_sqrt(var + T(kLayerNormEps));
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
    const vec_t<T> xh = (vload(x + j) - mean) * rstd * vload(valid + j);
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
    vstore(dy + j, dx * vload(valid + j));
  }
}
