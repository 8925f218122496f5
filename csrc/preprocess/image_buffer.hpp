#pragma once
// The bytes of an image and how its rows lie in them: what colour frames (frame.hpp) and depth
// images (depth_frame.hpp) share, so a reader of either fills it the same way. No CUDA.
#include <cstddef>
#include <cstdint>

namespace trtpipe::preprocess {

struct ImageBuffer {
  const void* data = nullptr;
  std::size_t size = 0;  // bytes readable from data
  int width = 0;
  int height = 0;
  std::int64_t step = 0;  // 0: tightly packed
};

}  // namespace trtpipe::preprocess
