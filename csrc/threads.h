// Splitting the batch between short-lived worker threads, with denormals flushed in each of them.
#pragma once
#include <functional>

namespace lstmkit {

// Runs fn(thread, b0, b1) on `threads` contiguous slices of the rows 0..rows-1, the calling thread
// taking the first one. Every thread sets flush-to-zero and denormals-are-zero for the call and restores
// its previous floating-point mode afterwards. No barrier: the slices are independent for the whole call.
void run_parallel(int threads, long rows, const std::function<void(int, long, long)>& fn);

}  // namespace lstmkit
