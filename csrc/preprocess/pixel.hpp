#pragma once
// The per-output-pixel maths, shared by the CUDA kernel and the CPU reference so both compute
// the same numbers: read the source neighbours, convert them to RGB (BT.601 limited range, the
// fixed-point formula OpenCV's COLOR_YUV2RGB_* use), resize (bilinear with OpenCV's INTER_LINEAR
// pixel-centre convention, or nearest pixel centre), letterbox, then x * scale, (x - mean) / std.
#include <cstdint>

#include "common/host_device.hpp"
#include "preprocess/encoding.hpp"

namespace trtpipe::preprocess {

// Everything one run needs, by value (it is a kernel argument).
struct PixelParams {
  const std::uint8_t* src = nullptr;  // first row (of the Y plane, for a 4:2:0 encoding)
  const std::uint8_t* uv = nullptr;   // 4:2:0: first row of the U V plane; else null
  std::int64_t step = 0;              // bytes from one row to the next (both planes)
  int src_w = 0;
  int src_h = 0;
  int encoding = 0;  // Encoding
  int dst_w = 0;
  int dst_h = 0;
  int pad_x = 0;
  int pad_y = 0;
  int new_w = 0;
  int new_h = 0;
  float inv_x = 1.0f;  // source px per resized px
  float inv_y = 1.0f;
  int nearest = 0;
  int bgr_out = 0;
  float pad_value = 0.0f;
  float scale = 1.0f;
  float mean[3] = {0.0f, 0.0f, 0.0f};
  float std[3] = {1.0f, 1.0f, 1.0f};
};

// Field by field: the struct ends in padding bytes of no set value, so comparing its bytes
// could find equal arguments different.
inline bool operator==(const PixelParams& a, const PixelParams& b) noexcept {
  for (int c = 0; c < 3; ++c) {
    if (a.mean[c] != b.mean[c] || a.std[c] != b.std[c]) return false;
  }
  return a.src == b.src && a.uv == b.uv && a.step == b.step && a.src_w == b.src_w &&
         a.src_h == b.src_h && a.encoding == b.encoding && a.dst_w == b.dst_w &&
         a.dst_h == b.dst_h && a.pad_x == b.pad_x && a.pad_y == b.pad_y && a.new_w == b.new_w &&
         a.new_h == b.new_h && a.inv_x == b.inv_x && a.inv_y == b.inv_y &&
         a.nearest == b.nearest && a.bgr_out == b.bgr_out && a.pad_value == b.pad_value &&
         a.scale == b.scale;
}
static_assert(sizeof(PixelParams) == 3 * 8 + 21 * 4 + 4,
              "a field added to PixelParams must be compared by its operator== too");

struct Rgb {
  float r, g, b;
};

TRTPIPE_HD std::uint8_t saturate_u8(int value) {
  return static_cast<std::uint8_t>(value < 0 ? 0 : (value > 255 ? 255 : value));
}

// BT.601 limited range to RGB in 20-bit fixed point, rounding like OpenCV.
TRTPIPE_HD Rgb yuv_to_rgb(int y, int u, int v) {
  constexpr int kShift = 20;
  constexpr int kHalf = 1 << (kShift - 1);
  constexpr int kCY = 1220542;   // 1.164 * 2^20
  constexpr int kCUB = 2116026;  // 2.018
  constexpr int kCUG = -409993;  // -0.391
  constexpr int kCVG = -852492;  // -0.813
  constexpr int kCVR = 1673527;  // 1.596
  const int yy = (y > 16 ? y - 16 : 0) * kCY;
  const int uu = u - 128;
  const int vv = v - 128;
  const int r = (yy + kHalf + kCVR * vv) >> kShift;
  const int g = (yy + kHalf + kCVG * vv + kCUG * uu) >> kShift;
  const int b = (yy + kHalf + kCUB * uu) >> kShift;
  return {static_cast<float>(saturate_u8(r)), static_cast<float>(saturate_u8(g)),
          static_cast<float>(saturate_u8(b))};
}

// Source pixel `x` of one row as RGB, 0..255, for one encoding known at compile time: the one
// per-encoding read, which the kernel and the CPU path instantiate for every row of
// kEncodingTable (encoding.hpp). `uv_row`: 4:2:0 only, the U V row serving this row.
template <Encoding E>
TRTPIPE_HD Rgb load_pixel(const std::uint8_t* row, const std::uint8_t* uv_row, int x) {
  static_cast<void>(uv_row);
  if constexpr (E == Encoding::kRgb8 || E == Encoding::kRgba8) {
    const std::uint8_t* px = row + (E == Encoding::kRgb8 ? 3 : 4) * x;
    return {static_cast<float>(px[0]), static_cast<float>(px[1]), static_cast<float>(px[2])};
  } else if constexpr (E == Encoding::kBgr8 || E == Encoding::kBgra8) {
    const std::uint8_t* px = row + (E == Encoding::kBgr8 ? 3 : 4) * x;
    return {static_cast<float>(px[2]), static_cast<float>(px[1]), static_cast<float>(px[0])};
  } else if constexpr (E == Encoding::kMono8) {
    const float value = static_cast<float>(row[x]);
    return {value, value, value};
  } else if constexpr (E == Encoding::kUyvy) {
    const std::uint8_t* pair = row + 4 * (x >> 1);
    return yuv_to_rgb(pair[1 + 2 * (x & 1)], pair[0], pair[2]);
  } else if constexpr (E == Encoding::kYuyv) {
    const std::uint8_t* pair = row + 4 * (x >> 1);
    return yuv_to_rgb(pair[2 * (x & 1)], pair[1], pair[3]);
  } else if constexpr (E == Encoding::kNv12) {
    const std::uint8_t* uv = uv_row + (x & ~1);
    return yuv_to_rgb(row[x], uv[0], uv[1]);
  } else {
    static_assert(E != E, "an encoding of kEncodingTable has no pixel read here");
    return {0.0f, 0.0f, 0.0f};
  }
}

TRTPIPE_HD const std::uint8_t* source_row(const PixelParams& p, int y) {
  return p.src + static_cast<std::int64_t>(y) * p.step;
}

// 4:2:0: the U V row shared by source rows 2k and 2k + 1.
TRTPIPE_HD const std::uint8_t* uv_row(const PixelParams& p, int y) {
  return p.uv + static_cast<std::int64_t>(y >> 1) * p.step;
}

// The read of source pixel (x, y) for the encoding the dispatch hands over.
struct SourcePixel {
  const PixelParams& p;
  int x;
  int y;

  template <Encoding E>
  TRTPIPE_HD Rgb operator()(EncodingTag<E>) const {
    const std::uint8_t* chroma_row = nullptr;
    if constexpr (EncodingTag<E>::kHasUvPlane) chroma_row = uv_row(p, y);
    return load_pixel<E>(source_row(p, y), chroma_row, x);
  }
};

// The source pixel (x, y) as RGB, 0..255.
TRTPIPE_HD Rgb load_rgb(const PixelParams& p, int x, int y) {
  return visit_encoding(static_cast<Encoding>(p.encoding), SourcePixel{p, x, y});
}

// OpenCV INTER_LINEAR: source coordinate of the pixel centre, clamped at the borders.
TRTPIPE_HD void linear_tap(int dst, float inv, int src_size, int& i0, int& i1, float& w1) {
  const float f = (static_cast<float>(dst) + 0.5f) * inv - 0.5f;
  int i = static_cast<int>(f);  // floor, without a libm call on the host
  if (static_cast<float>(i) > f) --i;
  float w = f - static_cast<float>(i);
  if (i < 0) {
    i = 0;
    w = 0.0f;
  }
  if (i >= src_size - 1) {
    i = src_size - 1;
    w = 0.0f;
  }
  i0 = i;
  i1 = i + 1 < src_size ? i + 1 : src_size - 1;
  w1 = w;
}

// Nearest pixel centre, in exact integer arithmetic: floor((dst + 0.5) * src / new).
TRTPIPE_HD int nearest_tap(int dst, int src_size, int new_size) {
  const std::int64_t i = ((2 * static_cast<std::int64_t>(dst) + 1) * src_size) / (2 * new_size);
  return i < src_size ? static_cast<int>(i) : src_size - 1;
}

// The output pixel (x, y) before normalisation, RGB, 0..255.
TRTPIPE_HD Rgb sample(const PixelParams& p, int x, int y) {
  const int rx = x - p.pad_x;
  const int ry = y - p.pad_y;
  if (rx < 0 || ry < 0 || rx >= p.new_w || ry >= p.new_h) {
    return {p.pad_value, p.pad_value, p.pad_value};
  }
  if (p.nearest) {
    return load_rgb(p, nearest_tap(rx, p.src_w, p.new_w), nearest_tap(ry, p.src_h, p.new_h));
  }
  int x0, x1, y0, y1;
  float ax, ay;
  linear_tap(rx, p.inv_x, p.src_w, x0, x1, ax);
  linear_tap(ry, p.inv_y, p.src_h, y0, y1, ay);
  // A zero weight (exact integer ratios such as 1080p -> 360p) skips its row or column: the
  // result is bit-identical (0 * finite = 0) and the kernel reads half the bytes.
  const Rgb a = load_rgb(p, x0, y0);
  const Rgb b = ax != 0.0f ? load_rgb(p, x1, y0) : a;
  const Rgb c = ay != 0.0f ? load_rgb(p, x0, y1) : a;
  const Rgb d = ay != 0.0f ? (ax != 0.0f ? load_rgb(p, x1, y1) : c) : b;
  const float bx = 1.0f - ax;
  const float by = 1.0f - ay;
  return {by * (bx * a.r + ax * b.r) + ay * (bx * c.r + ax * d.r),
          by * (bx * a.g + ax * b.g) + ay * (bx * c.g + ax * d.g),
          by * (bx * a.b + ax * b.b) + ay * (bx * c.b + ax * d.b)};
}

// Output channel `c` (in the output's channel order) of a sampled pixel, normalised.
TRTPIPE_HD float normalise(const PixelParams& p, const Rgb& rgb, int c) {
  const float first = p.bgr_out ? rgb.b : rgb.r;
  const float last = p.bgr_out ? rgb.r : rgb.b;
  const float value = c == 0 ? first : (c == 1 ? rgb.g : last);
  return (value * p.scale - p.mean[c]) / p.std[c];
}

}  // namespace trtpipe::preprocess
