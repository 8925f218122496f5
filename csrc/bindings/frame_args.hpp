#pragma once
// Frames and output tensors as Python passes them to _core, each as one typed view:
//   a frame,  trtpipe.preprocess.LocatedFrame: (address, size, width, height, step, encoding,
//             on_device, stream);
//   an output, trtpipe.preprocess.PreparedOutput: (address, shape, strides, dtype, on_device,
//             stream);
// where an address is an int, or a NumPy array whose address is read here (cheaper than in
// Python), and every integer is checked as Python gave it (checked_args.hpp). frame_arg and
// output_arg are the one reader of each.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bindings/checked_args.hpp"
#include "common/errors.hpp"
#include "preprocess/encoding.hpp"
#include "preprocess/frame.hpp"
#include "preprocess/image_buffer.hpp"
#include "preprocess/options.hpp"

namespace trtpipe::bindings {

// An address given as an int, or the address of a NumPy array's first element.
inline std::uintptr_t address_of(const pybind11::object& obj, const char* field = "data") {
  if (pybind11::isinstance<pybind11::array>(obj)) {
    return reinterpret_cast<std::uintptr_t>(
        pybind11::reinterpret_borrow<pybind11::array>(obj).data());
  }
  return checked_int<std::uintptr_t>(obj, field);
}

// An output given as a NumPy array must take native values in place.
inline void check_output_array(const pybind11::object& out) {
  if (!pybind11::isinstance<pybind11::array>(out)) return;
  const auto array = pybind11::reinterpret_borrow<pybind11::array>(out);
  // The preprocessing writes native floats: a byte-swapped array would hold garbage.
  if (array.dtype().byteorder() == (PY_BIG_ENDIAN ? '<' : '>')) {
    throw InputError("out: expected an array of native byte order, given dtype " +
                     pybind11::str(array.dtype().attr("str")).cast<std::string>());
  }
  if (!array.writeable()) {
    throw InputError("out: expected a writable array, given a read-only one");
  }
}

inline preprocess::Tensor make_tensor(const pybind11::object& data,
                                      std::vector<std::int64_t> shape,
                                      std::vector<std::int64_t> strides, std::string dtype,
                                      int batch_index) {
  check_output_array(data);
  preprocess::Tensor tensor;
  tensor.data = reinterpret_cast<void*>(address_of(data, "out"));
  tensor.shape = std::move(shape);
  tensor.strides = std::move(strides);
  tensor.dtype = std::move(dtype);
  tensor.batch_index = batch_index;
  return tensor;
}

inline preprocess::Tensor tensor_from_args(const pybind11::object& out, pybind11::handle shape,
                                           pybind11::handle strides, std::string dtype,
                                           pybind11::handle batch_index) {
  return make_tensor(out, checked_ints<std::int64_t>(shape, "shape"),
                     checked_ints<std::int64_t>(strides, "strides"), std::move(dtype),
                     checked_int<int>(batch_index, "batch_index"));
}

// The sizes of camera bytes as a message gives them (ROS: uint32), for the frame rule: a side out
// of int range is simply too large.
struct MessageSizes {
  int width = 0;
  int height = 0;
  std::int64_t step = 0;
  std::size_t size = 0;
};

inline MessageSizes message_sizes(pybind11::handle width, pybind11::handle height,
                                  pybind11::handle step, pybind11::handle size) {
  constexpr std::int64_t kBig = std::int64_t{1} << 40;
  MessageSizes out;
  out.width = static_cast<int>(
      std::min(checked_int<std::int64_t>(width, "width", 0, kBig), std::int64_t{1} << 30));
  out.height = static_cast<int>(
      std::min(checked_int<std::int64_t>(height, "height", 0, kBig), std::int64_t{1} << 30));
  out.step = checked_int<std::int64_t>(step, "step", 0, kBig);
  out.size = checked_size(size, "size");
  return out;
}

// What a frame rule says of a message's bytes, for Python: (reason, message, None) when
// `problem_of` (frame_problem, depth_problem) rejects them, else (None, None, the row step).
template <typename Frame, typename ProblemOf>
pybind11::tuple message_problem(Frame frame, pybind11::handle width, pybind11::handle height,
                                pybind11::handle step, pybind11::handle size,
                                ProblemOf problem_of) {
  const MessageSizes sizes = message_sizes(width, height, step, size);
  frame.width = sizes.width;
  frame.height = sizes.height;
  frame.step = sizes.step;
  frame.size = sizes.size;
  frame.data = &frame;  // any address: only the sizes are checked
  if (const preprocess::FrameProblem problem = problem_of(frame)) {
    return pybind11::make_tuple(problem.reason, problem.message, pybind11::none());
  }
  return pybind11::make_tuple(pybind11::none(), pybind11::none(), frame.step);
}

// A frame's view, read from its LocatedFrame.
struct FrameArg {
  preprocess::Frame frame;
  bool on_device = false;
  std::uintptr_t stream = 0;  // the producer's, waited on before the frame is read
};

// An output's view, read from its PreparedOutput.
struct OutputArg {
  preprocess::Tensor tensor;
  bool on_device = false;
  std::uintptr_t stream = 0;  // the consumer's, ordered after the write
};

// The fields of a view of `size` fields (a NamedTuple, or any tuple or list), or InputError
// naming `field` and what it must be.
inline pybind11::sequence view_fields(const pybind11::handle& view, std::size_t size,
                                      const char* field, const char* expected) {
  if (!PyTuple_Check(view.ptr()) && !PyList_Check(view.ptr())) {
    throw InputError(std::string(field) + ": expected " + expected + ", given " +
                     std::string(pybind11::str(pybind11::type::of(view).attr("__name__"))));
  }
  const auto fields = pybind11::reinterpret_borrow<pybind11::sequence>(view);
  if (fields.size() != size) {
    throw InputError(std::string(field) + ": expected " + expected + ", given " +
                     std::to_string(fields.size()) + " values");
  }
  return fields;
}

inline std::string text_field(const pybind11::handle& value, const char* field) {
  if (!PyUnicode_Check(value.ptr())) {
    throw InputError(std::string(field) + ": expected a str, given " +
                     std::string(pybind11::str(pybind11::type::of(value).attr("__name__"))));
  }
  return value.cast<std::string>();
}

inline bool flag_field(const pybind11::handle& value, const char* field) {
  if (!PyBool_Check(value.ptr())) {
    throw InputError(std::string(field) + ": expected True or False, given " +
                     std::string(pybind11::str(pybind11::type::of(value).attr("__name__"))));
  }
  return value.ptr() == Py_True;
}

// The fields of a LocatedFrame, each checked as Python gave it; the encoding still a name, for
// the reader of colour frames (frame_arg) or of depth frames (bind_depth.cpp) to parse.
struct LocatedFields {
  preprocess::ImageBuffer buffer;
  std::string encoding;
  bool on_device = false;
  std::uintptr_t stream = 0;
};

inline LocatedFields located_fields(const pybind11::handle& located, const char* field,
                                    const char* stream_field) {
  const pybind11::sequence f = view_fields(
      located, 8, field,
      "a LocatedFrame (address, size, width, height, step, encoding, on_device, stream)");
  LocatedFields out;
  out.buffer.data = reinterpret_cast<const void*>(address_of(f[0]));
  out.buffer.size = checked_size(f[1], "size");
  out.buffer.width = checked_int<int>(f[2], "width");
  out.buffer.height = checked_int<int>(f[3], "height");
  out.buffer.step = checked_int<std::int64_t>(f[4], "step");
  out.encoding = text_field(f[5], "encoding");
  out.on_device = flag_field(f[6], "on_device");
  out.stream = checked_int<std::uintptr_t>(f[7], stream_field);
  return out;
}

inline FrameArg frame_arg(const pybind11::handle& located) {
  const LocatedFields f = located_fields(located, "frame", "frame stream");
  FrameArg arg;
  arg.frame = preprocess::Frame{f.buffer, preprocess::parse_encoding(f.encoding)};
  arg.on_device = f.on_device;
  arg.stream = f.stream;
  return arg;
}

inline OutputArg output_arg(const pybind11::handle& prepared, pybind11::handle batch_index) {
  const pybind11::sequence f = view_fields(
      prepared, 6, "out", "a PreparedOutput (address, shape, strides, dtype, on_device, stream)");
  OutputArg arg;
  arg.tensor = tensor_from_args(f[0], f[1], f[2], text_field(f[3], "dtype"), batch_index);
  arg.on_device = flag_field(f[4], "on_device");
  arg.stream = checked_int<std::uintptr_t>(f[5], "out stream");
  return arg;
}

}  // namespace trtpipe::bindings
