// Portable short vectors (GCC/Clang vector extensions) and the activations the LSTM cell needs.
//
// This header is included once per instruction set, inside that set's namespace, after
// `#pragma GCC target(...)`; LSTMKIT_VBYTES is the vector width in bytes (64 AVX-512, 32 AVX2, 16 baseline).
// It includes no system header itself (isa_api.h does that first, <immintrin.h> included), so every
// function here is compiled for the chosen instruction set and nothing leaks between sets.

template <class T>
struct Vec {
  typedef T type __attribute__((vector_size(LSTMKIT_VBYTES), aligned(sizeof(T))));
  // the same vector, read and written in place through a T* (may_alias: it aliases the Ts it covers)
  typedef T memory __attribute__((vector_size(LSTMKIT_VBYTES), aligned(sizeof(T)), may_alias));
  static constexpr int lanes = LSTMKIT_VBYTES / int(sizeof(T));
};

template <class T>
using vec_t = typename Vec<T>::type;

// An unaligned load or store of one vector, one instruction (vmovups). Not __builtin_memcpy: under
// `#pragma GCC target("avx2")` GCC 12 expands a 32-byte memcpy into two 16-byte moves through the stack,
// and the wide reload that follows stalls on store forwarding; the AVX2 GEMM ran at 8% of the cores'
// rate that way (found on a Zen 3 machine without AVX-512).
template <class T>
inline vec_t<T> vload(const T* p) {
  return *reinterpret_cast<const typename Vec<T>::memory*>(p);
}

template <class T>
inline void vstore(T* p, vec_t<T> v) {
  *reinterpret_cast<typename Vec<T>::memory*>(p) = v;
}

// A store that bypasses the caches where the target is a whole aligned vector (x86 streaming stores), for
// state written once in the forward and read back only in the backward: it spares the read of each line
// before it is written, and where the kept state outgrows L2 (C1's layer norm keeps ~7 MB) the backward
// finds little of it cached anyway. Measured only there (layer norm's x̂: C1 and C3 2-6% faster; the
// gates and tanh(ĉ) gained nothing). A thread that streamed calls vstream_fence() before it returns.
template <class T>
inline void vstream(T* p, vec_t<T> v) {
#if defined(__x86_64__) && (LSTMKIT_VBYTES == 64 || LSTMKIT_VBYTES == 32)
  if ((reinterpret_cast<uintptr_t>(p) & (LSTMKIT_VBYTES - 1)) == 0) {  // the vector's bits, as integers
#if LSTMKIT_VBYTES == 64
    _mm512_stream_si512(reinterpret_cast<__m512i*>(p), reinterpret_cast<__m512i>(v));
#else
    _mm256_stream_si256(reinterpret_cast<__m256i*>(p), reinterpret_cast<__m256i>(v));
#endif
    return;
  }
#endif
  vstore(p, v);
}

// Orders streaming stores before whatever follows (another thread's reads after the join).
inline void vstream_fence() {
#if defined(__x86_64__)
  _mm_sfence();
#endif
}

// x in every lane: x - (+0) is x for every x (-0 and NaN included), so it compiles to the broadcast
// alone; 0 + x is not (it turns -0 into +0), and costs an add before every broadcast.
template <class T>
inline vec_t<T> vsplat(T x) {
  return x - vec_t<T>{};
}

// v where valid is nonzero, else exactly 0: a select, not v * valid, so that a NaN or inf (a row whose
// statistics overflowed) never reaches the padding lanes, which scratch shared between rows carries over.
template <class T>
inline vec_t<T> vmasked(vec_t<T> v, vec_t<T> valid) {
  return valid != 0 ? v : vsplat<T>(0);
}

// dst[0..n) = src[0..n): whole vectors, then the tail; inline (a libc call per short row costs more).
template <class T>
inline void vcopy(T* dst, const T* src, long n) {
  long j = 0;
  for (; j + Vec<T>::lanes <= n; j += Vec<T>::lanes) vstore(dst + j, vload(src + j));
  for (; j < n; ++j) dst[j] = src[j];
}

// Ask for the cache lines of p[0..n) ahead of use (for writing if `write`), one request per 64 bytes.
template <class T>
inline void prefetch_row(const T* p, long n, bool write) {
  const char* c = reinterpret_cast<const char*>(p);
  const long bytes = n * long(sizeof(T));
  if (write)
    for (long i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 1, 3);
  else
    for (long i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 0, 3);
}

// dst[0..n) += src[0..n)
template <class T>
inline void vadd(T* dst, const T* src, long n) {
  long j = 0;
  for (; j + Vec<T>::lanes <= n; j += Vec<T>::lanes) vstore(dst + j, vload(dst + j) + vload(src + j));
  for (; j < n; ++j) dst[j] += src[j];
}

// exp(x) for float32: x = n ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to r^6
// (relative error < 2e-7), then the result scaled by 2^n.
inline vec_t<float> vexp(vec_t<float> x) {
#if LSTMKIT_VBYTES == 64 && defined(__x86_64__)
  // AVX-512: round and scale in one instruction each (vrndscaleps, vscalefps).
  // clamp with x as the second operand: max/min return it when it is NaN, so NaN propagates. The upper
  // bound keeps exp finite (e^88 = 1.65e38 < FLT_MAX): σ(x) = 1 / (1 + e^-x) would otherwise take 1/inf
  // through vrecip's Newton step, 0 · (2 - inf · 0) = NaN, for a pre-activation below -88.7
  const __m512 xc = _mm512_min_ps(_mm512_set1_ps(88.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), (__m512)x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)), 0);
  const vec_t<float> nf = (vec_t<float>)n;
  const vec_t<float> r = (vec_t<float>)xc - nf * 0.693145751953125f - nf * 1.428606765330187e-06f;
#else
  typedef int vi __attribute__((vector_size(LSTMKIT_VBYTES)));
  x = x < -87.0f ? vsplat(-87.0f) : x;
  x = x > 88.0f ? vsplat(88.0f) : x;
  const vec_t<float> t = x * 1.44269504088896341f + 0.5f;
  vi n = __builtin_convertvector(t, vi);  // truncation toward zero
  n -= (__builtin_convertvector(n, vec_t<float>) > t) ? 1 : 0;  // floor
  const vec_t<float> nf = __builtin_convertvector(n, vec_t<float>);
  const vec_t<float> r = x - nf * 0.693145751953125f - nf * 1.428606765330187e-06f;
#endif
  vec_t<float> p = vsplat(1.0f / 720);
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
#if LSTMKIT_VBYTES == 64 && defined(__x86_64__)
  return (vec_t<float>)_mm512_scalef_ps((__m512)p, n);
#else
  const vi bits = (n + 127) << 23;
  return p * (vec_t<float>)bits;
#endif
}

// 1/x: the hardware estimate (14 bits AVX-512, 12 bits AVX2) and one Newton step, r (2 - x r), which
// leaves it within ~1 ulp of the division at a fraction of its cost.
inline vec_t<float> vrecip(vec_t<float> x) {
#if LSTMKIT_VBYTES == 64 && defined(__x86_64__)
  const vec_t<float> r = (vec_t<float>)_mm512_rcp14_ps((__m512)x);
  return r * (2.0f - x * r);
#elif LSTMKIT_VBYTES == 32 && defined(__x86_64__)
  const vec_t<float> r = (vec_t<float>)_mm256_rcp_ps((__m256)x);
  return r * (2.0f - x * r);
#else
  return 1.0f / x;
#endif
}

// σ(x) = 1 / (1 + exp(-x))
inline vec_t<float> vsigmoid(vec_t<float> x) { return vrecip(1.0f + vexp(-x)); }

// tanh(x) as a rational function, x·P(x²)/Q(x²) with P of degree 6 and Q of degree 3 in x² (the
// minimax fit Eigen uses for float), on x clamped to ±7.9053 where it reaches 1 to float precision:
// relative error below 3.6e-7 over [-20, 20] and ~1e-7 near 0, where an exp-based form loses it
// (tests/ops/test_native.py checks both); 5.3 ns per AVX-512 vector on one core of the test machine
// against 6.8 for an exp form and a Taylor series blended. NaN propagates (the clamps keep it).
inline vec_t<float> vtanh(vec_t<float> x) {
  constexpr float c = 7.90531110763549805f;
  const vec_t<float> xin = x;
  x = x > c ? vsplat(c) : x;
  x = x < -c ? vsplat(-c) : x;
  const vec_t<float> x2 = x * x;
  vec_t<float> p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = p * x2 - 8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  vec_t<float> q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  // past the clamp, exactly ±1 (the fit gives 1 - 2.4e-7 there): in saturation the derivative 1 - tanh^2
  // is then 0 as in torch, not 4.8e-7 leaking into the weight gradients of every saturated unit
  const vec_t<float> t = p * x * vrecip(q);
  return xin >= c ? vsplat(1.0f) : (xin <= -c ? vsplat(-1.0f) : t);
}

// float64: lane by lane through libm, accurate to the last bits (the float64 path is for checking,
// not for speed).
inline vec_t<double> vsigmoid(vec_t<double> x) {
  for (int k = 0; k < Vec<double>::lanes; ++k) x[k] = 1.0 / (1.0 + __builtin_exp(-x[k]));
  return x;
}

inline vec_t<double> vtanh(vec_t<double> x) {
  for (int k = 0; k < Vec<double>::lanes; ++k) x[k] = __builtin_tanh(x[k]);
  return x;
}

// 1 / sqrt(x) for a scalar of the vector's type (float stays float: no round trip through double).
inline float rsqrt_scalar(float x) { return 1.0f / __builtin_sqrtf(x); }
inline double rsqrt_scalar(double x) { return 1.0 / __builtin_sqrt(x); }

// Σ of the lanes, as a tree of halving adds (log2(lanes) deep, not lanes deep: layer norm waits on four
// of them per row). AVX-512 has it as a sequence of in-register shuffles; elsewhere through memory.
template <class T>
inline T vsum(vec_t<T> v) {
  constexpr int n = Vec<T>::lanes;
  T a[n];
  __builtin_memcpy(a, &v, sizeof(v));
#pragma GCC unroll 8
  for (int w = n / 2; w > 0; w /= 2)
#pragma GCC unroll 8
    for (int k = 0; k < w; ++k) a[k] += a[k + w];
  return a[0];
}

#if LSTMKIT_VBYTES == 64 && defined(__x86_64__)
template <>
inline float vsum<float>(vec_t<float> v) {
  return _mm512_reduce_add_ps((__m512)v);
}

template <>
inline double vsum<double>(vec_t<double> v) {
  return _mm512_reduce_add_pd((__m512d)v);
}
#endif
