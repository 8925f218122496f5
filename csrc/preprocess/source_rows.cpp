#include "preprocess/source_rows.hpp"

#include <algorithm>
#include <cstdint>

#include "preprocess/sampling_plan.hpp"

namespace trtpipe::preprocess {
namespace {

void add_row(std::vector<ByteRange>& ranges, std::size_t offset, std::size_t step,
             std::size_t frame_bytes) {
  if (offset >= frame_bytes) return;
  const std::size_t length = std::min(step, frame_bytes - offset);
  if (!ranges.empty() && ranges.back().offset + ranges.back().length == offset) {
    ranges.back().length += length;  // the next row: one copy
  } else {
    ranges.push_back({offset, length});
  }
}

}  // namespace

std::vector<ByteRange> bytes_read(const PixelParams& p, std::size_t frame_bytes) {
  const SamplingPlan plan = make_sampling_plan(p);
  // Both taps of every row, whatever their weights: the kernel skips a tap of weight 0, so this
  // is a superset of what it reads.
  std::vector<char> used(static_cast<std::size_t>(p.src_h), 0);
  for (std::size_t k = 0; k < plan.y.i0.size(); ++k) {
    used[static_cast<std::size_t>(plan.y.i0[k])] = 1;
    used[static_cast<std::size_t>(plan.y.i1[k])] = 1;
  }
  const auto step = static_cast<std::size_t>(p.step);
  std::vector<ByteRange> ranges;
  for (int y = 0; y < p.src_h; ++y) {
    if (used[static_cast<std::size_t>(y)]) add_row(ranges, static_cast<std::size_t>(y) * step,
                                                   step, frame_bytes);
  }
  if (has_uv_plane(static_cast<Encoding>(p.encoding))) {
    const std::size_t uv_start = static_cast<std::size_t>(p.src_h) * step;
    for (int y = 0; y < p.src_h; y += 2) {
      const bool either = used[static_cast<std::size_t>(y)] ||
                          (y + 1 < p.src_h && used[static_cast<std::size_t>(y + 1)]);
      if (either) add_row(ranges, uv_start + static_cast<std::size_t>(y / 2) * step, step,
                          frame_bytes);
    }
  }
  return ranges;
}

}  // namespace trtpipe::preprocess
