// trtpipe._core.depth: depth images and the 3D placement of 2D boxes (decode/box_depth.hpp,
// decode/lift_3d.hpp), on the CPU, or on the GPU through a GpuBoxDepths (CUDA builds).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bindings/bindings.hpp"
#include "bindings/checked_args.hpp"
#include "bindings/frame_args.hpp"
#include "common/errors.hpp"
#include "decode/box_depth.hpp"
#include "decode/lift_3d.hpp"
#include "decode/register_depth.hpp"
#include "preprocess/depth_frame.hpp"
#if TRTPIPE_WITH_CUDA
#include "pipeline/box_depth.hpp"
#endif

namespace py = pybind11;

namespace trtpipe::bindings {
namespace {

using decode::BoxDepth;
using decode::DepthRule;
using preprocess::DepthFrame;

struct DepthArg {
  DepthFrame frame;
  bool on_device = false;
  std::uintptr_t stream = 0;  // the producer's, waited on before the image is read
};

// A depth image's view: a LocatedFrame whose encoding is a depth encoding, and its scale. Host
// depth is read with the CPU (the statistics, or the copy to the GPU): only from its array.
DepthArg depth_arg(const py::handle& located, float scale) {
  const LocatedFields f = located_fields(located, "depth", "depth stream");
  if (!f.on_device) require_array(f.in_array, "depth");
  DepthArg arg;
  arg.frame = DepthFrame{f.buffer, preprocess::parse_depth_encoding(f.encoding), scale};
  arg.on_device = f.on_device;
  arg.stream = f.stream;
  arg.frame = preprocess::checked_depth(arg.frame);
  return arg;
}

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

decode::Intrinsics intrinsics_of(py::handle given, const char* field) {
  const std::vector<double> values = checked_reals<double>(given, field);
  if (values.size() != 4) {
    throw InputError(std::string(field) + ": expected (fx, fy, cx, cy), given " +
                     std::to_string(values.size()) + " values");
  }
  const decode::Intrinsics k{values[0], values[1], values[2], values[3]};
  decode::check_intrinsics(k);
  return k;
}

FloatArray checked_boxes(const py::handle& boxes) {
  FloatArray array = FloatArray::ensure(boxes);
  if (!array || array.ndim() != 2 || array.shape(1) != 4) {
    throw InputError("boxes: expected an (N, 4) array of x1, y1, x2, y2, given " +
                     std::string(py::str(py::getattr(boxes, "shape", py::str("no shape")))));
  }
  return array;
}

// The C++ object of a bound class behind `value`, else InputError naming `field` (and the class,
// for one made without __init__).
template <typename T>
T& bound_object(const py::handle& value, const char* field, const char* expected) {
  if (!py::isinstance<T>(value)) {
    throw InputError(std::string(field) + ": expected " + expected + ", given " +
                     given_text(value));
  }
  return value.cast<T&>();  // refuse_uninitialised: InputError for an object without __init__
}

// On the runner given: a GpuBoxDepths, a CpuBoxDepths, or None (the calling thread); with a
// registration, of the depth registered to the colour camera first.
std::vector<BoxDepth> statistics(const DepthArg& depth, const float* boxes, int count,
                                 const DepthRule& rule, const py::object& runner,
                                 const decode::Reprojection* registration) {
#if TRTPIPE_WITH_CUDA
  if (py::isinstance<pipeline::GpuBoxDepths>(runner)) {
    auto& gpu = bound_object<pipeline::GpuBoxDepths>(runner, "runner", "a GpuBoxDepths");
    py::gil_scoped_release release;
    return gpu.run(depth.frame, depth.on_device, reinterpret_cast<cudaStream_t>(depth.stream),
                   boxes, count, rule, registration);
  }
#endif
  if (depth.on_device) {
    throw InputError("depth: a depth image in GPU memory needs the GPU statistics (device "
                     "'cuda'), given the CPU");
  }
  // with the GIL: a cast may raise, and reads Python objects
  decode::CpuBoxDepths* cpu =
      runner.is_none() ? nullptr
                       : &bound_object<decode::CpuBoxDepths>(
                             runner, "runner", "a CpuBoxDepths, a GpuBoxDepths or None");
  py::gil_scoped_release release;
  std::vector<float> registered;
  DepthFrame frame = depth.frame;
  if (registration != nullptr) {
    registered = decode::register_depth(depth.frame, *registration, rule);
    frame = DepthFrame{{registered.data(), registered.size() * sizeof(float), registration->width,
                        registration->height, static_cast<std::int64_t>(registration->width) * 4},
                       preprocess::DepthEncoding::k32FC1,
                       1.0f};
  }
  if (cpu == nullptr) return decode::box_depths(frame, boxes, count, rule);
  return cpu->run(frame, boxes, count, rule);
}

py::dict lift_boxes(const py::handle& boxes_arg, const py::handle& colour_size,
                    const py::handle& depth_view, const py::handle& depth_scale,
                    const py::handle& intrinsics, const py::handle& rule_arg,
                    const py::object& runner, const py::handle& extrinsic_arg,
                    const py::handle& colour_intrinsics) {
  decode::Intrinsics k = intrinsics_of(intrinsics, "intrinsics");
  const DepthRule& rule = bound_object<DepthRule>(rule_arg, "rule", "a DepthRule");
  decode::check_rule(rule);
  const std::vector<int> size = checked_ints<int>(colour_size, "colour_size");
  if (size.size() != 2) throw InputError("colour_size: expected (width, height)");
  std::optional<std::vector<double>> extrinsic;
  if (!extrinsic_arg.is_none()) extrinsic = checked_reals<double>(extrinsic_arg, "extrinsic");
  const DepthArg depth = depth_arg(depth_view, checked_real<float>(depth_scale, "depth_scale"));
  const FloatArray boxes = checked_boxes(boxes_arg);
  const int count = static_cast<int>(boxes.shape(0));
  std::optional<decode::Reprojection> registration;
  if (extrinsic) {
    if (colour_intrinsics.is_none()) {
      throw InputError("colour_intrinsics: expected the colour camera's (fx, fy, cx, cy) with an "
                       "extrinsic transform, given None");
    }
    registration = decode::make_reprojection(
        k, *extrinsic, intrinsics_of(colour_intrinsics, "colour_intrinsics"), size[0], size[1],
        depth.frame.width, depth.frame.height);
    k = decode::registered_intrinsics(*registration);  // positions in the colour camera's frame
  }
  const std::vector<float> in_depth = decode::boxes_in_depth(
      boxes.data(), count, size[0], size[1], depth.frame.width, depth.frame.height);
  const std::vector<BoxDepth> stats =
      statistics(depth, in_depth.data(), count, rule, runner,
                 registration ? &*registration : nullptr);
  const std::vector<decode::Placement> placed =
      decode::place_boxes(in_depth.data(), stats.data(), count, k);

  py::array_t<float> positions({count, 3}), sizes({count, 3}), values({count, 3});
  py::array_t<bool> valid(count);
  py::array_t<int> pixels({count, 2});
  auto p = positions.mutable_unchecked<2>();
  auto s = sizes.mutable_unchecked<2>();
  auto v = values.mutable_unchecked<2>();
  auto ok = valid.mutable_unchecked<1>();
  auto n = pixels.mutable_unchecked<2>();
  for (int i = 0; i < count; ++i) {
    for (int axis = 0; axis < 3; ++axis) {
      p(i, axis) = placed[i].position[axis];
      s(i, axis) = placed[i].size[axis];
    }
    v(i, 0) = stats[i].depth;
    v(i, 1) = stats[i].near;
    v(i, 2) = stats[i].far;
    ok(i) = placed[i].valid;
    n(i, 0) = stats[i].valid_pixels;
    n(i, 1) = stats[i].object_pixels;
  }
  py::dict out;
  out["positions"] = positions;
  out["sizes"] = sizes;
  out["valid"] = valid;
  out["depth_near_far"] = values;
  out["pixels"] = pixels;
  return out;
}

}  // namespace

void bind_depth(py::module_& m) {
  py::module_ d = m.def_submodule("depth", "Depth images and the 3D placement of 2D boxes.");
  d.def("encodings", [] { return preprocess::depth_encoding_names(); },
        "The depth encodings read, e.g. ['16UC1', '32FC1'].");
  d.def(
      "metres_per_unit",
      [](py::handle encoding) {
        return preprocess::depth_encoding_info(
                   preprocess::parse_depth_encoding(text_field(encoding, "encoding")))
            .metres_per_unit;
      },
      py::arg("encoding"));
  d.def(
      "depth_problem",
      [](py::handle encoding_arg, py::handle width, py::handle height, py::handle step,
         py::handle size) -> py::tuple {
        const std::string encoding = text_field(encoding_arg, "encoding");
        DepthFrame frame;
        try {
          frame.encoding = preprocess::parse_depth_encoding(encoding);
        } catch (const InputError& e) {
          return py::make_tuple("bad_depth_encoding", e.what(), py::none());
        }
        return message_problem(frame, width, height, step, size,
                               [](DepthFrame& f) { return preprocess::depth_problem(f); });
      },
      py::arg("encoding"), py::arg("width"), py::arg("height"), py::arg("step"), py::arg("size"),
      "Why depth bytes of this encoding, size and row step (0: packed) cannot be a depth image,\n"
      "by the frame rule: (reason, message, None), or (None, None, the row step).");
  py::class_<DepthRule> rule(
      d, "DepthRule", "Which depth pixels of a box are the object's (decode/box_depth.hpp).");
  refuse_uninitialised(rule);
  rule.def(py::init([](py::handle inner, py::handle tolerance, py::handle min_depth,
                       py::handle max_depth, py::handle min_pixels, py::handle near_quantile,
                       py::handle far_quantile) {
             DepthRule made{checked_real<float>(inner, "inner"),
                            checked_real<float>(tolerance, "tolerance"),
                            checked_real<float>(min_depth, "min_depth"),
                            checked_real<float>(max_depth, "max_depth"),
                            checked_int<int>(min_pixels, "min_pixels"),
                            checked_real<float>(near_quantile, "near_quantile"),
                            checked_real<float>(far_quantile, "far_quantile")};
             decode::check_rule(made);
             return made;
           }),
           py::kw_only(), py::arg("inner") = DepthRule{}.inner,
           py::arg("tolerance") = DepthRule{}.tolerance,
           py::arg("min_depth") = DepthRule{}.min_depth,
           py::arg("max_depth") = DepthRule{}.max_depth,
           py::arg("min_pixels") = DepthRule{}.min_pixels,
           py::arg("near_quantile") = DepthRule{}.near_quantile,
           py::arg("far_quantile") = DepthRule{}.far_quantile)
      // What the keyword form cannot take (positional values, unknown names) reaches this one,
      // which says so instead of pybind11 listing signatures.
      .def(py::init([](const py::args& args, const py::kwargs& kwargs) -> DepthRule {
        static const char* const kFields[] = {"inner",       "tolerance",     "min_depth",
                                              "max_depth",   "min_pixels",    "near_quantile",
                                              "far_quantile"};
        if (!args.empty()) {
          throw InputError("DepthRule: expected keyword arguments (inner=, tolerance=, "
                           "min_depth=, max_depth=, min_pixels=, near_quantile=, "
                           "far_quantile=), given " + std::to_string(args.size()) +
                           " positional argument(s)");
        }
        for (const auto& item : kwargs) {
          const std::string name = py::str(item.first);
          if (std::find(std::begin(kFields), std::end(kFields), name) == std::end(kFields)) {
            throw InputError(name + ": expected one of inner, tolerance, min_depth, max_depth, "
                             "min_pixels, near_quantile, far_quantile, given an unknown keyword");
          }
        }
        throw InputError("DepthRule: expected keyword arguments, given " + given_text(kwargs));
      }))
      .def_readonly("inner", &DepthRule::inner)
      .def_readonly("tolerance", &DepthRule::tolerance)
      .def_readonly("min_depth", &DepthRule::min_depth)
      .def_readonly("max_depth", &DepthRule::max_depth)
      .def_readonly("min_pixels", &DepthRule::min_pixels)
      .def_readonly("near_quantile", &DepthRule::near_quantile)
      .def_readonly("far_quantile", &DepthRule::far_quantile);
  d.def("lift_boxes", &lift_boxes, py::arg("boxes"), py::arg("colour_size"), py::arg("depth"),
        py::arg("depth_scale"), py::arg("intrinsics"), py::arg("rule"),
        py::arg("runner") = py::none(), py::arg("extrinsic") = py::none(),
        py::arg("colour_intrinsics") = py::none(),
        "Boxes (x1, y1, x2, y2 in colour pixels) placed in 3D from a depth image registered to "
        "the colour one: a dict of positions and sizes (N, 3, metres, NaN without depth), "
        "valid (N,), depth_near_far (N, 3) and pixels (N, 2: measured, on the object). With an\n"
        "extrinsic (4x4 row-major, depth -> colour) and the colour camera's intrinsics, the\n"
        "depth is registered to the colour camera first and positions are in its frame.");
  refuse_uninitialised(py::class_<decode::CpuBoxDepths>(
                           d, "CpuBoxDepths",
                           "The box depth statistics on the CPU, boxes shared by threads."))
      .def(py::init([](py::handle threads) {
             return std::make_unique<decode::CpuBoxDepths>(checked_int<int>(threads, "threads"));
           }),
           py::arg("threads") = 0);
#if TRTPIPE_WITH_CUDA
  refuse_uninitialised(py::class_<pipeline::GpuBoxDepths>(
                           d, "GpuBoxDepths",
                           "The box depth statistics on the GPU, with its buffers."))
      .def(py::init([] { return std::make_unique<pipeline::GpuBoxDepths>(); }))
      .def_property_readonly("last_kernel_ms", &pipeline::GpuBoxDepths::last_kernel_ms);
#endif
}

}  // namespace trtpipe::bindings
