#include "preprocess/letterbox.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/errors.hpp"

namespace trtpipe::preprocess {
namespace {

void check_size(const char* field, int width, int height) {
  if (width < 1 || height < 1) {
    throw InputError(std::string(field) + ": expected width and height >= 1, given " +
                     std::to_string(width) + "x" + std::to_string(height));
  }
}

}  // namespace

Letterbox letterbox_params(int src_w, int src_h, int dst_w, int dst_h, Resize mode) {
  check_size("source size", src_w, src_h);
  check_size("network size", dst_w, dst_h);
  Letterbox lb;
  lb.src_w = src_w;
  lb.src_h = src_h;
  lb.dst_w = dst_w;
  lb.dst_h = dst_h;
  if (mode == Resize::kStretch) {
    lb.new_w = dst_w;
    lb.new_h = dst_h;
  } else {
    const double r = std::min(static_cast<double>(dst_w) / src_w,
                              static_cast<double>(dst_h) / src_h);
    lb.new_w = std::clamp(static_cast<int>(std::lround(src_w * r)), 1, dst_w);
    lb.new_h = std::clamp(static_cast<int>(std::lround(src_h * r)), 1, dst_h);
  }
  lb.pad_x = (dst_w - lb.new_w) / 2;
  lb.pad_y = (dst_h - lb.new_h) / 2;
  lb.scale_x = static_cast<double>(lb.new_w) / src_w;
  lb.scale_y = static_cast<double>(lb.new_h) / src_h;
  return lb;
}

}  // namespace trtpipe::preprocess
