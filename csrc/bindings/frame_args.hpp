#pragma once
// Frames and output tensors as Python passes them to _core, each as one typed view:
//   a frame,  trtpipe.preprocess.LocatedFrame: (address, size, width, height, step, encoding,
//             on_device, stream);
//   an output, trtpipe.preprocess.PreparedOutput: (address, shape, strides, dtype, on_device,
//             stream);
// where an address is a NumPy array (host memory) or an int (GPU memory, as
// __cuda_array_interface__ and DLPack give it), and every integer is checked as Python gave it
// (checked_args.hpp). frame_arg and output_arg are the one reader of each.
//
// A view naming its array is checked against it: the bytes the view describes must lie in the
// bytes the array's elements span, so a view whose fields were changed (NamedTuple._replace)
// cannot point past the memory the array keeps alive. An int address names no buffer: nothing
// here can check it, so the host-memory paths (CPU runs, host frames) refuse it
// (require_array); only GPU memory, which arrives as a bare address, is taken on trust.
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

// "(1, 3, 16, 16)": a shape or strides, for messages.
inline std::string ints_text(const std::vector<std::int64_t>& values) {
  std::string out = "(";
  for (std::size_t i = 0; i < values.size(); ++i) {
    out += (i != 0 ? ", " : "") + std::to_string(values[i]);
  }
  return out + (values.size() == 1 ? ",)" : ")");
}

// The byte offsets [lo, hi) from the first element that the elements of a strided layout cover
// (lo < 0 where strides are negative); both 0 when an extent is 0.
struct ByteSpan {
  std::int64_t lo = 0;
  std::int64_t hi = 0;
};

// False when an extent is negative or an offset overflows int64: such a layout describes no
// memory. `shape` and `strides` have `ndim` entries each (a vector's or a NumPy array's own,
// read in place: no copy per frame).
template <typename Int>
bool strided_span(const Int* shape, const Int* strides, std::size_t ndim, std::int64_t itemsize,
                  ByteSpan& span) {
  span = {};
  for (std::size_t axis = 0; axis < ndim; ++axis) {
    if (shape[axis] < 0) return false;
  }
  for (std::size_t axis = 0; axis < ndim; ++axis) {
    if (shape[axis] == 0) return true;
  }
  for (std::size_t axis = 0; axis < ndim; ++axis) {
    std::int64_t reach = 0;
    if (__builtin_mul_overflow(static_cast<std::int64_t>(shape[axis]) - 1,
                               static_cast<std::int64_t>(strides[axis]), &reach)) {
      return false;
    }
    std::int64_t& end = reach < 0 ? span.lo : span.hi;
    if (__builtin_add_overflow(end, reach, &end)) return false;
  }
  return !__builtin_add_overflow(span.hi, itemsize, &span.hi);
}

// The strides in bytes of a C-contiguous layout; false when they overflow int64.
inline bool contiguous_strides(const std::vector<std::int64_t>& shape, std::int64_t itemsize,
                               std::vector<std::int64_t>& strides) {
  strides.assign(shape.size(), 0);
  std::int64_t step = itemsize;
  for (std::size_t axis = shape.size(); axis-- > 0;) {
    strides[axis] = step;
    if (__builtin_mul_overflow(step, std::max<std::int64_t>(shape[axis], 1), &step)) return false;
  }
  return true;
}

// A NumPy array's shape or strides as int64s, for messages.
inline std::vector<std::int64_t> numpy_ints(const pybind11::ssize_t* values,
                                            const pybind11::array& array) {
  return {values, values + array.ndim()};
}

// The span of a NumPy array's elements.
inline ByteSpan numpy_span(const pybind11::array& array, const char* field) {
  ByteSpan span;
  if (!strided_span(array.shape(), array.strides(), static_cast<std::size_t>(array.ndim()),
                    array.itemsize(), span)) {
    // only numpy.lib.stride_tricks can make one
    throw InputError(std::string(field) + ": expected an array whose elements span at most " +
                     "2**63-1 bytes, given shape " + ints_text(numpy_ints(array.shape(), array)) +
                     ", strides " + ints_text(numpy_ints(array.strides(), array)));
  }
  return span;
}

// A NumPy array is host memory: a view naming one as GPU memory contradicts itself, and the GPU
// would be handed a host address.
inline void check_host_array(bool on_device) {
  if (on_device) {
    throw InputError("on_device: expected False for a NumPy array (host memory), given True");
  }
}

// InputError unless the view's memory came as its NumPy array, whose span the view was checked
// against: the host paths read and write that memory with the CPU, where an int address could
// point anywhere.
inline void require_array(bool in_array, const char* field) {
  if (!in_array) {
    throw InputError(std::string(field) +
                     ": expected a NumPy array for host memory (the view is checked against "
                     "it), given an int address");
  }
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

// InputError unless an output view (strides in bytes, empty: C-contiguous) describes elements
// of `array` only, in its dtype: what the preprocessing writes then stays in the array.
inline void check_view_of_array(const pybind11::array& array,
                                const std::vector<std::int64_t>& shape,
                                const std::vector<std::int64_t>& strides,
                                const std::string& dtype) {
  const std::string have = pybind11::str(array.dtype().attr("name"));
  if (dtype != have) {
    throw InputError("dtype: expected '" + have + "' (the dtype of the array out names), given '" +
                     dtype + "'");
  }
  if (!strides.empty() && strides.size() != shape.size()) {
    throw InputError("strides: expected one per axis of shape " + ints_text(shape) + ", given " +
                     ints_text(strides));
  }
  const ByteSpan held = numpy_span(array, "out");
  std::vector<std::int64_t> steps = strides;
  ByteSpan view;
  const bool described = (!steps.empty() || contiguous_strides(shape, array.itemsize(), steps)) &&
                         strided_span(shape.data(), steps.data(), shape.size(), array.itemsize(),
                                      view);
  const bool empty = view.hi == view.lo;
  if (!described || (!empty && (view.lo < held.lo || view.hi > held.hi))) {
    throw InputError("out: expected shape and strides within the array it names (shape " +
                     ints_text(numpy_ints(array.shape(), array)) + ", strides " +
                     ints_text(numpy_ints(array.strides(), array)) + "), given shape " +
                     ints_text(shape) + ", strides " + ints_text(strides));
  }
}

inline preprocess::Tensor make_tensor(const pybind11::object& data,
                                      std::vector<std::int64_t> shape,
                                      std::vector<std::int64_t> strides, std::string dtype,
                                      int batch_index) {
  check_output_array(data);
  if (pybind11::isinstance<pybind11::array>(data)) {
    check_view_of_array(pybind11::reinterpret_borrow<pybind11::array>(data), shape, strides,
                        dtype);
  }
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
  // every field is read (and refused by name) before the view is checked against the array
  std::vector<std::int64_t> extents = checked_ints<std::int64_t>(shape, "shape");
  std::vector<std::int64_t> steps = checked_ints<std::int64_t>(strides, "strides");
  const int index = checked_int<int>(batch_index, "batch_index");
  return make_tensor(out, std::move(extents), std::move(steps), std::move(dtype), index);
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
  bool in_array = false;      // the bytes came as a NumPy array, the view checked against it
  std::uintptr_t stream = 0;  // the producer's, waited on before the frame is read
};

// An output's view, read from its PreparedOutput.
struct OutputArg {
  preprocess::Tensor tensor;
  bool on_device = false;
  bool in_array = false;      // as FrameArg's
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

// The fields of a LocatedFrame, each checked as Python gave it; the encoding still a name, for
// the reader of colour frames (frame_arg) or of depth frames (bind_depth.cpp) to parse. A frame
// naming its array may claim no byte past the array's last element: the frame rule then keeps
// every read within `size`, so within the array.
struct LocatedFields {
  preprocess::ImageBuffer buffer;
  std::string encoding;
  bool on_device = false;
  bool in_array = false;
  std::uintptr_t stream = 0;
};

inline LocatedFields located_fields(const pybind11::handle& located, const char* field,
                                    const char* stream_field) {
  const pybind11::sequence f = view_fields(
      located, 8, field,
      "a LocatedFrame (address, size, width, height, step, encoding, on_device, stream)");
  const pybind11::object address = f[0];
  LocatedFields out;
  out.buffer.data = reinterpret_cast<const void*>(address_of(address));
  out.buffer.size = checked_size(f[1], "size");
  out.buffer.width = checked_int<int>(f[2], "width");
  out.buffer.height = checked_int<int>(f[3], "height");
  out.buffer.step = checked_int<std::int64_t>(f[4], "step");
  out.encoding = text_field(f[5], "encoding");
  out.on_device = flag_field(f[6], "on_device");
  out.stream = checked_int<std::uintptr_t>(f[7], stream_field);
  out.in_array = pybind11::isinstance<pybind11::array>(address);
  if (out.in_array) {
    check_host_array(out.on_device);
    // reads start at the first element: bytes before it (negative strides) are not the frame's
    const std::int64_t held =
        numpy_span(pybind11::reinterpret_borrow<pybind11::array>(address), field).hi;
    if (out.buffer.size > static_cast<std::size_t>(held)) {
      throw InputError("size: expected at most " + std::to_string(held) +
                       " bytes (what the array the " + field +
                       " names holds from its first element), given " +
                       std::to_string(out.buffer.size));
    }
  }
  return out;
}

inline FrameArg frame_arg(const pybind11::handle& located) {
  const LocatedFields f = located_fields(located, "frame", "frame stream");
  FrameArg arg;
  arg.frame = preprocess::Frame{f.buffer, preprocess::parse_encoding(f.encoding)};
  arg.on_device = f.on_device;
  arg.in_array = f.in_array;
  arg.stream = f.stream;
  return arg;
}

inline OutputArg output_arg(const pybind11::handle& prepared, pybind11::handle batch_index) {
  const pybind11::sequence f = view_fields(
      prepared, 6, "out", "a PreparedOutput (address, shape, strides, dtype, on_device, stream)");
  const pybind11::object address = f[0];
  OutputArg arg;
  std::string dtype = text_field(f[3], "dtype");
  arg.on_device = flag_field(f[4], "on_device");
  arg.stream = checked_int<std::uintptr_t>(f[5], "out stream");
  arg.in_array = pybind11::isinstance<pybind11::array>(address);
  if (arg.in_array) check_host_array(arg.on_device);
  arg.tensor = tensor_from_args(address, f[1], f[2], std::move(dtype), batch_index);
  return arg;
}

}  // namespace trtpipe::bindings
