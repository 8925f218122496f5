#pragma once
// The source taps of every output column and row for one frame geometry, computed once with
// the same linear_tap / nearest_tap as the per-pixel maths, so the fast CPU path reads the same
// pixels with the same weights without a floor per pixel.
#include <vector>

#include "preprocess/pixel.hpp"

namespace trtpipe::preprocess {

struct AxisTaps {
  std::vector<int> i0;    // first source index of each resized output index
  std::vector<int> i1;    // second source index (== i0 for nearest)
  std::vector<float> w0;  // 1 - w1, as the per-pixel maths computes it
  std::vector<float> w1;  // weight of i1; 0 for nearest and for exact integer ratios
  bool two_taps = false;  // some w1 != 0
};

struct SamplingPlan {
  int src_w = 0;
  int src_h = 0;
  AxisTaps x;  // new_w entries
  AxisTaps y;  // new_h entries
};

// The plan for the frame and geometry in `p` (its src_*, new_*, inv_* and nearest).
SamplingPlan make_sampling_plan(const PixelParams& p);

}  // namespace trtpipe::preprocess
