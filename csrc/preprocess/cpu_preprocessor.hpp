#pragma once
// The fast CPU path: the per-pixel maths of pixel.hpp restructured per row (source taps
// precomputed per geometry, padding written as fills, one decode of each source row's taps,
// whole-row float16 conversion) and spread over a few threads. Same numbers, bit for bit, as
// preprocess_cpu_reference, which the tests hold it to.
#include <memory>

#include "preprocess/frame.hpp"
#include "preprocess/letterbox.hpp"
#include "preprocess/options.hpp"

namespace trtpipe::preprocess {

class CpuPreprocessor {
 public:
  // `threads`: threads that share a frame's rows, the caller included; 0: one per usable core,
  // at most 8. Throws InputError for a negative count.
  CpuPreprocessor(const Options& options, int threads);
  ~CpuPreprocessor();
  CpuPreprocessor(const CpuPreprocessor&) = delete;
  CpuPreprocessor& operator=(const CpuPreprocessor&) = delete;

  // Validates frame and output, writes batch slot `out.batch_index` of host tensor `out`, and
  // returns the geometry used. Throws InputError for bad input.
  Letterbox run(const Frame& frame, const Tensor& out);

  int threads() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trtpipe::preprocess
