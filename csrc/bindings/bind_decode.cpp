// trtpipe.decode's view of csrc/decode: NumPy arrays in (read in place, any strides), NumPy
// arrays out. The GIL is released while the C++ runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bindings/bindings.hpp"
#include "bindings/checked_args.hpp"
#include "bindings/detections_args.hpp"
#include "common/errors.hpp"
#include "decode/candidates.hpp"
#include "decode/compact_candidates.hpp"
#include "decode/dense_head.hpp"
#include "decode/nms.hpp"
#include "decode/source_mapping.hpp"

namespace py = pybind11;

namespace trtpipe::bindings {
namespace {

template <typename T>
void check_array(const py::array& a, const char* name, py::ssize_t ndim) {
  if (!a.dtype().is(py::dtype::of<T>())) {
    throw InputError(std::string(name) + ": expected " +
                     std::string(py::str(py::dtype::of<T>())) + ", given " +
                     std::string(py::str(a.dtype())));
  }
  if (a.ndim() != ndim) {
    throw InputError(std::string(name) + ": expected " + std::to_string(ndim) + " dims, given " +
                     std::to_string(a.ndim()));
  }
  for (py::ssize_t d = 0; d < ndim; ++d) {
    if (a.strides(d) % static_cast<py::ssize_t>(sizeof(T)) != 0) {
      throw InputError(std::string(name) + ": expected strides that are whole elements");
    }
  }
}

// A 2-D array read in place (the caller keeps it alive), its strides in elements.
template <typename T>
decode::StridedMatrix<T> matrix_of(const py::array& a) {
  decode::StridedMatrix<T> m;
  m.data = static_cast<const T*>(a.data());
  m.rows = a.shape(0);
  m.cols = a.shape(1);
  m.row_stride = a.strides(0) / static_cast<py::ssize_t>(sizeof(T));
  m.col_stride = a.strides(1) / static_cast<py::ssize_t>(sizeof(T));
  return m;
}

// A float32 value per anchor, read in place (the caller keeps the array alive), or none.
decode::Objectness objectness_of(const py::object& objectness, std::int64_t anchors) {
  decode::Objectness obj;
  if (objectness.is_none()) return obj;
  if (!py::isinstance<py::array>(objectness)) {
    throw InputError("objectness: expected a float32 NumPy array or None");
  }
  const auto array = py::reinterpret_borrow<py::array>(objectness);
  check_array<float>(array, "objectness", 1);
  if (array.shape(0) != anchors) {
    throw InputError("objectness: expected one value per anchor (" + std::to_string(anchors) +
                     "), given " + std::to_string(array.shape(0)));
  }
  obj.data = static_cast<const float*>(array.data());
  obj.stride = array.strides(0) / static_cast<py::ssize_t>(sizeof(float));
  return obj;
}

py::tuple best_class(const py::array& scores, float conf, const py::object& objectness) {
  check_array<float>(scores, "scores", 2);
  const decode::ScoreMatrix s = matrix_of<float>(scores);
  const decode::Objectness obj = objectness_of(objectness, s.cols);
  decode::Candidates c;
  {
    py::gil_scoped_release unlocked;
    c = decode::best_class_candidates(s, conf, obj);
  }
  return py::make_tuple(to_numpy(c.anchor), to_numpy(c.score), to_numpy(c.class_id));
}

py::array_t<double> cxcywh_to_xyxy(const py::array& boxes,
                                   const py::array_t<std::int64_t, py::array::c_style |
                                                                       py::array::forcecast>& anchors) {
  check_array<float>(boxes, "boxes", 2);
  if (boxes.shape(0) != 4) {
    throw InputError("boxes: expected 4 rows (cx, cy, w, h), given " +
                     std::to_string(boxes.shape(0)));
  }
  if (anchors.ndim() != 1) throw InputError("anchors: expected 1 dim");
  const decode::ScoreMatrix m = matrix_of<float>(boxes);
  const std::int64_t count = anchors.shape(0);
  const std::int64_t* a = anchors.data();
  for (std::int64_t k = 0; k < count; ++k) {
    if (a[k] < 0 || a[k] >= m.cols) {
      throw InputError("anchors: expected values in [0, " + std::to_string(m.cols) +
                       "), given " + std::to_string(a[k]));
    }
  }
  py::array_t<double> out({static_cast<py::ssize_t>(count), py::ssize_t{4}});
  decode::cxcywh_to_xyxy(m, a, count, out.mutable_data());
  return out;
}

decode::BoxView box_view(const py::array& boxes) {
  check_array<double>(boxes, "boxes", 2);
  if (boxes.shape(1) != 4) {
    throw InputError("boxes: expected shape (N, 4), given (" + std::to_string(boxes.shape(0)) +
                     ", " + std::to_string(boxes.shape(1)) + ")");
  }
  return matrix_of<double>(boxes);
}

using IdArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
using ScoreArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

// `value` as a NumPy array whose dtype kind is one of `kinds`, else InputError naming `field`:
// forcecast alone would turn text such as '0.5' into numbers, and a failed cast into
// pybind11's list of signatures.
py::array array_of_kind(py::handle value, const char* field, const std::string& kinds,
                        const char* expected) {
  const py::array given = py::array::ensure(value);
  if (!given) {
    throw InputError(std::string(field) + ": expected " + expected + ", given " +
                     given_text(value));
  }
  if (kinds.find(given.dtype().kind()) == std::string::npos) {
    throw InputError(std::string(field) + ": expected " + expected + ", given dtype " +
                     std::string(py::str(given.dtype())));
  }
  return given;
}

// float64 scores, one per box, from an array of real numbers (bool, int or float).
ScoreArray scores_of(py::handle scores, std::int64_t count) {
  const ScoreArray out =
      ScoreArray::ensure(array_of_kind(scores, "scores", "biuf", "an array of real numbers"));
  if (!out || out.ndim() != 1 || out.shape(0) != count) {
    throw InputError("scores: expected one per box (" + std::to_string(count) + ")");
  }
  return out;
}

// One int64 class id per box, or null for class-agnostic NMS.
const std::int64_t* class_ids_of(const py::object& class_ids, std::int64_t count,
                                 IdArray& holder) {
  if (class_ids.is_none()) return nullptr;
  holder = IdArray::ensure(array_of_kind(class_ids, "class_ids", "iu", "an array of ints"));
  if (!holder || holder.ndim() != 1 || holder.shape(0) != count) {
    throw InputError("class_ids: expected one per box (" + std::to_string(count) + ")");
  }
  return holder.data();
}

// `value` as a double in [0, 1]: a real number as checked_real reads it, not an array.
double checked_fraction(py::handle value, const char* field) {
  double v = std::nan("");
  if (!py::isinstance<py::array>(value)) {
    try {
      v = checked_real<double>(value, field);
    } catch (const InputError&) {  // the one message below says what a fraction is
    }
  }
  if (!(v >= 0.0 && v <= 1.0)) {  // NaN fails both compares
    throw InputError(std::string(field) + ": expected a value in [0, 1], given " +
                     given_text(value));
  }
  return v;
}

py::array_t<std::int64_t> nms(const py::array& boxes, py::handle scores,
                              const py::object& class_ids, py::handle iou_threshold,
                              py::handle max_output) {
  const decode::BoxView view = box_view(boxes);
  const ScoreArray score_values = scores_of(scores, view.rows);
  IdArray holder;
  const std::int64_t* classes = class_ids_of(class_ids, view.rows, holder);
  const double iou = checked_fraction(iou_threshold, "iou_threshold");
  const auto limit = checked_int<std::int64_t>(max_output, "max_output");
  std::vector<std::int64_t> kept;
  {
    py::gil_scoped_release unlocked;
    kept = decode::greedy_nms_by_score(view, score_values.data(), classes, iou, limit);
  }
  return to_numpy(kept);
}

// The letterbox mapping (pad_x, pad_y, scale_x, scale_y, src_w, src_h), or none for None.
py::tuple dense_head(const py::array& scores, const py::array& boxes, float conf, double iou,
                     py::handle max_output, bool agnostic, const py::object& objectness,
                     const py::object& letterbox) {
  check_array<float>(scores, "scores", 2);
  check_array<float>(boxes, "boxes", 2);
  decode::DenseHead head;
  head.scores = matrix_of<float>(scores);
  head.boxes = matrix_of<float>(boxes);
  if (head.boxes.rows != 4 || head.boxes.cols != head.scores.cols) {
    throw InputError("boxes: expected 4 rows (cx, cy, w, h) of " +
                     std::to_string(head.scores.cols) + " anchors, given " +
                     std::to_string(head.boxes.rows) + " of " +
                     std::to_string(head.boxes.cols));
  }
  head.objectness = objectness_of(objectness, head.scores.cols);
  const decode::DenseHeadOptions options{conf, iou,
                                         checked_int<std::int64_t>(max_output, "max_output"),
                                         agnostic};
  const decode::SourceMapping mapping = mapping_of(letterbox);
  decode::Detected found;
  {
    py::gil_scoped_release unlocked;
    found = decode::decode_dense_head(head, options, mapping);
  }
  return detections_tuple(found);
}

py::tuple compact_candidates(const py::array& records, std::int64_t count, double iou,
                             py::handle max_output, bool agnostic,
                             const py::object& letterbox) {
  check_array<float>(records, "records", 2);
  constexpr py::ssize_t kFloats = sizeof(decode::CompactCandidate) / sizeof(float);
  if (records.shape(1) != kFloats || records.strides(1) != sizeof(float) ||
      records.strides(0) != kFloats * static_cast<py::ssize_t>(sizeof(float))) {
    throw InputError("records: expected a C-contiguous float32 (N, 8) array, given shape (" +
                     std::to_string(records.shape(0)) + ", " + std::to_string(records.shape(1)) +
                     ") or other strides");
  }
  if (count < 0 || count > records.shape(0)) {
    throw InputError("count: expected 0.." + std::to_string(records.shape(0)) + ", given " +
                     std::to_string(count));
  }
  const decode::DenseHeadOptions options{0.0f, iou,
                                         checked_int<std::int64_t>(max_output, "max_output"),
                                         agnostic};
  const decode::SourceMapping mapping = mapping_of(letterbox);
  const auto* found = static_cast<const decode::CompactCandidate*>(records.data());
  decode::Detected detected;
  {
    py::gil_scoped_release unlocked;
    detected = decode::decode_compact_candidates(found, count, options, mapping);
  }
  return detections_tuple(detected);
}

// A copy of float32 or float64 boxes (..., 4) mapped to source pixels.
template <typename T>
py::array mapped_copy(const py::array& boxes, const decode::SourceMapping& mapping) {
  py::array_t<T> out(boxes.request().shape);
  auto source = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(boxes);
  std::copy(source.data(), source.data() + source.size(), out.mutable_data());
  decode::boxes_to_source(out.mutable_data(), static_cast<std::size_t>(out.size() / 4), mapping);
  return std::move(out);
}

py::array boxes_to_source(const py::array& boxes, const py::object& letterbox) {
  if (boxes.ndim() == 0 || boxes.shape(boxes.ndim() - 1) != 4) {
    std::string shape;
    for (py::ssize_t i = 0; i < boxes.ndim(); ++i) {
      shape += (i ? ", " : "") + std::to_string(boxes.shape(i));
    }
    throw InputError("boxes_xyxy: expected shape (..., 4), given (" + shape + ")");
  }
  const decode::SourceMapping mapping = mapping_of(letterbox);
  if (boxes.dtype().is(py::dtype::of<double>())) return mapped_copy<double>(boxes, mapping);
  return mapped_copy<float>(boxes, mapping);  // float32, and anything else as float32
}

}  // namespace

void bind_decode(py::module_& m) {
  py::module_ d = m.def_submodule("decode", "The hot loops of decoding: best class and NMS.");
  d.def("best_class", &best_class, py::arg("scores"), py::arg("conf"),
        py::arg("objectness") = py::none(),
        "Anchors whose best class score passes `conf`, best first: (anchors, scores, classes).\n"
        "`scores`: float32 [classes, anchors], any strides; `objectness`: float32 [anchors]\n"
        "(YOLOv5), which multiplies every class score.");
  d.def("cxcywh_to_xyxy", &cxcywh_to_xyxy, py::arg("boxes"), py::arg("anchors"),
        "float64 (K, 4) x1, y1, x2, y2 of the given anchors of float32 [4, anchors] cx, cy, w, h\n"
        "rows (any strides).");
  d.def("dense_head", &dense_head, py::arg("scores"), py::arg("boxes"), py::arg("conf"),
        py::arg("iou"), py::arg("max_output"), py::arg("agnostic"),
        py::arg("objectness") = py::none(), py::arg("letterbox") = py::none(),
        "A dense head to detections: best_class, cxcywh_to_xyxy, NMS and the letterbox mapping\n"
        "(pad_x, pad_y, scale_x, scale_y, src_w, src_h; None: network pixels) in one call.\n"
        "Returns (float32 (K, 4) boxes, float32 scores, int64 class ids), best first.");
  d.def("compact_candidates", &compact_candidates, py::arg("records"), py::arg("count"),
        py::arg("iou"), py::arg("max_output"), py::arg("agnostic"),
        py::arg("letterbox") = py::none(),
        "The first `count` rows of float32 (N, 8) candidate records (cx, cy, w, h, score, and\n"
        "the int32 bits of anchor and class, as a GPU head scan writes them, in any order) to\n"
        "detections, as dense_head decodes the same anchors: (boxes, scores, class ids).");
  d.def("boxes_to_source", &boxes_to_source, py::arg("boxes"), py::arg("letterbox"),
        "The letterbox inverse of boxes (..., 4) x1 y1 x2 y2 in network px: a float64 (for\n"
        "float64 boxes) or float32 copy in source px, clipped to the image; `letterbox`:\n"
        "(pad_x, pad_y, scale_x, scale_y, src_w, src_h).");
  d.def("nms", &nms, py::arg("boxes"), py::arg("scores"), py::arg("class_ids"),
        py::arg("iou_threshold"), py::arg("max_output") = -1,
        "Greedy NMS of float64 (N, 4) xyxy boxes (any strides), visited by descending score\n"
        "(stable, NaN last); the indices of the kept boxes, best first, at most `max_output`\n"
        "(negative: all). `class_ids`: None (across classes) or one int per box.");
}

}  // namespace trtpipe::bindings
