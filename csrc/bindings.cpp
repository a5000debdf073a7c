// Python bindings of the native LSTM time loop (module lstmkit.ops._native).
//
// The Python side (lstmkit/ops/native.py) validates every tensor and passes raw addresses of contiguous
// buffers with their shapes; nothing here includes PyTorch. The instruction set is chosen once at import
// (AVX-512, AVX2, or the portable build) and can be lowered with set_isa() for testing.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "isa_api.h"
#include "threads.h"

namespace py = pybind11;
using lstmkit::Dims;
using lstmkit::Kernels;

namespace {

struct Isa {
  const char* name;
  const Kernels* kernels;
};

std::vector<Isa> available_isas() {
  std::vector<Isa> isas;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
    isas.push_back({"avx512", &lstmkit::avx512::kernels});
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    isas.push_back({"avx2", &lstmkit::avx2::kernels});
#endif
  isas.push_back({"generic", &lstmkit::generic::kernels});
  return isas;
}

Isa current = available_isas().front();

Dims make_dims(const std::vector<int64_t>& v) {
  if (v.size() != 20) throw std::invalid_argument("dims: expected 20 integers");
  Dims d;
  d.T = v[0], d.B = v[1], d.H = v[2], d.R = v[3], d.Hp = v[4], d.Rp = v[5];
  d.projection = v[6], d.peephole = v[7], d.layer_norm = v[8], d.coupled = v[9];
  d.dropout = v[10], d.zoneout_h = v[11], d.zoneout_c = v[12], d.lengths = v[13];
  d.keep = v[14], d.threads = int(v[15]);
  d.I = v[16], d.Ip = v[17], d.dx = v[18], d.zoneout_const = v[19];
  if (d.I < 0 || (d.I > 0 && d.Ip <= d.I)) throw std::invalid_argument("dims: need 0 <= I < Ip");
  return d;
}

template <class T>
const T* in(int64_t p) { return reinterpret_cast<const T*>(p); }
template <class T>
T* out(int64_t p) { return reinterpret_cast<T*>(p); }

template <class T>
lstmkit::ForwardBuffers<T> forward_buffers(const std::vector<int64_t>& p) {
  if (p.size() != 33) throw std::invalid_argument("forward buffers: expected 33 addresses");
  return {in<T>(p[0]),  in<T>(p[1]),  in<T>(p[2]),  in<T>(p[3]),  in<T>(p[4]),
          in<T>(p[5]),  in<T>(p[6]),  in<T>(p[7]),  in<T>(p[8]),  in<T>(p[9]),
          in<T>(p[10]), in<T>(p[11]), in<T>(p[12]), reinterpret_cast<const int64_t*>(p[13]),
          out<T>(p[14]), out<T>(p[15]), out<T>(p[16]), out<T>(p[17]), out<T>(p[18]),
          out<T>(p[19]), out<T>(p[20]), out<T>(p[21]), out<T>(p[22]), out<T>(p[23]), out<T>(p[24]),
          in<T>(p[25]),  in<T>(p[26]),  in<T>(p[27]),  in<T>(p[28]),  in<T>(p[29]),  out<T>(p[30]),
          out<T>(p[31]), out<T>(p[32])};
}

template <class T>
lstmkit::BackwardBuffers<T> backward_buffers(const std::vector<int64_t>& fp, const std::vector<int64_t>& p) {
  if (p.size() != 16) throw std::invalid_argument("backward buffers: expected 16 addresses");
  return {forward_buffers<T>(fp), in<T>(p[0]),   in<T>(p[1]),   in<T>(p[2]),   in<T>(p[3]),   in<T>(p[4]),
          out<T>(p[5]),           out<T>(p[6]),  out<T>(p[7]),  out<T>(p[8]),  out<T>(p[9]),  out<T>(p[10]),
          out<T>(p[11]),          out<T>(p[12]), out<T>(p[13]), out<T>(p[14]), in<T>(p[15])};
}

void forward(bool f64, const std::vector<int64_t>& dims, const std::vector<int64_t>& ptrs) {
  const Dims d = make_dims(dims);
  if (f64) {
    const auto b = forward_buffers<double>(ptrs);
    py::gil_scoped_release nogil;
    current.kernels->forward_f64(d, b);
  } else {
    const auto b = forward_buffers<float>(ptrs);
    py::gil_scoped_release nogil;
    current.kernels->forward_f32(d, b);
  }
}

void backward(bool f64, const std::vector<int64_t>& dims, const std::vector<int64_t>& fptrs,
              const std::vector<int64_t>& bptrs) {
  const Dims d = make_dims(dims);
  if (f64) {
    const auto b = backward_buffers<double>(fptrs, bptrs);
    py::gil_scoped_release nogil;
    current.kernels->backward_f64(d, b);
  } else {
    const auto b = backward_buffers<float>(fptrs, bptrs);
    py::gil_scoped_release nogil;
    current.kernels->backward_f32(d, b);
  }
}

// Whether forward_bf16 can run: the AVX-512 kernels on a CPU with AVX512-BF16 (vdpbf16ps).
bool bf16_supported() {
#if defined(__x86_64__)
  return std::string(current.name) == "avx512" && __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

void require_bf16(const char* who) {
  if (!bf16_supported())
    throw std::invalid_argument(std::string(who) + ": needs the avx512 kernels on a CPU with AVX512-BF16, running " +
                                current.name);
}

// forward() of float32 with its step GEMMs in bfloat16 and float32 sums; the packed weights (W_hhᵀ, W_ihᵀ
// with layer norm, W_hrᵀ) come from pack_bf16.
void forward_bf16(const std::vector<int64_t>& dims, const std::vector<int64_t>& ptrs) {
  require_bf16("forward_bf16");
  Dims d = make_dims(dims);
  d.bf16 = true;
  const auto b = forward_buffers<float>(ptrs);
  py::gil_scoped_release nogil;
  current.kernels->forward_f32(d, b);
}

// backward() of a forward_bf16: its step GEMMs and weight gradients in bfloat16 with float32 sums; the
// packed weights (W_hh, W_ih rows with layer norm, W_hr) come from pack_bf16.
void backward_bf16(const std::vector<int64_t>& dims, const std::vector<int64_t>& fptrs,
                   const std::vector<int64_t>& bptrs) {
  require_bf16("backward_bf16");
  Dims d = make_dims(dims);
  d.bf16 = true;
  const auto b = backward_buffers<float>(fptrs, bptrs);
  py::gil_scoped_release nogil;
  current.kernels->backward_f32(d, b);
}

// A float32 matrix packed by pack() ((K, N) in column panels of `width`, each [K][w] row-major) as the
// bfloat16 panels of gemm_bf16.h: each [ceil(K/2)][w][2], rows 2k and 2k+1 side by side, rounded to
// nearest even, the odd K's last partner zero. `out` holds ceil(K/2)·N·2 uint16.
void pack_bf16(int64_t src_ptr, int64_t K, int64_t N, int64_t width, int64_t out_ptr) {
  if (src_ptr == 0 || out_ptr == 0 || K < 0 || N < 0 || width < 1)
    throw std::invalid_argument("pack_bf16: need addresses, K, N >= 0 and width >= 1");
  const float* src = in<float>(src_ptr);
  auto* dst = reinterpret_cast<uint16_t*>(out_ptr);
  const int64_t K2 = (K + 1) / 2;
  auto round = [](float x) -> uint16_t {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7fffffffU) > 0x7f800000U) return uint16_t((u >> 16) | 0x40);  // NaN stays a quiet NaN
    u += 0x7fffU + ((u >> 16) & 1U);
    return uint16_t(u >> 16);
  };
  py::gil_scoped_release nogil;
  for (int64_t n0 = 0; n0 < N; n0 += width) {
    const int64_t w = std::min(width, N - n0);
    const float* block = src + n0 * K;
    uint16_t* o = dst + 2 * n0 * K2;
    for (int64_t k = 0; k < K2; ++k)
      for (int64_t j = 0; j < w; ++j) {
        o[(k * w + j) * 2] = round(block[(2 * k) * w + j]);
        o[(k * w + j) * 2 + 1] = 2 * k + 1 < K ? round(block[(2 * k + 1) * w + j]) : uint16_t(0);
      }
  }
}

template <class T>
lstmkit::StepBuffers<T> step_buffers(const std::vector<int64_t>& fp, const std::vector<int64_t>& p) {
  if (p.size() != 7) throw std::invalid_argument("step buffers: expected 7 values");
  return {forward_buffers<T>(fp), in<T>(p[0]), in<T>(p[1]), in<T>(p[2]), in<T>(p[3]), in<T>(p[4]), out<T>(p[5]), p[6]};
}

// One streaming step; sp = (x, W_ihᵀ packed, bias, LN_ih gain, LN_ih bias, c_out, input size).
void step(bool f64, const std::vector<int64_t>& dims, const std::vector<int64_t>& fptrs,
          const std::vector<int64_t>& sp) {
  const Dims d = make_dims(dims);
  if (f64) {
    current.kernels->step_f64(d, step_buffers<double>(fptrs, sp));
  } else {
    current.kernels->step_f32(d, step_buffers<float>(fptrs, sp));
  }
}

// The addresses and shapes of step() that stay the same from step to step (packed weights, sizes), held
// on the C++ side: a step then passes only the five addresses that change, not ~60 integers to convert.
struct StepPlan {
  bool f64;
  std::vector<int64_t> dims, fptrs, sp;

  void run(int64_t x, int64_t h, int64_t c, int64_t h_out, int64_t c_out) const {
    std::vector<int64_t> f = fptrs, s = sp;  // copies: one plan may serve several threads
    f[1] = h, f[2] = c, f[14] = h_out;
    s[0] = x, s[5] = c_out;
    step(f64, dims, f, s);
  }
};

StepPlan step_plan(bool f64, const std::vector<int64_t>& dims, const std::vector<int64_t>& fptrs,
                   const std::vector<int64_t>& sp) {
  make_dims(dims);  // checked once here
  if (fptrs.size() != 33 || sp.size() != 7) throw std::invalid_argument("step_plan: expected 33 and 7 values");
  return StepPlan{f64, dims, fptrs, sp};
}

// out (steps·batch, width) = [x_t,b (n) | 1 | 0 ...]: the layer input as the in-loop projection reads it,
// read through its strides (in elements) so that a transposed batch-first input needs no copy first.
template <class T>
void pad_rows(const T* x, long steps, long batch, long n, long st, long sb, long si, long width, T* out) {
  for (long t = 0; t < steps; ++t)
    for (long b = 0; b < batch; ++b) {
      const T* src = x + t * st + b * sb;
      T* dst = out + (t * batch + b) * width;
      for (long j = 0; j < n; ++j) dst[j] = src[j * si];
      dst[n] = T(1);
      for (long j = n + 1; j < width; ++j) dst[j] = T(0);
    }
}

void pad_input(bool f64, int64_t x, const std::array<int64_t, 3>& sizes, const std::array<int64_t, 3>& strides,
               int64_t width, int64_t out_ptr) {
  const int64_t steps = sizes[0], batch = sizes[1], n = sizes[2];
  if (steps < 0 || batch < 0 || n < 1 || width <= n || strides[0] < 0 || strides[1] < 0 || strides[2] < 0)
    throw std::invalid_argument("pad_input: need sizes >= 0, strides >= 0 and 1 <= n < width");
  py::gil_scoped_release nogil;
  if (f64)
    pad_rows(in<double>(x), steps, batch, n, strides[0], strides[1], strides[2], width, out<double>(out_ptr));
  else
    pad_rows(in<float>(x), steps, batch, n, strides[0], strides[1], strides[2], width, out<float>(out_ptr));
}

// A block of a source matrix added into a packed (K, N) matrix: element (k, n) of group g is
// src[g·group_src + k·row_stride + n·col_stride] and lands at (k0 + g·group_k + k, n0 + g·group_n + n).
// Groups lay the gate blocks of a (4H, ·) weight out at the padded offsets q·Hp.
struct Block {
  int64_t src, row_stride, col_stride, k0, n0, rows, cols, groups, group_src, group_k, group_n;
};

// The (K, N) matrix in column panels of `width` (the last narrower), each row-major (gemm.h), zero
// where no block lands; blocks that land on the same element add up. width = N is plain row-major.
template <class T>
void pack_blocks(T* out, long K, long N, long width, const std::vector<Block>& blocks) {
  for (long j = 0; j < K * N; ++j) out[j] = T(0);
  for (const Block& b : blocks)
    for (long g = 0; g < b.groups; ++g)
      for (long n = 0; n < b.cols; ++n) {
        const long col = b.n0 + g * b.group_n + n, panel = col / width;
        const long wide = width < N - panel * width ? width : N - panel * width;
        T* dst = out + panel * width * K + (col - panel * width) + (b.k0 + g * b.group_k) * wide;
        const T* src = in<T>(b.src) + g * b.group_src + n * b.col_stride;
        for (long k = 0; k < b.rows; ++k) dst[k * wide] += src[k * b.row_stride];
      }
}

void pack(bool f64, int64_t out_ptr, int64_t K, int64_t N, int64_t width, const std::vector<std::array<int64_t, 11>>& spec) {
  if (K < 1 || N < 1 || width < 1 || width > N) throw std::invalid_argument("pack: need K, N >= 1 and 1 <= width <= N");
  std::vector<Block> blocks;
  for (const auto& v : spec) {
    const Block b{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]};
    const long last = b.groups - 1;
    if (b.src == 0 || b.rows < 0 || b.cols < 0 || b.groups < 1 || b.k0 < 0 || b.n0 < 0 || b.group_k < 0 ||
        b.group_n < 0 || b.k0 + last * b.group_k + b.rows > K || b.n0 + last * b.group_n + b.cols > N)
      throw std::invalid_argument("pack: a block lies outside the packed matrix");
    blocks.push_back(b);
  }
  py::gil_scoped_release nogil;
  if (f64)
    pack_blocks(out<double>(out_ptr), K, N, width, blocks);
  else
    pack_blocks(out<float>(out_ptr), K, N, width, blocks);
}

// Sums over the threads' copies of a buffer, each into its own output: for each spec (dst, offset, groups,
// group_stride, n), dst[g·n + j] = Σ_k src[k·stride + offset + g·group_stride + j] for g < groups, j < n.
// The backward's per-gate vector gradients (csrc/layout.h's dparams, one row of `stride` per thread) come
// out unpadded, one tensor each, in one call.
template <class T>
void gather_sums_of(const T* src, long threads, long stride, const std::vector<std::array<int64_t, 5>>& spec) {
  for (const auto& v : spec) {
    T* dst = out<T>(v[0]);
    const long offset = v[1], groups = v[2], group_stride = v[3], n = v[4];
    for (long g = 0; g < groups; ++g)
      for (long j = 0; j < n; ++j) {
        T sum = 0;
        for (long k = 0; k < threads; ++k) sum += src[k * stride + offset + g * group_stride + j];
        dst[g * n + j] = sum;
      }
  }
}

void gather_sums(bool f64, int64_t src_ptr, int64_t threads, int64_t stride,
                 const std::vector<std::array<int64_t, 5>>& spec) {
  if (src_ptr == 0 || threads < 1 || stride < 1)
    throw std::invalid_argument("gather_sums: need a source, threads >= 1 and stride >= 1");
  for (const auto& v : spec) {
    const int64_t offset = v[1], groups = v[2], group_stride = v[3], n = v[4];
    if (v[0] == 0 || offset < 0 || groups < 1 || group_stride < 0 || n < 0 ||
        offset + (groups - 1) * group_stride + n > stride)
      throw std::invalid_argument("gather_sums: an output reads outside a thread's row of the source");
  }
  py::gil_scoped_release nogil;
  if (f64)
    gather_sums_of(in<double>(src_ptr), threads, stride, spec);
  else
    gather_sums_of(in<float>(src_ptr), threads, stride, spec);
}

// Fills n floats at ptr with Bernoulli(p) 0/1 values from a counter-based hash of (seed, index).
void bernoulli(bool f64, int64_t ptr, int64_t n, double p, uint64_t seed) {
  if (n < 0) throw std::invalid_argument("bernoulli: n must be >= 0");
  if (!(p >= 0.0 && p <= 1.0)) throw std::invalid_argument("bernoulli: p must be in [0, 1]");
  py::gil_scoped_release nogil;
  if (f64)
    current.kernels->bernoulli_f64(out<double>(ptr), n, p, seed);
  else
    current.kernels->bernoulli_f32(out<float>(ptr), n, p, seed);
}

std::vector<std::string> isa_names() {
  std::vector<std::string> names;
  for (const auto& isa : available_isas()) names.emplace_back(isa.name);
  return names;
}

std::string set_isa(const std::string& name) {
  for (const auto& isa : available_isas())
    if (name == isa.name) {
      const std::string previous = current.name;
      current = isa;
      return previous;
    }
  throw std::invalid_argument("set_isa: unknown or unsupported instruction set '" + name + "'");
}

int lanes(int itemsize) { return itemsize == 8 ? current.kernels->lanes_f64 : current.kernels->lanes_f32; }

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "Native CPU time loop of the LSTM recurrence (see lstmkit.ops.native).";
  m.def("forward", &forward, py::arg("f64"), py::arg("dims"), py::arg("ptrs"));
  m.def("backward", &backward, py::arg("f64"), py::arg("dims"), py::arg("fptrs"), py::arg("bptrs"));
  m.def("forward_bf16", &forward_bf16, py::arg("dims"), py::arg("ptrs"),
        "forward() of float32 with bfloat16 products and float32 sums (see bf16_supported).");
  m.def("backward_bf16", &backward_bf16, py::arg("dims"), py::arg("fptrs"), py::arg("bptrs"),
        "backward() of a forward_bf16: bfloat16 products, float32 sums (see bf16_supported).");
  m.def("bf16_supported", &bf16_supported, "Whether forward_bf16 runs here (AVX-512 kernels and AVX512-BF16).");
  m.def("pack_bf16", &pack_bf16, py::arg("src"), py::arg("K"), py::arg("N"), py::arg("width"), py::arg("out"),
        "A float32 matrix packed by pack() as the bfloat16 pair panels of forward_bf16.");
  m.def("step", &step, py::arg("f64"), py::arg("dims"), py::arg("fptrs"), py::arg("sptrs"));
  py::class_<StepPlan>(m, "StepPlan", "step() with its fixed addresses and sizes held (see step_plan).")
      .def("run", &StepPlan::run, py::arg("x"), py::arg("h"), py::arg("c"), py::arg("h_out"), py::arg("c_out"),
           "One step: the addresses of x, h, c in and h, c out; the rest as the plan holds it.");
  m.def("step_plan", &step_plan, py::arg("f64"), py::arg("dims"), py::arg("fptrs"), py::arg("sptrs"),
        "A StepPlan for step(): slots 1, 2 and 14 of fptrs and 0 and 5 of sptrs are filled per step.");
  m.def("pad_input", &pad_input, py::arg("f64"), py::arg("x"), py::arg("sizes"), py::arg("strides"),
        py::arg("width"), py::arg("out"));
  m.def("pack", &pack, py::arg("f64"), py::arg("out"), py::arg("rows"), py::arg("cols"), py::arg("width"),
        py::arg("blocks"), "Pack source blocks into a (rows, cols) matrix in column panels (see bindings.cpp).");
  m.def("gather_sums", &gather_sums, py::arg("f64"), py::arg("src"), py::arg("threads"), py::arg("stride"),
        py::arg("outputs"), "Sum the threads' rows of src into one output per spec (see bindings.cpp).");
  m.def("bernoulli", &bernoulli, py::arg("f64"), py::arg("ptr"), py::arg("n"), py::arg("p"), py::arg("seed"));
  m.def("isa", [] { return std::string(current.name); }, "The instruction set in use.");
  m.def("threading", [] { return std::string(lstmkit::uses_openmp() ? "openmp" : "std::thread"); },
        "Where the worker threads come from: torch's OpenMP runtime, or short-lived std::threads.");
  m.def("isas", &isa_names, "Instruction sets this CPU can run, fastest first.");
  m.def("set_isa", &set_isa, py::arg("name"), "Switch instruction set; returns the previous one.");
  m.def("lanes", &lanes, py::arg("itemsize"), "Vector width in elements for 4- or 8-byte floats.");
  m.def(
      "panel", [](int itemsize) { return current.kernels->panel_vectors * lanes(itemsize); }, py::arg("itemsize"),
      "Column width in elements of a packed weight panel (see gemm.h).");
}
