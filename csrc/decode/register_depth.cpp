#include "decode/register_depth.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "common/errors.hpp"

namespace trtpipe::decode {

Reprojection make_reprojection(const Intrinsics& depth, const std::vector<double>& extrinsic,
                               const Intrinsics& colour, int colour_width, int colour_height,
                               int width, int height) {
  check_intrinsics(depth);
  check_intrinsics(colour);
  if (extrinsic.size() != 16) {
    throw InputError("extrinsic: expected a 4x4 depth -> colour transform (16 values), given " +
                     std::to_string(extrinsic.size()) + " values");
  }
  for (double v : extrinsic) {
    if (!std::isfinite(v)) throw InputError("extrinsic: expected finite values, given a NaN/inf");
  }
  if (extrinsic[12] != 0 || extrinsic[13] != 0 || extrinsic[14] != 0 || extrinsic[15] != 1) {
    throw InputError("extrinsic: expected a last row of 0 0 0 1 (a rigid transform), given " +
                     std::to_string(extrinsic[12]) + " " + std::to_string(extrinsic[13]) + " " +
                     std::to_string(extrinsic[14]) + " " + std::to_string(extrinsic[15]));
  }
  if (colour_width < 1 || colour_height < 1) {
    throw InputError("colour size: expected width and height >= 1");
  }
  const double sx = static_cast<double>(width) / colour_width;
  const double sy = static_cast<double>(height) / colour_height;
  Reprojection r{};
  r.depth_fx = static_cast<float>(depth.fx);
  r.depth_fy = static_cast<float>(depth.fy);
  r.depth_cx = static_cast<float>(depth.cx);
  r.depth_cy = static_cast<float>(depth.cy);
  for (int row = 0; row < 3; ++row) {
    for (int col = 0; col < 3; ++col) {
      r.rotation[3 * row + col] = static_cast<float>(extrinsic[4 * row + col]);
    }
    r.translation[row] = static_cast<float>(extrinsic[4 * row + 3]);
  }
  r.colour_fx = static_cast<float>(colour.fx * sx);
  r.colour_fy = static_cast<float>(colour.fy * sy);
  r.colour_cx = static_cast<float>(colour.cx * sx);
  r.colour_cy = static_cast<float>(colour.cy * sy);
  r.width = width;
  r.height = height;
  return r;
}

Intrinsics registered_intrinsics(const Reprojection& r) {
  return {r.colour_fx, r.colour_fy, r.colour_cx, r.colour_cy};
}

namespace {

template <preprocess::DepthEncoding E>
void splat(const preprocess::DepthFrame& depth, const Reprojection& r, const DepthRule& rule,
           std::vector<float>& out) {
  const auto* bytes = static_cast<const unsigned char*>(depth.data);
  for (int y = 0; y < depth.height; ++y) {
    const unsigned char* row = bytes + static_cast<std::ptrdiff_t>(y) * depth.step;
    for (int x = 0; x < depth.width; ++x) {
      const float metres = preprocess::depth_metres(row, x, E, depth.scale);
      if (!is_measured(metres, rule)) continue;
      int u = 0, v = 0;
      float z = 0.0f;
      if (!reproject(r, x, y, metres, &u, &v, &z)) continue;
      float& cell = out[static_cast<std::size_t>(v) * r.width + u];
      if (z < cell) cell = z;
    }
  }
}

}  // namespace

std::vector<float> register_depth(const preprocess::DepthFrame& depth, const Reprojection& r,
                                  const DepthRule& rule) {
  std::vector<float> out(static_cast<std::size_t>(r.width) * r.height,
                         std::numeric_limits<float>::infinity());
  if (depth.encoding == preprocess::DepthEncoding::k16UC1) {
    splat<preprocess::DepthEncoding::k16UC1>(depth, r, rule, out);
  } else {
    splat<preprocess::DepthEncoding::k32FC1>(depth, r, rule, out);
  }
  return out;
}

}  // namespace trtpipe::decode
