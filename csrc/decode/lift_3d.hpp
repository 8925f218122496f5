#pragma once
// 2D boxes in the colour image + their depth statistics -> positions and sizes in metres, in the
// optical frame of the depth camera (x right, y down, z forward). Depth registered to colour is
// the case handled here: the same view, perhaps at another resolution (boxes scale by the ratio
// of the sizes); the intrinsics are the depth image's.
#include <vector>

#include "decode/box_depth.hpp"

namespace trtpipe::decode {

struct Intrinsics {
  double fx = 0, fy = 0, cx = 0, cy = 0;  // pixels, of the depth image
};

// One box in 3D: the box centre back-projected at the object's median depth, its width and
// height from the box's pixel size at that depth, its extent in depth from far - near.
// valid false (and every number NaN) where the box has no depth.
struct Placement {
  float position[3];
  float size[3];
  bool valid;
};

// InputError unless fx, fy > 0 and every value finite.
void check_intrinsics(const Intrinsics& k);

// The boxes (x1, y1, x2, y2 in colour pixels) in depth-image pixels.
std::vector<float> boxes_in_depth(const float* boxes, int count, int colour_width,
                                  int colour_height, int depth_width, int depth_height);

// Placements of `count` boxes (depth-image pixels) from their statistics.
std::vector<Placement> place_boxes(const float* depth_boxes, const BoxDepth* depths, int count,
                                   const Intrinsics& k);

}  // namespace trtpipe::decode
