#pragma once
// Depth images: the ROS encodings read (16UC1 millimetres, 32FC1 metres), their units, and their
// validation by the one row rule of colour frames. No CUDA: the GPU statistics and the CPU ones
// read a pixel with the same depth_metres.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/host_device.hpp"
#include "preprocess/frame.hpp"
#include "preprocess/image_buffer.hpp"

namespace trtpipe::preprocess {

enum class DepthEncoding : int { k16UC1 = 0, k32FC1 = 1 };

struct DepthEncodingInfo {
  const char* name;
  DepthEncoding encoding;
  int bytes_per_pixel;
  float metres_per_unit;  // the ROS convention: 16UC1 in millimetres, 32FC1 in metres
};

inline constexpr DepthEncodingInfo kDepthEncodingTable[] = {
    {"16UC1", DepthEncoding::k16UC1, 2, 0.001f},
    {"32FC1", DepthEncoding::k32FC1, 4, 1.0f},
};

const DepthEncodingInfo& depth_encoding_info(DepthEncoding encoding);
// Throws InputError naming every accepted encoding for an unknown name.
DepthEncoding parse_depth_encoding(const std::string& name);
const std::vector<std::string>& depth_encoding_names();

// A depth image in host or device memory. 0, NaN and inf mean "no measurement".
struct DepthFrame : ImageBuffer {
  DepthEncoding encoding = DepthEncoding::k16UC1;
  float scale = 0.0f;  // metres per stored unit; 0: the encoding's (depth_scale)
};

// The frame rule (size_problem, rows_problem) for a depth image, and a scale that is finite and
// > 0; fills in a step of 0 and a scale of 0.
FrameProblem depth_problem(DepthFrame& frame);
// depth_problem as an InputError; returns the frame with its step and scale filled in.
DepthFrame checked_depth(DepthFrame frame);

// Pixel x of a row, in metres (NaN, inf or <= 0 where there is no measurement).
TRTPIPE_HD float depth_metres(const unsigned char* row, int x, DepthEncoding encoding,
                              float scale) {
  if (encoding == DepthEncoding::k16UC1) {
    std::uint16_t raw;
    memcpy(&raw, row + 2 * static_cast<std::ptrdiff_t>(x), 2);
    return static_cast<float>(raw) * scale;
  }
  float raw;
  memcpy(&raw, row + 4 * static_cast<std::ptrdiff_t>(x), 4);
  return raw * scale;
}

}  // namespace trtpipe::preprocess
