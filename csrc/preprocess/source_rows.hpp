#pragma once
// The byte ranges of a host frame that the preprocessing kernel reads for one geometry: the
// source rows its taps use (from the same sampling plan the CPU path uses, so exactly the rows
// of the kernel's linear_tap / nearest_tap), and for a 4:2:0 encoding the U V rows they share.
// A large downscale reads a fraction of the frame (1080 -> 180 rows: 360 of 1080), so staging a
// pageable frame copies only these. No CUDA here.
#include <cstddef>
#include <vector>

#include "preprocess/pixel.hpp"

namespace trtpipe::preprocess {

struct ByteRange {
  std::size_t offset = 0;
  std::size_t length = 0;
};

// Ascending, non-overlapping ranges within the first `frame_bytes` bytes of the frame that `p`
// describes (its src_h, step, encoding and geometry); adjacent rows are merged into one range.
std::vector<ByteRange> bytes_read(const PixelParams& p, std::size_t frame_bytes);

}  // namespace trtpipe::preprocess
