// One instruction set's kernels, as a table the bindings choose from at run time.
#pragma once
#include <cstdint>
#include <cstdlib>
#if defined(__x86_64__)
#include <immintrin.h>  // before any `#pragma GCC target`: intrinsics carry their own target attributes
#endif

#include "layout.h"
#include "threads.h"

namespace lstmkit {

struct Kernels {
  int lanes_f32, lanes_f64;  // vector width in elements; buffers are padded to it
  int panel_vectors;         // width in vectors of a packed weight panel (gemm.h)
  void (*forward_f32)(const Dims&, const ForwardBuffers<float>&);
  void (*forward_f64)(const Dims&, const ForwardBuffers<double>&);
  void (*backward_f32)(const Dims&, const BackwardBuffers<float>&);
  void (*backward_f64)(const Dims&, const BackwardBuffers<double>&);
  void (*step_f32)(const Dims&, const StepBuffers<float>&);
  void (*step_f64)(const Dims&, const StepBuffers<double>&);
  void (*bernoulli_f32)(float*, long, double, uint64_t);
  void (*bernoulli_f64)(double*, long, double, uint64_t);
};

// Scratch memory aligned to 64 bytes, so that full-vector loads and stores never split a cache line.
template <class T>
T* scratch_alloc(long n) {
  const size_t bytes = (size_t(n) * sizeof(T) + 63) / 64 * 64;
  return static_cast<T*>(std::aligned_alloc(64, bytes > 0 ? bytes : 64));
}

namespace avx512 { extern const Kernels kernels; }
namespace avx2 { extern const Kernels kernels; }
namespace generic { extern const Kernels kernels; }

}  // namespace lstmkit
