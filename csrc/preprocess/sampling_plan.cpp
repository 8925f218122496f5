#include "preprocess/sampling_plan.hpp"

#include <cstddef>

namespace trtpipe::preprocess {
namespace {

AxisTaps axis_taps(int new_size, int src_size, float inv, bool nearest) {
  AxisTaps taps;
  const auto n = static_cast<std::size_t>(new_size);
  taps.i0.resize(n);
  taps.i1.resize(n);
  taps.w0.resize(n);
  taps.w1.resize(n);
  for (int d = 0; d < new_size; ++d) {
    const auto i = static_cast<std::size_t>(d);
    if (nearest) {
      taps.i0[i] = taps.i1[i] = nearest_tap(d, src_size, new_size);
      taps.w1[i] = 0.0f;
    } else {
      linear_tap(d, inv, src_size, taps.i0[i], taps.i1[i], taps.w1[i]);
    }
    taps.w0[i] = 1.0f - taps.w1[i];
    taps.two_taps = taps.two_taps || taps.w1[i] != 0.0f;
  }
  return taps;
}

}  // namespace

SamplingPlan make_sampling_plan(const PixelParams& p) {
  SamplingPlan plan;
  plan.src_w = p.src_w;
  plan.src_h = p.src_h;
  plan.x = axis_taps(p.new_w, p.src_w, p.inv_x, p.nearest != 0);
  plan.y = axis_taps(p.new_h, p.src_h, p.inv_y, p.nearest != 0);
  return plan;
}

}  // namespace trtpipe::preprocess
