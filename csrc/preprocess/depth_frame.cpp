#include "preprocess/depth_frame.hpp"

#include "common/errors.hpp"

namespace trtpipe::preprocess {

const DepthEncodingInfo& depth_encoding_info(DepthEncoding encoding) {
  for (const DepthEncodingInfo& row : kDepthEncodingTable) {
    if (row.encoding == encoding) return row;
  }
  throw InputError("depth encoding: unknown value " +
                   std::to_string(static_cast<int>(encoding)));
}

const std::vector<std::string>& depth_encoding_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const DepthEncodingInfo& row : kDepthEncodingTable) out.emplace_back(row.name);
    return out;
  }();
  return names;
}

DepthEncoding parse_depth_encoding(const std::string& name) {
  for (const DepthEncodingInfo& row : kDepthEncodingTable) {
    if (name == row.name) return row.encoding;
  }
  std::string names;
  for (const std::string& known : depth_encoding_names()) {
    names += (names.empty() ? "" : ", ") + known;
  }
  throw InputError("depth encoding: expected one of " + names + " (16UC1: millimetres, 32FC1: " +
                   "metres), given '" + name + "'");
}

FrameProblem depth_problem(DepthFrame& frame) {
  const DepthEncodingInfo& info = depth_encoding_info(frame.encoding);
  if (FrameProblem problem = size_problem(frame.width, frame.height)) return problem;
  if (frame.scale == 0.0f) frame.scale = info.metres_per_unit;
  if (!(frame.scale > 0.0f) || !std::isfinite(frame.scale)) {
    return {"bad_scale", "depth_scale: expected a finite number of metres per unit > 0, given " +
                             std::to_string(frame.scale)};
  }
  return rows_problem({frame.data, frame.size, frame.width, frame.height, frame.height,
                       info.bytes_per_pixel, info.name},
                      frame.step);
}

DepthFrame checked_depth(DepthFrame frame) {
  if (const FrameProblem problem = depth_problem(frame)) throw InputError(problem.message);
  return frame;
}

}  // namespace trtpipe::preprocess
