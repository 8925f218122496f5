#include "preprocess/options.hpp"

#include <cmath>
#include <sstream>
#include <utility>

#include "common/errors.hpp"

namespace trtpipe::preprocess {
namespace {

template <typename T>
T choose(const std::string& field, const std::string& given,
         const std::vector<std::pair<std::string, T>>& choices) {
  for (const auto& [name, value] : choices) {
    if (name == given) return value;
  }
  std::vector<std::string> names;
  for (const auto& choice : choices) names.push_back(choice.first);
  throw InputError(unknown_choice_message(field, names, given));
}

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

Layout parse_layout(const std::string& name) {
  return choose<Layout>("layout", name, {{"NCHW", Layout::kNCHW}, {"NHWC", Layout::kNHWC}});
}

DType parse_dtype(const std::string& name, const std::string& field) {
  return choose<DType>(field, name, {{"float32", DType::kFloat32}, {"float16", DType::kFloat16}});
}

Resize parse_resize(const std::string& name, const std::string& field) {
  return choose<Resize>(field, name,
                        {{"letterbox", Resize::kLetterbox}, {"stretch", Resize::kStretch}});
}

Interpolation parse_interpolation(const std::string& name) {
  return choose<Interpolation>(
      "interpolation", name,
      {{"bilinear", Interpolation::kBilinear}, {"nearest", Interpolation::kNearest}});
}

const char* dtype_name(DType dtype) noexcept {
  return dtype == DType::kFloat16 ? "float16" : "float32";
}

const char* layout_name(Layout layout) noexcept {
  return layout == Layout::kNHWC ? "NHWC" : "NCHW";
}

Options make_options(int dst_w, int dst_h, const std::string& layout, const std::string& dtype,
                     const std::string& channel_order, const std::string& resize,
                     const std::string& interpolation, double pad_value, double scale,
                     const std::vector<double>& mean, const std::vector<double>& std) {
  constexpr int kMaxSide = 1 << 15;
  if (dst_w <= 0 || dst_h <= 0 || dst_w > kMaxSide || dst_h > kMaxSide) {
    throw InputError("size: expected (width, height) each in 1.." + std::to_string(kMaxSide) +
                     ", given (" + std::to_string(dst_w) + ", " + std::to_string(dst_h) + ")");
  }
  Options options;
  options.dst_w = dst_w;
  options.dst_h = dst_h;
  options.layout = parse_layout(layout);
  options.dtype = parse_dtype(dtype);
  options.bgr_out = choose<bool>("channel_order", channel_order, {{"RGB", false}, {"BGR", true}});
  options.resize = parse_resize(resize);
  options.interpolation = parse_interpolation(interpolation);
  if (!std::isfinite(pad_value) || pad_value < 0.0 || pad_value > 255.0) {
    throw InputError("pad_value: expected a number in 0..255, given " + number(pad_value));
  }
  options.pad_value = static_cast<float>(pad_value);
  if (!std::isfinite(scale)) {
    throw InputError("scale: expected a finite number, given " + number(scale));
  }
  options.scale = static_cast<float>(scale);
  if (mean.size() != 3) {
    throw InputError("mean: expected 3 values (one per output channel), given " +
                     std::to_string(mean.size()));
  }
  if (std.size() != 3) {
    throw InputError("std: expected 3 values (one per output channel), given " +
                     std::to_string(std.size()));
  }
  for (int c = 0; c < 3; ++c) {
    if (!std::isfinite(mean[c])) {
      throw InputError("mean[" + std::to_string(c) + "]: expected a finite number, given " +
                       number(mean[c]));
    }
    if (!std::isfinite(std[c]) || std[c] == 0.0) {
      throw InputError("std[" + std::to_string(c) + "]: expected a finite non-zero number, given " +
                       number(std[c]));
    }
    options.mean[c] = static_cast<float>(mean[c]);
    options.std[c] = static_cast<float>(std[c]);
  }
  return options;
}

}  // namespace trtpipe::preprocess
