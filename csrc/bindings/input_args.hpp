#pragma once
// Model inputs as Python passes them to _core (a dict of name -> array, or a list or tuple in
// the model's order; NumPy arrays or GPU arrays), as the frame pipeline's TensorInputs; and
// NumPy's dtypes for the pipeline's outputs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/errors.hpp"
#include "engine/engine_model.hpp"
#include "pipeline/frame_pipeline.hpp"

namespace trtpipe::bindings {

namespace py = pybind11;

// NumPy's number for float16 (NPY_HALF), part of NumPy's stable C ABI.
constexpr int kNumpyHalf = 23;

// From NumPy's type numbers: no string parsing per output per frame. EngineError naming
// `tensor` for a type NumPy has none for.
inline py::dtype numpy_dtype(engine::DType dtype, const std::string& tensor) {
  using engine::DType;
  switch (dtype) {
    case DType::kFloat32: return py::dtype::of<float>();
    case DType::kFloat16: return py::dtype(kNumpyHalf);
    case DType::kInt8: return py::dtype::of<std::int8_t>();
    case DType::kUInt8: return py::dtype::of<std::uint8_t>();
    case DType::kInt32: return py::dtype::of<std::int32_t>();
    case DType::kInt64: return py::dtype::of<std::int64_t>();
    case DType::kBool: return py::dtype::of<bool>();
    case DType::kBFloat16:
    case DType::kOther: break;
  }
  throw EngineError("tensor '" + tensor + "': its dtype " + engine::dtype_name(dtype) +
                    " has no NumPy equivalent");
}

inline engine::DType dtype_from(char kind, std::size_t size) {
  using engine::DType;
  if (kind == 'f' && size == 4) return DType::kFloat32;
  if (kind == 'f' && size == 2) return DType::kFloat16;
  if (kind == 'i' && size == 1) return DType::kInt8;
  if (kind == 'u' && size == 1) return DType::kUInt8;
  if (kind == 'i' && size == 4) return DType::kInt32;
  if (kind == 'i' && size == 8) return DType::kInt64;
  if (kind == 'b' && size == 1) return DType::kBool;
  return DType::kOther;
}

// Exactly numpy.ndarray (not a subclass): it has no __cuda_array_interface__, so the attribute
// lookup, slow when it fails, is skipped.
inline bool is_plain_numpy(const py::handle& value) {
  return Py_TYPE(value.ptr()) == py::detail::npy_api::get().PyArray_Type_;
}

// A GPU array or anything NumPy can read, as a TensorInput. GPU arrays (__cuda_array_interface__,
// DLPack on a CUDA device, PyTorch CUDA tensors) are read by trtpipe.arrays.device_array, the one
// reader of array interfaces. Host arrays NumPy had to make (a copy, a conversion) are kept alive
// in `keep` until submit() has copied them; the caller's own arrays are alive for the whole call.
inline pipeline::TensorInput to_input(pipeline::TensorInput view, const py::handle& value,
                                      py::list& keep) {
  const std::string& name = view.name;
  if (!is_plain_numpy(value)) {
    const py::object found = py::module_::import("trtpipe.arrays")
                                 .attr("device_array")(value, "input '" + name + "'");
    if (!found.is_none()) {
      // DeviceArray: (address, shape, strides in bytes, NumPy dtype, producer stream, readonly)
      const auto shape = found[py::int_(1)].cast<std::vector<std::int64_t>>();
      const auto strides = found[py::int_(2)].cast<std::vector<std::int64_t>>();
      const auto dtype = py::reinterpret_borrow<py::dtype>(found[py::int_(3)]);
      view.shape.assign(shape.begin(), shape.end());
      view.dtype = dtype_from(dtype.kind(), static_cast<std::size_t>(dtype.itemsize()));
      if (view.dtype == engine::DType::kOther) view.dtype_label = py::str(dtype);
      std::int64_t expected = dtype.itemsize();
      for (std::size_t i = strides.size(); i-- > 0;) {
        if (shape[i] > 1 && strides[i] != expected) {
          throw InputError("input '" + name + "': expected a C-contiguous GPU array, given " +
                           "strides " + engine::shape_text(strides));
        }
        expected *= shape[i];
      }
      view.data = reinterpret_cast<const void*>(found[py::int_(0)].cast<std::uintptr_t>());
      view.on_device = true;
      view.ready_stream = found[py::int_(4)].cast<std::uintptr_t>();
      return view;
    }
  }
  py::array array = py::array::ensure(value, py::array::c_style);
  if (!array) {
    throw InputError("input '" + name + "': expected a NumPy or GPU array, given " +
                     std::string(py::str(py::type::of(value))));
  }
  if (array.ptr() != value.ptr()) keep.append(array);
  view.data = array.data();
  view.shape.assign(array.shape(), array.shape() + array.ndim());
  view.dtype = dtype_from(array.dtype().kind(), static_cast<std::size_t>(array.itemsize()));
  // Only error messages read the label, and only for types the pipeline has no name for.
  if (view.dtype == engine::DType::kOther) view.dtype_label = py::str(array.dtype());
  return view;
}

// A dict of name -> array, or a list/tuple of arrays in the order of the model's inputs.
inline std::vector<pipeline::TensorInput> to_inputs(const py::handle& inputs, py::list& keep) {
  std::vector<pipeline::TensorInput> views;
  if (PyDict_Check(inputs.ptr())) {
    const auto dict = py::reinterpret_borrow<py::dict>(inputs);
    views.reserve(dict.size());
    for (const auto& item : dict) {
      pipeline::TensorInput view;
      view.name = py::str(item.first);
      views.push_back(to_input(std::move(view), item.second, keep));
    }
    return views;
  }
  if (PyList_Check(inputs.ptr()) || PyTuple_Check(inputs.ptr())) {
    const auto sequence = py::reinterpret_borrow<py::sequence>(inputs);
    const std::size_t count = sequence.size();
    views.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      pipeline::TensorInput view;
      view.input = static_cast<int>(i);
      view.name = "#" + std::to_string(i);  // what error messages call it
      views.push_back(to_input(std::move(view), sequence[i], keep));
    }
    return views;
  }
  throw InputError("inputs: expected a dict of input name to array, or a list or tuple of " +
                   std::string("arrays in the order of the model's inputs, given ") +
                   std::string(py::str(py::type::of(inputs))));
}

}  // namespace trtpipe::bindings
