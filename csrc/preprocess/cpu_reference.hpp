#pragma once
// The CPU implementation: the fallback where there is no GPU and the oracle for the kernel.
#include "preprocess/frame.hpp"
#include "preprocess/letterbox.hpp"
#include "preprocess/options.hpp"

namespace trtpipe::preprocess {

// Validates frame and output, writes batch slot `out.batch_index` of host tensor `out`, and
// returns the geometry used. Throws InputError for bad input.
Letterbox preprocess_cpu(const Options& options, const Frame& frame, const Tensor& out);

}  // namespace trtpipe::preprocess
