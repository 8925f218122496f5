#pragma once
// How far away the object in a box is: robust statistics of the depth pixels inside the box, one
// rule for the CPU (here) and the GPU kernel (pipeline/box_depth.cu), which share the helpers
// below and give the same numbers.
//
// The rule, per box (in depth-image pixels):
//  1. the inner region: the central `inner` fraction of the box's width and height (the box's
//     edges are mostly background), pixels [floor(x1'), ceil(x2')) x [floor(y1'), ceil(y2'))
//     of the image;
//  2. its measured pixels: depth in [min_depth, max_depth] metres, finite and > 0;
//  3. fewer than `min_pixels` of them: the box has no depth (depth NaN), never a guess;
//  4. the object's pixels: the measured ones within `tolerance` metres of their median (so a
//     farther background or a nearer occluder in the region is left out);
//  5. depth = their median, near / far = their `near_quantile` / `far_quantile` values.
// A rank-r value is the r-th smallest (0-based); the median's rank is (n - 1) / 2 (the lower
// median), a quantile q's is floor(q * (n - 1)): exact values of the image, no averaging.
#include <cmath>
#include <limits>
#include <vector>

#include "common/host_device.hpp"
#include "preprocess/depth_frame.hpp"
#include "preprocess/worker_pool.hpp"

namespace trtpipe::decode {

struct DepthRule {
  float inner = 0.5f;      // the central fraction of the box read, in (0, 1]
  float tolerance = 0.3f;  // metres around the median that still belong to the object
  float min_depth = 0.0f;  // metres; measurements outside [min_depth, max_depth] are ignored
  float max_depth = std::numeric_limits<float>::infinity();
  int min_pixels = 16;  // measured pixels a box needs in its inner region
  float near_quantile = 0.05f;
  float far_quantile = 0.95f;
};

// One box's statistics. depth/near/far are NaN where valid_pixels < min_pixels.
struct BoxDepth {
  int valid_pixels = 0;   // measured pixels in the inner region
  int object_pixels = 0;  // of them, within tolerance of their median
  float depth = 0.0f;     // metres: the object's median
  float near = 0.0f;
  float far = 0.0f;
};

// Half-open pixel window [x0, x1) x [y0, y1); empty when x1 <= x0 or y1 <= y0.
struct PixelWindow {
  int x0, y0, x1, y1;
};

TRTPIPE_HD PixelWindow inner_window(const float* box, float inner, int width, int height) {
  const float cx = 0.5f * (box[0] + box[2]), cy = 0.5f * (box[1] + box[3]);
  const float hw = 0.5f * inner * (box[2] - box[0]), hh = 0.5f * inner * (box[3] - box[1]);
  const float fx0 = floorf(cx - hw), fy0 = floorf(cy - hh);
  const float fx1 = ceilf(cx + hw), fy1 = ceilf(cy + hh);
  // clamp in float first: a box far outside the image must not overflow an int
  PixelWindow w;
  w.x0 = static_cast<int>(fminf(fmaxf(fx0, 0.0f), static_cast<float>(width)));
  w.y0 = static_cast<int>(fminf(fmaxf(fy0, 0.0f), static_cast<float>(height)));
  w.x1 = static_cast<int>(fminf(fmaxf(fx1, 0.0f), static_cast<float>(width)));
  w.y1 = static_cast<int>(fminf(fmaxf(fy1, 0.0f), static_cast<float>(height)));
  if (!(fx1 > fx0) || !(fy1 > fy0)) w.x1 = w.x0;  // NaN or inverted box: empty
  return w;
}

TRTPIPE_HD bool is_measured(float metres, const DepthRule& rule) {
  return metres > 0.0f && metres >= rule.min_depth && metres <= rule.max_depth &&
         metres <= 3.4e38f;  // NaN fails every comparison; inf fails the last
}

TRTPIPE_HD bool on_object(float metres, float median, const DepthRule& rule) {
  return fabsf(metres - median) <= rule.tolerance;
}

TRTPIPE_HD int quantile_rank(float q, int n) {
  const int rank = static_cast<int>(floorf(q * static_cast<float>(n - 1)));
  return rank < 0 ? 0 : (rank > n - 1 ? n - 1 : rank);
}

TRTPIPE_HD int median_rank(int n) { return (n - 1) / 2; }

// InputError for a rule out of range (inner outside (0, 1], negative tolerance, ...).
void check_rule(const DepthRule& rule);

// The statistics of `count` boxes (x1, y1, x2, y2 in depth-image pixels, row-major) of a
// checked depth frame in host memory, the boxes shared among `threads` threads (the caller's
// included; 0: one per core, at most 8).
class CpuBoxDepths {
 public:
  explicit CpuBoxDepths(int threads = 0);
  std::vector<BoxDepth> run(const preprocess::DepthFrame& depth, const float* boxes, int count,
                            const DepthRule& rule);

 private:
  preprocess::WorkerPool workers_;
};

// The same on the calling thread alone.
std::vector<BoxDepth> box_depths(const preprocess::DepthFrame& depth, const float* boxes,
                                 int count, const DepthRule& rule);

}  // namespace trtpipe::decode
