#pragma once
// The geometry of fitting a source image into the network input: the scale per axis and the
// padding on the left and top. The kernel, the CPU reference and the box decoder all use it.
#include "preprocess/options.hpp"

namespace trtpipe::preprocess {

struct Letterbox {
  // Network px = source px * scale + pad. scale is new/source per axis, so that the resized
  // region samples exactly like cv2.resize to (new_w, new_h).
  double scale_x = 1.0;
  double scale_y = 1.0;
  int pad_x = 0;
  int pad_y = 0;
  int new_w = 0;  // size of the resized image inside the network input
  int new_h = 0;
  int src_w = 0;
  int src_h = 0;
  int dst_w = 0;
  int dst_h = 0;
};

// Letterbox: keep the aspect ratio (r = min(dst_w/src_w, dst_h/src_h), new = round(src * r)),
// centre, pad left/top with floor((dst - new) / 2). Stretch: new = dst, no padding.
// Throws InputError for sizes < 1.
Letterbox letterbox_params(int src_w, int src_h, int dst_w, int dst_h, Resize mode);

}  // namespace trtpipe::preprocess
