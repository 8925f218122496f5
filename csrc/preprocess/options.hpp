#pragma once
// What a preprocessing run produces (no CUDA here): the output tensor's layout and dtype, the
// geometry and the normalisation. Built once per Preprocessor. The camera encodings it reads are
// in encoding.hpp.
#include <array>
#include <string>
#include <vector>

namespace trtpipe::preprocess {

enum class Layout : int { kNCHW = 0, kNHWC = 1 };
enum class DType : int { kFloat32 = 0, kFloat16 = 1 };
enum class Resize : int { kLetterbox = 0, kStretch = 1 };
enum class Interpolation : int { kBilinear = 0, kNearest = 1 };

Layout parse_layout(const std::string& name);
DType parse_dtype(const std::string& name, const std::string& field = "dtype");
Resize parse_resize(const std::string& name, const std::string& field = "resize");
Interpolation parse_interpolation(const std::string& name);
const char* dtype_name(DType dtype) noexcept;
const char* layout_name(Layout layout) noexcept;

struct Options {
  int dst_w = 640;
  int dst_h = 640;
  Layout layout = Layout::kNCHW;
  DType dtype = DType::kFloat32;
  bool bgr_out = false;  // channel order of the output: RGB (false) or BGR (true)
  Resize resize = Resize::kLetterbox;
  Interpolation interpolation = Interpolation::kBilinear;
  float pad_value = 114.0f;  // in source units (0..255), before normalisation
  float scale = 1.0f / 255.0f;
  std::array<float, 3> mean{0.0f, 0.0f, 0.0f};  // per output channel, after `scale`
  std::array<float, 3> std{1.0f, 1.0f, 1.0f};
};

// Validates every field and throws InputError naming the field, expected and given.
Options make_options(int dst_w, int dst_h, const std::string& layout, const std::string& dtype,
                     const std::string& channel_order, const std::string& resize,
                     const std::string& interpolation, double pad_value, double scale,
                     const std::vector<double>& mean, const std::vector<double>& std);

}  // namespace trtpipe::preprocess
