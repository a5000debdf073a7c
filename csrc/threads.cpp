#include "threads.h"

#if defined(_OPENMP)
#include <omp.h>
#else
#include <thread>
#include <vector>
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <xmmintrin.h>
#define LSTMKIT_HAS_MXCSR 1
#endif

namespace lstmkit {
namespace {

// Flush-to-zero and denormals-are-zero while alive (long sequences otherwise slow down several-fold once
// gradients through the forget gates sink into the denormal range).
class FlushDenormals {
 public:
#ifdef LSTMKIT_HAS_MXCSR
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040); }
  ~FlushDenormals() { _mm_setcsr(saved_); }

 private:
  unsigned int saved_;
#endif
};

long slice(long rows, int k, int n) { return rows * k / n; }

}  // namespace

bool uses_openmp() {
#if defined(_OPENMP)
  return true;
#else
  return false;
#endif
}

void run_parallel(int threads, long rows, const std::function<void(int, long, long)>& fn) {
  if (threads < 1) threads = 1;
  if (threads > rows) threads = int(rows > 0 ? rows : 1);
  if (threads == 1) {
    FlushDenormals ftz;
    fn(0, 0, rows);
    return;
  }
#if defined(_OPENMP)
  // The team comes from the OpenMP runtime torch itself runs on (its libgomp.so.1 is loaded first and
  // serves both), so our workers are torch's idle workers, not a second pool spinning against them.
#pragma omp parallel num_threads(threads)
  {
    const int k = omp_get_thread_num(), n = omp_get_num_threads();
    FlushDenormals ftz;
    fn(k, slice(rows, k, n), slice(rows, k + 1, n));
  }
#else
  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  for (int k = 1; k < threads; ++k)
    workers.emplace_back([&fn, k, rows, threads] {
      FlushDenormals ftz;
      fn(k, slice(rows, k, threads), slice(rows, k + 1, threads));
    });
  {
    FlushDenormals ftz;
    fn(0, slice(rows, 0, threads), slice(rows, 1, threads));
  }
  for (auto& w : workers) w.join();
#endif
}

}  // namespace lstmkit
