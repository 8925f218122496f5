#include "decode/lift_3d.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "common/errors.hpp"

namespace trtpipe::decode {

void check_intrinsics(const Intrinsics& k) {
  const bool finite =
      std::isfinite(k.fx) && std::isfinite(k.fy) && std::isfinite(k.cx) && std::isfinite(k.cy);
  if (!finite || !(k.fx > 0) || !(k.fy > 0)) {
    throw InputError("intrinsics: expected finite fx, fy > 0 and cx, cy (pixels), given fx=" +
                     std::to_string(k.fx) + " fy=" + std::to_string(k.fy) +
                     " cx=" + std::to_string(k.cx) + " cy=" + std::to_string(k.cy));
  }
}

std::vector<float> boxes_in_depth(const float* boxes, int count, int colour_width,
                                  int colour_height, int depth_width, int depth_height) {
  if (colour_width < 1 || colour_height < 1) {
    throw InputError("colour size: expected width and height >= 1, given " +
                     std::to_string(colour_width) + "x" + std::to_string(colour_height));
  }
  const double sx = static_cast<double>(depth_width) / colour_width;
  const double sy = static_cast<double>(depth_height) / colour_height;
  std::vector<float> out(static_cast<std::size_t>(count) * 4);
  for (int i = 0; i < count; ++i) {
    out[4 * i + 0] = static_cast<float>(boxes[4 * i + 0] * sx);
    out[4 * i + 1] = static_cast<float>(boxes[4 * i + 1] * sy);
    out[4 * i + 2] = static_cast<float>(boxes[4 * i + 2] * sx);
    out[4 * i + 3] = static_cast<float>(boxes[4 * i + 3] * sy);
  }
  return out;
}

std::vector<Placement> place_boxes(const float* depth_boxes, const BoxDepth* depths, int count,
                                   const Intrinsics& k) {
  check_intrinsics(k);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<Placement> out(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    Placement& p = out[i];
    const BoxDepth& d = depths[i];
    const float* box = depth_boxes + 4 * i;
    p.valid = std::isfinite(d.depth);
    if (!p.valid) {
      for (int axis = 0; axis < 3; ++axis) p.position[axis] = p.size[axis] = nan;
      continue;
    }
    const double z = d.depth;
    const double u = 0.5 * (box[0] + box[2]), v = 0.5 * (box[1] + box[3]);
    p.position[0] = static_cast<float>((u - k.cx) * z / k.fx);
    p.position[1] = static_cast<float>((v - k.cy) * z / k.fy);
    p.position[2] = static_cast<float>(z);
    p.size[0] = static_cast<float>((box[2] - box[0]) * z / k.fx);
    p.size[1] = static_cast<float>((box[3] - box[1]) * z / k.fy);
    p.size[2] = d.far - d.near;
  }
  return out;
}

}  // namespace trtpipe::decode
