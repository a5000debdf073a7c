// Splitting the batch between worker threads, with denormals flushed in each of them.
#pragma once
#include <functional>

namespace lstmkit {

// Runs fn(thread, b0, b1) on up to `threads` contiguous slices of the rows 0..rows-1, the calling thread
// taking the first one. The workers are the OpenMP runtime's (the one torch runs on) when the build has
// OpenMP, else short-lived std::threads. Every thread sets flush-to-zero and denormals-are-zero for the
// call and restores its previous floating-point mode afterwards. No barrier: the slices are independent
// for the whole call. A thread index k is below `threads`.
void run_parallel(int threads, long rows, const std::function<void(int, long, long)>& fn);

// Whether run_parallel runs on OpenMP (the build found -fopenmp).
bool uses_openmp();

}  // namespace lstmkit
