#include "preprocess/frame.hpp"

#include <sstream>

#include "common/errors.hpp"

namespace trtpipe::preprocess {
namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::ostringstream out;
  out << "(";
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << (shape.size() == 1 ? ",)" : ")");
  return out.str();
}

}  // namespace

std::size_t required_bytes(const Frame& frame) {
  const auto step = static_cast<std::size_t>(frame.step);
  const auto row = static_cast<std::size_t>(frame.width) *
                   static_cast<std::size_t>(bytes_per_pixel(frame.encoding));
  const auto rows = static_cast<std::size_t>(frame.height) +
                    (chroma_of(frame.encoding) == Chroma::k420
                         ? static_cast<std::size_t>(frame.height / 2)
                         : 0);
  return step * (rows - 1) + row;
}

FrameProblem size_problem(int width, int height) {
  constexpr int kMaxSide = 1 << 15;
  if (width < 1 || height < 1 || width > kMaxSide || height > kMaxSide) {
    return {width < 1 || height < 1 ? "zero_size" : "too_large",
            "width/height: expected each in 1.." + std::to_string(kMaxSide) + ", given " +
                std::to_string(width) + "x" + std::to_string(height)};
  }
  return {};
}

FrameProblem rows_problem(const RowLayout& layout, std::int64_t& step) {
  const std::int64_t row = static_cast<std::int64_t>(layout.width) * layout.bytes_per_pixel;
  const std::string size = std::to_string(layout.width) + "x" + std::to_string(layout.height);
  if (step == 0) step = row;
  if (step < row) {
    return {"bad_step", "step: expected at least width x bytes per pixel = " +
                            std::to_string(row) + " bytes for " + std::to_string(layout.width) +
                            " px of " + layout.encoding + ", given " + std::to_string(step)};
  }
  if (step > (std::int64_t{1} << 20)) {
    return {"bad_step",
            "step: expected at most 1048576 bytes per row, given " + std::to_string(step)};
  }
  if (layout.data == nullptr) {
    return {"no_data", "image: expected a buffer, given a null pointer"};
  }
  const std::size_t needed =
      static_cast<std::size_t>(step) * static_cast<std::size_t>(layout.rows - 1) +
      static_cast<std::size_t>(row);
  if (layout.size < needed) {
    return {"short_data", "image: expected at least " + std::to_string(needed) + " bytes (" +
                              std::to_string(layout.rows) + " rows " + std::to_string(step) +
                              " bytes apart for a " + size + " " + layout.encoding +
                              " frame), given " + std::to_string(layout.size)};
  }
  return {};
}

FrameProblem frame_problem(Frame& frame) {
  const std::string enc = encoding_name(frame.encoding);
  if (FrameProblem problem = size_problem(frame.width, frame.height)) return problem;
  const Chroma chroma = chroma_of(frame.encoding);
  if (chroma != Chroma::kFull && frame.width % 2 != 0) {
    return {"odd_size", "width: expected an even width for " + enc +
                            " (two pixels share U and V), given " + std::to_string(frame.width)};
  }
  if (chroma == Chroma::k420 && frame.height % 2 != 0) {
    return {"odd_size", "height: expected an even height for " + enc +
                            " (two rows share U and V), given " + std::to_string(frame.height)};
  }
  const int rows = frame.height + (chroma == Chroma::k420 ? frame.height / 2 : 0);
  return rows_problem({frame.data, frame.size, frame.width, frame.height, rows,
                       bytes_per_pixel(frame.encoding), enc},
                      frame.step);
}

Frame checked_frame(Frame frame) {
  if (const FrameProblem problem = frame_problem(frame)) throw InputError(problem.message);
  return frame;
}

std::size_t slot_bytes(const Options& options) {
  const std::size_t element = options.dtype == DType::kFloat16 ? 2 : 4;
  return static_cast<std::size_t>(options.dst_w) * static_cast<std::size_t>(options.dst_h) * 3 *
         element;
}

void check_tensor(const Tensor& tensor, const Options& options) {
  const bool nchw = options.layout == Layout::kNCHW;
  const std::string want_shape =
      nchw ? "(N, 3, " + std::to_string(options.dst_h) + ", " + std::to_string(options.dst_w) + ")"
           : "(N, " + std::to_string(options.dst_h) + ", " + std::to_string(options.dst_w) + ", 3)";
  const std::string layout = layout_name(options.layout);
  if (tensor.shape.size() != 4) {
    throw InputError("out: expected a 4-D " + layout + " tensor of shape " + want_shape +
                     ", given shape " + shape_text(tensor.shape));
  }
  const std::vector<std::int64_t>& s = tensor.shape;
  const bool ok = nchw ? (s[1] == 3 && s[2] == options.dst_h && s[3] == options.dst_w)
                       : (s[1] == options.dst_h && s[2] == options.dst_w && s[3] == 3);
  if (!ok || s[0] < 1) {
    throw InputError("out: expected shape " + want_shape + " (" + layout + "), given " +
                     shape_text(s));
  }
  if (tensor.dtype != dtype_name(options.dtype)) {
    throw InputError("out: expected dtype " + std::string(dtype_name(options.dtype)) +
                     ", given " + tensor.dtype);
  }
  if (!tensor.strides.empty()) {
    const std::int64_t element = options.dtype == DType::kFloat16 ? 2 : 4;
    std::int64_t expected = element;
    for (int axis = 3; axis >= 0; --axis) {
      if (tensor.strides.size() != 4 || (s[axis] > 1 && tensor.strides[axis] != expected)) {
        throw InputError("out: expected a C-contiguous tensor, given strides " +
                         shape_text(tensor.strides) + " (bytes) for shape " + shape_text(s));
      }
      expected *= s[axis];
    }
  }
  if (tensor.data == nullptr) {
    throw InputError("out: expected a buffer, given a null pointer");
  }
  if (tensor.batch_index < 0 || tensor.batch_index >= s[0]) {
    throw InputError("batch_index: expected 0.." + std::to_string(s[0] - 1) +
                     " (the output's batch size is " + std::to_string(s[0]) + "), given " +
                     std::to_string(tensor.batch_index));
  }
}

PixelParams pixel_params(const Options& options, const Frame& frame, const Letterbox& lb) {
  PixelParams p;
  p.src = static_cast<const std::uint8_t*>(frame.data);
  p.uv = has_uv_plane(frame.encoding) ? p.src + frame.step * frame.height : nullptr;
  p.step = frame.step;
  p.src_w = frame.width;
  p.src_h = frame.height;
  p.encoding = static_cast<int>(frame.encoding);
  p.dst_w = options.dst_w;
  p.dst_h = options.dst_h;
  p.pad_x = lb.pad_x;
  p.pad_y = lb.pad_y;
  p.new_w = lb.new_w;
  p.new_h = lb.new_h;
  p.inv_x = static_cast<float>(static_cast<double>(frame.width) / lb.new_w);
  p.inv_y = static_cast<float>(static_cast<double>(frame.height) / lb.new_h);
  p.nearest = options.interpolation == Interpolation::kNearest ? 1 : 0;
  p.bgr_out = options.bgr_out ? 1 : 0;
  p.pad_value = options.pad_value;
  p.scale = options.scale;
  for (int c = 0; c < 3; ++c) {
    p.mean[c] = options.mean[c];
    p.std[c] = options.std[c];
  }
  return p;
}

}  // namespace trtpipe::preprocess
