#pragma once
// Frames and tensors as Python passes them to _core: an address (an int, or a NumPy array whose
// address is read here, cheaper than in Python) plus sizes, shapes and names.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "preprocess/frame.hpp"
#include "preprocess/options.hpp"

namespace trtpipe::bindings {

// An address given as an int, or the address of a NumPy array's first element.
inline std::uintptr_t address_of(const pybind11::object& obj) {
  if (pybind11::isinstance<pybind11::array>(obj)) {
    return reinterpret_cast<std::uintptr_t>(
        pybind11::reinterpret_borrow<pybind11::array>(obj).data());
  }
  return obj.cast<std::uintptr_t>();
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
  preprocess::Tensor tensor;
  tensor.data = reinterpret_cast<void*>(address_of(data));
  tensor.shape = std::move(shape);
  tensor.strides = std::move(strides);
  tensor.dtype = std::move(dtype);
  tensor.batch_index = batch_index;
  return tensor;
}

}  // namespace trtpipe::bindings
