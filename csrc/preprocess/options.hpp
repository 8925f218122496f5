#pragma once
// What a preprocessing run produces (no CUDA here): the camera encodings it reads, the output
// tensor's layout and dtype, the geometry and the normalisation. Built once per Preprocessor.
#include <array>
#include <string>
#include <vector>

namespace trtpipe::preprocess {

// The ROS sensor_msgs/Image encodings read (aliases map onto the same value).
enum class Encoding : int {
  kRgb8 = 0,
  kBgr8 = 1,
  kRgba8 = 2,
  kBgra8 = 3,
  kMono8 = 4,
  kUyvy = 5,  // "yuv422" / "uyvy": U Y0 V Y1
  kYuyv = 6,  // "yuv422_yuy2" / "yuyv": Y0 U Y1 V
  kNv12 = 7,  // Y plane, then an interleaved U V plane at half resolution
};

enum class Layout : int { kNCHW = 0, kNHWC = 1 };
enum class DType : int { kFloat32 = 0, kFloat16 = 1 };
enum class Resize : int { kLetterbox = 0, kStretch = 1 };
enum class Interpolation : int { kBilinear = 0, kNearest = 1 };

// How an encoding samples colour: every pixel, pairs of pixels along a row (4:2:2), or 2x2
// blocks (4:2:0, a second plane of half-height rows).
enum class Chroma : int { kFull = 0, k422 = 1, k420 = 2 };

// One accepted encoding name (aliases have entries of their own) and the facts every reader of
// camera bytes needs: the one table of them (options.cpp), which Python reads through _core.
struct EncodingInfo {
  const char* name;
  Encoding encoding;
  int bytes_per_pixel;  // in a row (for the Y plane of nv12: 1)
  Chroma chroma;
};
const std::vector<EncodingInfo>& encoding_table();
const char* chroma_name(Chroma chroma) noexcept;  // "full", "4:2:2", "4:2:0"
Chroma chroma_of(Encoding encoding) noexcept;

// Every accepted encoding name, aliases included.
const std::vector<std::string>& encoding_names();
// Throws InputError naming `field` for an unknown name.
Encoding parse_encoding(const std::string& name, const std::string& field = "encoding");
const char* encoding_name(Encoding encoding) noexcept;
// Bytes one pixel occupies in a row (for the Y plane of nv12: 1).
int bytes_per_pixel(Encoding encoding) noexcept;

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
