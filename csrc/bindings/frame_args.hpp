#pragma once
// Frames and tensors as Python passes them to _core: an address (an int, or a NumPy array whose
// address is read here, cheaper than in Python) plus sizes, shapes and names. frame_from_args and
// tensor_from_args take the integers as Python gave them and check each (checked_args.hpp).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bindings/checked_args.hpp"
#include "common/errors.hpp"
#include "preprocess/encoding.hpp"
#include "preprocess/frame.hpp"
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

inline preprocess::Frame make_frame(const pybind11::object& data, std::size_t size, int width,
                                    int height, std::int64_t step, const std::string& encoding) {
  preprocess::Frame frame;
  frame.data = reinterpret_cast<const void*>(address_of(data));
  frame.size = size;
  frame.width = width;
  frame.height = height;
  frame.step = step;
  frame.encoding = preprocess::parse_encoding(encoding);
  return frame;
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

inline preprocess::Frame frame_from_args(const pybind11::object& data, pybind11::handle size,
                                         pybind11::handle width, pybind11::handle height,
                                         pybind11::handle step, const std::string& encoding) {
  return make_frame(data, checked_size(size, "size"), checked_int<int>(width, "width"),
                    checked_int<int>(height, "height"), checked_int<std::int64_t>(step, "step"),
                    encoding);
}

inline preprocess::Tensor tensor_from_args(const pybind11::object& out, pybind11::handle shape,
                                           pybind11::handle strides, std::string dtype,
                                           pybind11::handle batch_index) {
  return make_tensor(out, checked_ints<std::int64_t>(shape, "shape"),
                     checked_ints<std::int64_t>(strides, "strides"), std::move(dtype),
                     checked_int<int>(batch_index, "batch_index"));
}

}  // namespace trtpipe::bindings
