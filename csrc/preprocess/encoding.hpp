#pragma once
// The camera encodings the preprocessing reads, in one table. An encoding is its enumerator and
// its rows here, plus its pixel read (load_pixel in pixel.hpp); everything else that depends on
// the encoding (the kernel's and the CPU path's dispatch, frame validation, the rows staged,
// Python's lists through _core.encoding_table()) is derived from these two. No CUDA here; the
// dispatch also compiles for the device.
#include <optional>
#include <string>
#include <vector>

#include "common/host_device.hpp"

namespace trtpipe::preprocess {

// The ROS sensor_msgs/Image encodings read (aliases map onto the same value). The values are
// dense from 0: the dispatch below walks them.
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

// How an encoding samples colour: every pixel, pairs of pixels along a row (4:2:2), or 2x2
// blocks (4:2:0, a second plane of half-height rows).
enum class Chroma : int { kFull = 0, k422 = 1, k420 = 2 };

// One accepted encoding name (aliases have rows of their own) and the facts every reader of
// camera bytes needs.
struct EncodingInfo {
  const char* name;
  Encoding encoding;
  int bytes_per_pixel;  // in a row (for the Y plane of a 4:2:0 encoding: 1)
  Chroma chroma;
  // The bytes of a row's smallest repeating group, in memory order, for what writes frames
  // (Python's trtpipe.frames): R G B A (A: opaque), L (grey, full range), Y U V (BT.601
  // limited range). Full chroma: one pixel; 4:2:2: two pixels, their Ys in pixel order; 4:2:0:
  // "Y/" then the second plane's group, one U V pair for a 2x2 block.
  const char* byte_order;
};

// The first row of an encoding gives its canonical name (encoding_name); later rows are aliases.
inline constexpr EncodingInfo kEncodingTable[] = {
    {"rgb8", Encoding::kRgb8, 3, Chroma::kFull, "RGB"},
    {"bgr8", Encoding::kBgr8, 3, Chroma::kFull, "BGR"},
    {"rgba8", Encoding::kRgba8, 4, Chroma::kFull, "RGBA"},
    {"bgra8", Encoding::kBgra8, 4, Chroma::kFull, "BGRA"},
    {"mono8", Encoding::kMono8, 1, Chroma::kFull, "L"},
    {"yuv422", Encoding::kUyvy, 2, Chroma::k422, "UYVY"},
    {"uyvy", Encoding::kUyvy, 2, Chroma::k422, "UYVY"},
    {"yuv422_yuy2", Encoding::kYuyv, 2, Chroma::k422, "YUYV"},
    {"yuyv", Encoding::kYuyv, 2, Chroma::k422, "YUYV"},
    {"nv12", Encoding::kNv12, 1, Chroma::k420, "Y/UV"},
};

constexpr int encoding_count() {
  int count = 0;
  for (const EncodingInfo& row : kEncodingTable) {
    count = static_cast<int>(row.encoding) >= count ? static_cast<int>(row.encoding) + 1 : count;
  }
  return count;
}
inline constexpr int kEncodingCount = encoding_count();

constexpr bool every_encoding_has_a_row() {
  for (int value = 0; value < kEncodingCount; ++value) {
    bool found = false;
    for (const EncodingInfo& row : kEncodingTable) found |= static_cast<int>(row.encoding) == value;
    if (!found) return false;
  }
  return true;
}
static_assert(every_encoding_has_a_row(), "Encoding values are dense from 0, each with a row");

constexpr int byte_order_length(const char* byte_order) {
  int length = 0;
  while (byte_order[length] != '\0') ++length;
  return length;
}

// A row's byte order spans the bytes its chroma and bytes_per_pixel say (one pixel, a pair, or a
// Y plane of one byte a pixel over a plane of U V pairs).
constexpr bool every_byte_order_fits_its_row() {
  for (const EncodingInfo& row : kEncodingTable) {
    const int length = byte_order_length(row.byte_order);
    const bool fits = row.chroma == Chroma::kFull  ? length == row.bytes_per_pixel
                      : row.chroma == Chroma::k422 ? length == 2 * row.bytes_per_pixel
                                                   : length == 4 && row.byte_order[0] == 'Y' &&
                                                         row.byte_order[1] == '/';
    if (!fits) return false;
  }
  return true;
}
static_assert(every_byte_order_fits_its_row(), "an encoding's byte order spans its row's bytes");

// The canonical row of an encoding (its first).
constexpr const EncodingInfo& encoding_info(Encoding encoding) {
  for (const EncodingInfo& row : kEncodingTable) {
    if (row.encoding == encoding) return row;
  }
  return kEncodingTable[0];  // unreachable: every Encoding has a row
}

constexpr Chroma chroma_of(Encoding encoding) { return encoding_info(encoding).chroma; }
// Bytes one pixel occupies in a row (for the Y plane of a 4:2:0 encoding: 1).
constexpr int bytes_per_pixel(Encoding encoding) { return encoding_info(encoding).bytes_per_pixel; }
constexpr const char* encoding_name(Encoding encoding) { return encoding_info(encoding).name; }
// 4:2:0 encodings keep U and V in a second plane below the Y plane: height / 2 rows, `step`
// bytes apart like the Y rows.
constexpr bool has_uv_plane(Encoding encoding) { return chroma_of(encoding) == Chroma::k420; }

// The table as _core.encoding_table() gives it to Python.
const std::vector<EncodingInfo>& encoding_table();
const char* chroma_name(Chroma chroma) noexcept;  // "full", "4:2:2", "4:2:0"
// Every accepted encoding name, aliases included.
const std::vector<std::string>& encoding_names();
// The encoding a name (or alias) stands for; none for a name not in the table.
std::optional<Encoding> find_encoding(const std::string& name);
// "<field>: expected one of <every name>, given '<name>'".
std::string unknown_encoding_message(const std::string& name,
                                     const std::string& field = "encoding");
// Throws InputError (unknown_encoding_message) for an unknown name.
Encoding parse_encoding(const std::string& name, const std::string& field = "encoding");

// A compile-time encoding, as the dispatch hands it over, with the facts device code branches
// on (device code cannot call the constexpr functions above; it can read these constants).
template <Encoding E>
struct EncodingTag {
  static constexpr Encoding value = E;
  static constexpr bool kHasUvPlane = has_uv_plane(E);
};

namespace detail {
template <int I, typename Visitor>
TRTPIPE_HD auto visit_encoding_from(Encoding encoding, Visitor& visit) {
  if constexpr (I + 1 < kEncodingCount) {
    if (static_cast<int>(encoding) != I) return visit_encoding_from<I + 1>(encoding, visit);
  }
  return visit(EncodingTag<static_cast<Encoding>(I)>{});
}
}  // namespace detail

// visit(EncodingTag<E>{}) for the E that `encoding` holds at run time: the one place where a
// run's encoding becomes a template argument, for the kernel and the CPU path alike. Every
// visit must return the same type; a value outside the table reads as the last encoding.
template <typename Visitor>
TRTPIPE_HD auto visit_encoding(Encoding encoding, Visitor visit) {
  return detail::visit_encoding_from<0>(encoding, visit);
}

}  // namespace trtpipe::preprocess
