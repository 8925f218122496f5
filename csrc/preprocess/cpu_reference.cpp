#include "preprocess/cpu_reference.hpp"

#include <cstdint>

#include "preprocess/half.hpp"
#include "preprocess/pixel.hpp"

namespace trtpipe::preprocess {
namespace {

template <typename T, typename Convert>
void write_slot(const PixelParams& p, bool nchw, T* slot, Convert convert) {
  const std::int64_t plane = static_cast<std::int64_t>(p.dst_w) * p.dst_h;
  for (int y = 0; y < p.dst_h; ++y) {
    for (int x = 0; x < p.dst_w; ++x) {
      const Rgb rgb = sample(p, x, y);
      const std::int64_t pixel = static_cast<std::int64_t>(y) * p.dst_w + x;
      for (int c = 0; c < 3; ++c) {
        const T value = convert(normalise(p, rgb, c));
        if (nchw) {
          slot[c * plane + pixel] = value;
        } else {
          slot[pixel * 3 + c] = value;
        }
      }
    }
  }
}

}  // namespace

Letterbox preprocess_cpu_reference(const Options& options, const Frame& frame_in, const Tensor& out) {
  const Frame frame = checked_frame(frame_in);
  check_tensor(out, options);
  const Letterbox lb =
      letterbox_params(frame.width, frame.height, options.dst_w, options.dst_h, options.resize);
  const PixelParams p = pixel_params(options, frame, lb);
  const bool nchw = options.layout == Layout::kNCHW;
  auto* base = static_cast<std::uint8_t*>(out.data) +
               static_cast<std::size_t>(out.batch_index) * slot_bytes(options);
  if (options.dtype == DType::kFloat16) {
    write_slot(p, nchw, reinterpret_cast<std::uint16_t*>(base), float_to_half_bits);
  } else {
    write_slot(p, nchw, reinterpret_cast<float*>(base), [](float v) { return v; });
  }
  return lb;
}

}  // namespace trtpipe::preprocess
