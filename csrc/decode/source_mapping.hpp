#pragma once
// The letterbox inverse: network pixels back to source pixels, as the preprocessing placed the
// image (preprocess/letterbox.hpp gives the forward geometry). The one implementation: the
// decoders map their boxes with it, and Python's Letterbox.to_source calls it. No CUDA here.
#include <algorithm>
#include <cstddef>

namespace trtpipe::decode {

// (v - pad) / scale, clipped to [0, source size]. Off: boxes stay in network pixels.
struct SourceMapping {
  bool enabled = false;
  double pad_x = 0.0, pad_y = 0.0, scale_x = 1.0, scale_y = 1.0, src_w = 0.0, src_h = 0.0;
};

inline double to_source(double v, double pad, double scale, double extent) {
  return std::min(std::max((v - pad) / scale, 0.0), extent);
}

// Coordinate j (0..3: x1, y1, x2, y2) of a box, mapped.
inline double to_source(const SourceMapping& mapping, int j, double v) {
  if (!mapping.enabled) return v;
  return j % 2 == 0 ? to_source(v, mapping.pad_x, mapping.scale_x, mapping.src_w)
                    : to_source(v, mapping.pad_y, mapping.scale_y, mapping.src_h);
}

// `count` boxes x1 y1 x2 y2, in place.
template <typename T>
void boxes_to_source(T* boxes, std::size_t count, const SourceMapping& mapping) {
  for (std::size_t k = 0; k < 4 * count; ++k) {
    boxes[k] = static_cast<T>(to_source(mapping, static_cast<int>(k % 4), boxes[k]));
  }
}

}  // namespace trtpipe::decode
