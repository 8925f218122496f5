#include "decode/box_depth.hpp"

#include <algorithm>
#include <string>

#include "common/errors.hpp"

namespace trtpipe::decode {

void check_rule(const DepthRule& rule) {
  auto fail = [](const std::string& what, float given) {
    throw InputError(what + ", given " + std::to_string(given));
  };
  if (!(rule.inner > 0.0f && rule.inner <= 1.0f)) fail("inner: expected in (0, 1]", rule.inner);
  if (!(rule.tolerance >= 0.0f)) fail("tolerance: expected metres >= 0", rule.tolerance);
  if (!(rule.min_depth >= 0.0f)) fail("min_depth: expected metres >= 0", rule.min_depth);
  if (!(rule.max_depth > rule.min_depth)) {
    fail("max_depth: expected metres > min_depth (" + std::to_string(rule.min_depth) + ")",
         rule.max_depth);
  }
  if (rule.min_pixels < 1) fail("min_pixels: expected >= 1", static_cast<float>(rule.min_pixels));
  if (!(rule.near_quantile >= 0.0f && rule.near_quantile <= rule.far_quantile &&
        rule.far_quantile <= 1.0f)) {
    fail("near_quantile/far_quantile: expected 0 <= near <= far <= 1; near",
         rule.near_quantile);
  }
}

namespace {

// The rank-th smallest of values[first, last) (values in it are reordered around it).
float rank_value(std::vector<float>& values, int rank, int first, int last) {
  std::nth_element(values.begin() + first, values.begin() + rank, values.begin() + last);
  return values[static_cast<std::size_t>(rank)];
}

template <preprocess::DepthEncoding E>
void gather_measured(const preprocess::DepthFrame& depth, const PixelWindow& w,
                     const DepthRule& rule, std::vector<float>& out) {
  const auto* bytes = static_cast<const unsigned char*>(depth.data);
  for (int y = w.y0; y < w.y1; ++y) {
    const unsigned char* row = bytes + static_cast<std::ptrdiff_t>(y) * depth.step;
    for (int x = w.x0; x < w.x1; ++x) {
      const float metres = preprocess::depth_metres(row, x, E, depth.scale);
      if (is_measured(metres, rule)) out.push_back(metres);
    }
  }
}

BoxDepth one_box(const preprocess::DepthFrame& depth, const float* box, const DepthRule& rule,
                 std::vector<float>& measured, std::vector<float>& object) {
  BoxDepth out;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  out.depth = out.near = out.far = nan;
  const PixelWindow w = inner_window(box, rule.inner, depth.width, depth.height);
  measured.clear();
  if (w.x1 <= w.x0 || w.y1 <= w.y0) return out;
  measured.reserve(static_cast<std::size_t>(w.x1 - w.x0) * static_cast<std::size_t>(w.y1 - w.y0));
  if (depth.encoding == preprocess::DepthEncoding::k16UC1) {
    gather_measured<preprocess::DepthEncoding::k16UC1>(depth, w, rule, measured);
  } else {
    gather_measured<preprocess::DepthEncoding::k32FC1>(depth, w, rule, measured);
  }
  out.valid_pixels = static_cast<int>(measured.size());
  if (out.valid_pixels < rule.min_pixels) return out;
  object.clear();
  const float median = rank_value(measured, median_rank(out.valid_pixels), 0, out.valid_pixels);
  for (float metres : measured) {
    if (on_object(metres, median, rule)) object.push_back(metres);
  }
  const int n = static_cast<int>(object.size());  // >= 1: the median itself
  const int mid = median_rank(n);
  const int near = quantile_rank(rule.near_quantile, n);
  const int far = quantile_rank(rule.far_quantile, n);
  out.object_pixels = n;
  out.depth = rank_value(object, mid, 0, n);
  // around the median now: the smaller ranks lie before it, the larger after
  out.near = near < mid ? rank_value(object, near, 0, mid) : out.depth;
  out.far = far > mid ? rank_value(object, far, mid + 1, n) : out.depth;
  return out;
}

}  // namespace

std::vector<BoxDepth> box_depths(const preprocess::DepthFrame& depth, const float* boxes,
                                 int count, const DepthRule& rule) {
  check_rule(rule);
  std::vector<BoxDepth> out(static_cast<std::size_t>(count));
  std::vector<float> measured, object;
  for (int k = 0; k < count; ++k) out[k] = one_box(depth, boxes + 4 * k, rule, measured, object);
  return out;
}

}  // namespace trtpipe::decode
