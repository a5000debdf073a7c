#include "threads.h"

#include <thread>
#include <vector>

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

}  // namespace

void run_parallel(int threads, long rows, const std::function<void(int, long, long)>& fn) {
  if (threads < 1) threads = 1;
  if (threads > rows) threads = int(rows > 0 ? rows : 1);
  auto slice = [&](int k) { return rows * k / threads; };
  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  for (int k = 1; k < threads; ++k)
    workers.emplace_back([&fn, k, b0 = slice(k), b1 = slice(k + 1)] {
      FlushDenormals ftz;
      fn(k, b0, b1);
    });
  {
    FlushDenormals ftz;
    fn(0, slice(0), slice(1));
  }
  for (auto& w : workers) w.join();
}

}  // namespace lstmkit
