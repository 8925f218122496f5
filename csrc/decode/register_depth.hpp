#pragma once
// Depth seen by another camera, moved into the colour camera's view: every measured depth pixel
// is back-projected with the depth camera's intrinsics, moved by the depth -> colour extrinsic
// transform, and projected with the colour camera's intrinsics into a registered depth image
// (metres, 32FC1; +inf where nothing landed, i.e. no measurement). Where several pixels land on
// one, the nearest wins (a z-buffer). The CPU here and the GPU kernel (pipeline/
// register_depth.cu) share reproject(), so they give the same image.
#include <vector>

#include "common/host_device.hpp"
#include "decode/lift_3d.hpp"
#include "preprocess/depth_frame.hpp"

namespace trtpipe::decode {

// Everything a depth pixel's reprojection needs, in float as the kernel uses it.
struct Reprojection {
  float depth_fx, depth_fy, depth_cx, depth_cy;
  float rotation[9];  // row-major, depth -> colour
  float translation[3];  // metres
  float colour_fx, colour_fy, colour_cx, colour_cy;  // of the registered image
  int width, height;  // of the registered image
};

// The reprojection of depth pixel (x, y) at `metres`: false where it lands behind the colour
// camera or outside the registered image.
TRTPIPE_HD bool reproject(const Reprojection& r, int x, int y, float metres, int* out_x,
                          int* out_y, float* out_z) {
  const float px = (static_cast<float>(x) + 0.5f - r.depth_cx) * metres / r.depth_fx;
  const float py = (static_cast<float>(y) + 0.5f - r.depth_cy) * metres / r.depth_fy;
  const float* m = r.rotation;
  const float cx = m[0] * px + m[1] * py + m[2] * metres + r.translation[0];
  const float cy = m[3] * px + m[4] * py + m[5] * metres + r.translation[1];
  const float cz = m[6] * px + m[7] * py + m[8] * metres + r.translation[2];
  if (!(cz > 0.0f)) return false;
  const float u = r.colour_fx * cx / cz + r.colour_cx;
  const float v = r.colour_fy * cy / cz + r.colour_cy;
  if (!(u >= 0.0f && v >= 0.0f && u < static_cast<float>(r.width) &&
        v < static_cast<float>(r.height))) {
    return false;
  }
  *out_x = static_cast<int>(u);
  *out_y = static_cast<int>(v);
  *out_z = cz;
  return true;
}

// The reprojection of a depth camera with intrinsics `depth` into a colour camera with
// intrinsics `colour` (of a colour image of colour_width x colour_height), by the 4x4
// row-major depth -> colour transform `extrinsic` (metres); the registered image has
// `width` x `height` pixels (the colour intrinsics scaled to it). InputError for a transform
// that is not finite or whose last row is not 0 0 0 1.
Reprojection make_reprojection(const Intrinsics& depth, const std::vector<double>& extrinsic,
                               const Intrinsics& colour, int colour_width, int colour_height,
                               int width, int height);

// The colour intrinsics of the registered image.
Intrinsics registered_intrinsics(const Reprojection& r);

// The registered image of a checked host depth frame (width * height floats, row-major).
std::vector<float> register_depth(const preprocess::DepthFrame& depth, const Reprojection& r,
                                  const DepthRule& rule);

}  // namespace trtpipe::decode
