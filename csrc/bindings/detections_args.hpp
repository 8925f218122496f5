#pragma once
// Detections as _core hands them to Python, and the letterbox mapping as Python gives it: shared
// by the decoders (bind_decode.cpp) and the frame path that decodes natively (bind_pipeline.cpp).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <vector>

#include "common/errors.hpp"
#include "decode/dense_head.hpp"

namespace trtpipe::bindings {

template <typename T>
pybind11::array_t<T> to_numpy(const std::vector<T>& values) {
  pybind11::array_t<T> out(static_cast<pybind11::ssize_t>(values.size()));
  if (!values.empty()) std::memcpy(out.mutable_data(), values.data(), values.size() * sizeof(T));
  return out;
}

// A Letterbox's source_terms (pad_x, pad_y, scale_x, scale_y, src_w, src_h); None: no mapping.
inline decode::SourceMapping mapping_of(const pybind11::object& letterbox) {
  decode::SourceMapping mapping;
  if (!letterbox.is_none()) {
    const auto terms = letterbox.cast<std::vector<double>>();
    if (terms.size() != 6) {
      throw InputError("letterbox: expected (pad_x, pad_y, scale_x, scale_y, src_w, src_h)");
    }
    mapping = {true, terms[0], terms[1], terms[2], terms[3], terms[4], terms[5]};
  }
  return mapping;
}

// (float32 (K, 4) boxes, float32 scores, int64 class ids) as NumPy arrays.
inline pybind11::tuple detections_tuple(const decode::Detected& found) {
  const auto count = static_cast<pybind11::ssize_t>(found.scores.size());
  pybind11::array_t<float> boxes({count, pybind11::ssize_t{4}});
  if (count > 0) {
    std::memcpy(boxes.mutable_data(), found.boxes.data(), found.boxes.size() * sizeof(float));
  }
  return pybind11::make_tuple(boxes, to_numpy(found.scores), to_numpy(found.class_ids));
}

}  // namespace trtpipe::bindings
