#pragma once
// The CPU reference: sample() and normalise() of pixel.hpp once per output pixel, nothing
// more. Slow and obviously the kernel's maths: the oracle for the kernel and for the fast CPU
// path (cpu_preprocessor.hpp), which must match it bit for bit.
#include "preprocess/frame.hpp"
#include "preprocess/letterbox.hpp"
#include "preprocess/options.hpp"

namespace trtpipe::preprocess {

// Validates frame and output, writes batch slot `out.batch_index` of host tensor `out`, and
// returns the geometry used. Throws InputError for bad input.
Letterbox preprocess_cpu_reference(const Options& options, const Frame& frame, const Tensor& out);

}  // namespace trtpipe::preprocess
