// One instruction set's kernels, as a table the bindings choose from at run time.
#pragma once
#include "layout.h"
#include "threads.h"

namespace lstmkit {

struct Kernels {
  int lanes_f32, lanes_f64;  // vector width in elements; buffers are padded to it
  void (*forward_f32)(const Dims&, const ForwardBuffers<float>&);
  void (*forward_f64)(const Dims&, const ForwardBuffers<double>&);
  void (*backward_f32)(const Dims&, const BackwardBuffers<float>&);
  void (*backward_f64)(const Dims&, const BackwardBuffers<double>&);
  void (*step_f32)(const Dims&, const StepBuffers<float>&);
  void (*step_f64)(const Dims&, const StepBuffers<double>&);
};

namespace avx512 { extern const Kernels kernels; }
namespace avx2 { extern const Kernels kernels; }
namespace generic { extern const Kernels kernels; }

}  // namespace lstmkit
