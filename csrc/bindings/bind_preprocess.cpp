// trtpipe.preprocess's view of csrc/preprocess: options, the letterbox geometry, the CPU
// reference and the GPU path. Arrays arrive as addresses (or NumPy arrays, whose address is read
// here because that is cheaper than in Python) and shapes; this file only converts.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bindings/bindings.hpp"
#include "bindings/checked_args.hpp"
#include "bindings/frame_args.hpp"
#include "common/errors.hpp"
#include "preprocess/cpu_preprocessor.hpp"
#include "preprocess/cpu_reference.hpp"
#include "preprocess/encoding.hpp"
#include "preprocess/gpu_preprocessor.hpp"
#include "preprocess/half_rows.hpp"
#include "preprocess/letterbox.hpp"
#include "preprocess/options.hpp"

#if TRTPIPE_WITH_CUDA
#include "memory/device_pool.hpp"
#include "memory/pinned_pool.hpp"
#endif

namespace py = pybind11;

namespace trtpipe::bindings {
namespace {

using preprocess::Frame;
using preprocess::Tensor;

py::dict letterbox_dict(const preprocess::Letterbox& lb) {
  return py::dict(py::arg("scale_x") = lb.scale_x, py::arg("scale_y") = lb.scale_y,
                  py::arg("pad_x") = lb.pad_x, py::arg("pad_y") = lb.pad_y,
                  py::arg("new_w") = lb.new_w, py::arg("new_h") = lb.new_h,
                  py::arg("src_w") = lb.src_w, py::arg("src_h") = lb.src_h,
                  py::arg("dst_w") = lb.dst_w, py::arg("dst_h") = lb.dst_h);
}

// A pool given from Python (None: the preprocessor's own); pools exist only in CUDA builds.
template <typename Pool>
std::shared_ptr<Pool> optional_pool(const py::object& pool, const char* field) {
#if TRTPIPE_WITH_CUDA
  if (pool.is_none()) return nullptr;
  const py::type cls = py::type::of<Pool>();
  if (!py::isinstance(pool, cls)) {
    throw InputError(std::string(field) + ": expected None or a " +
                     reinterpret_cast<PyTypeObject*>(cls.ptr())->tp_name + ", given " +
                     given_text(pool));
  }
  try {
    return pool.cast<std::shared_ptr<Pool>>();
  } catch (const py::cast_error&) {
    // The right class, but no C++ pool behind it: its __init__ did not run.
    throw uninitialised_error(Py_TYPE(pool.ptr())->tp_name);
  }
#else
  static_cast<void>(pool);
  static_cast<void>(field);
  return nullptr;
#endif
}

// Defines `name` on `scope` (the module, or a class for a method): a run from the host frame
// at address `data` into the host tensor at `out`, with the arguments every host run takes,
// converted here; `run(target, frame, tensor)` works with the GIL released. `extra`: arguments
// before `data` and the docstring.
template <typename Target, typename Scope, typename Run, typename... Extra>
void def_host_run(Scope& scope, const char* name, Run run, const Extra&... extra) {
  scope.def(
      name,
      [run](Target& target, const py::handle& frame, const py::handle& out,
            py::handle batch_index) {
        const FrameArg in = frame_arg(frame);
        const OutputArg to = output_arg(out, batch_index);
        // the host path reads and writes with the CPU: GPU memory there would be a crash, and
        // so would host memory past what the views' arrays hold
        if (in.on_device) throw InputError("frame: expected host memory, given a GPU array");
        if (to.on_device) throw InputError("out: expected host memory, given a GPU array");
        require_array(in.in_array, "frame");
        require_array(to.in_array, "out");
        preprocess::Letterbox lb;
        {
          py::gil_scoped_release release;
          lb = std::invoke(run, target, in.frame, to.tensor);
        }
        return letterbox_dict(lb);
      },
      extra..., py::arg("frame"), py::arg("out"), py::arg("batch_index") = 0);
}

py::dict timing_dict(const preprocess::HostInputTiming& timing) {
  return py::dict(py::arg("mapped_us") = timing.mapped_us, py::arg("copy_us") = timing.copy_us,
                  py::arg("faster") = preprocess::host_input_name(timing.faster));
}

}  // namespace

void bind_preprocess(py::module_& m) {
  m.def("preprocess_encodings", [] { return preprocess::encoding_names(); },
        "Every camera encoding the preprocessing reads (ROS sensor_msgs/Image names).");
  m.def(
      "encoding_table",
      [] {
        py::list table;
        for (const preprocess::EncodingInfo& entry : preprocess::encoding_table()) {
          table.append(py::dict(py::arg("name") = entry.name,
                                py::arg("canonical") = preprocess::encoding_name(entry.encoding),
                                py::arg("bytes_per_pixel") = entry.bytes_per_pixel,
                                py::arg("chroma") = preprocess::chroma_name(entry.chroma),
                                py::arg("byte_order") = entry.byte_order));
        }
        return table;
      },
      "Every accepted encoding: name, canonical (the name its aliases share), bytes_per_pixel\n"
      "(in a row; a 4:2:0 encoding's Y plane: 1), chroma (\"full\", \"4:2:2\", \"4:2:0\") and\n"
      "byte_order (a row's bytes, e.g. \"BGR\", \"UYVY\", \"Y/UV\": see EncodingInfo::byte_order).");
  m.def(
      "frame_problem",
      [](py::handle encoding_arg, py::handle width, py::handle height, py::handle step,
         py::handle size) -> py::tuple {
        const std::string encoding = text_field(encoding_arg, "encoding");
        const std::optional<preprocess::Encoding> known = preprocess::find_encoding(encoding);
        if (!known) {
          return py::make_tuple("unknown_encoding",
                                preprocess::unknown_encoding_message(encoding), py::none());
        }
        preprocess::Frame frame;
        frame.encoding = *known;
        return message_problem(frame, width, height, step, size,
                               [](preprocess::Frame& f) { return preprocess::frame_problem(f); });
      },
      py::arg("encoding"), py::arg("width"), py::arg("height"), py::arg("step"), py::arg("size"),
      "Why camera bytes of this encoding, size and row step (0: packed) cannot be a frame, by\n"
      "the rule every frame input applies: (reason, message, None), or (None, None, the row\n"
      "step) when they can.");

  m.def(
      "letterbox_params",
      [](py::handle src_w, py::handle src_h, py::handle dst_w, py::handle dst_h,
         py::handle mode) {
        return letterbox_dict(preprocess::letterbox_params(
            checked_int<int>(src_w, "src_w"), checked_int<int>(src_h, "src_h"),
            checked_int<int>(dst_w, "dst_w"), checked_int<int>(dst_h, "dst_h"),
            preprocess::parse_resize(text_field(mode, "mode"), "mode")));
      },
      py::arg("src_w"), py::arg("src_h"), py::arg("dst_w"), py::arg("dst_h"),
      py::arg("mode") = "letterbox");

  py::class_<preprocess::Options> options(m, "PreprocessOptions");
  refuse_uninitialised(options);
  options
      .def(py::init([](py::handle dst_w, py::handle dst_h, py::handle layout, py::handle dtype,
                       py::handle channel_order, py::handle resize, py::handle interpolation,
                       py::handle pad_value, py::handle scale, py::handle mean,
                       py::handle std) {
             return preprocess::make_options(
                 checked_int<int>(dst_w, "dst_w"), checked_int<int>(dst_h, "dst_h"),
                 text_field(layout, "layout"), text_field(dtype, "dtype"),
                 text_field(channel_order, "channel_order"), text_field(resize, "resize"),
                 text_field(interpolation, "interpolation"),
                 checked_real<double>(pad_value, "pad_value"),
                 checked_real<double>(scale, "scale"), checked_reals<double>(mean, "mean"),
                 checked_reals<double>(std, "std"));
           }),
           py::arg("dst_w"), py::arg("dst_h"),
           py::arg("layout"), py::arg("dtype"), py::arg("channel_order"), py::arg("resize"),
           py::arg("interpolation"), py::arg("pad_value"), py::arg("scale"), py::arg("mean"),
           py::arg("std"))
      .def_readonly("dst_w", &preprocess::Options::dst_w)
      .def_readonly("dst_h", &preprocess::Options::dst_h)
      .def_property_readonly("dtype",
                             [](const preprocess::Options& o) {
                               return preprocess::dtype_name(o.dtype);
                             })
      .def_property_readonly("layout", [](const preprocess::Options& o) {
        return preprocess::layout_name(o.layout);
      });

  def_host_run<const preprocess::Options>(
      m, "preprocess_cpu_reference", &preprocess::preprocess_cpu_reference, py::arg("options"),
      "The per-pixel CPU reference (slow; the oracle): the host `frame` (a LocatedFrame) into "
      "the host tensor `out` (a PreparedOutput).");

  m.def("half_conversion_in_hardware", &preprocess::half_conversion_in_hardware,
        "Whether the CPU path converts to float16 with the CPU's instruction (F16C).");

  py::class_<preprocess::CpuPreprocessor> cpu(m, "CpuPreprocessor");
  refuse_uninitialised(cpu);
  cpu.def(py::init([](const preprocess::Options& options, py::handle threads) {
            return new preprocess::CpuPreprocessor(options, checked_int<int>(threads, "threads"));
          }),
          py::arg("options"), py::arg("threads") = 0)
      .def_property_readonly("threads", &preprocess::CpuPreprocessor::threads);
  def_host_run<preprocess::CpuPreprocessor>(
      cpu, "run", &preprocess::CpuPreprocessor::run,
      "Preprocesses the host `frame` (a LocatedFrame) into the host tensor `out` (a "
      "PreparedOutput).");

  py::class_<preprocess::GpuPreprocessor, std::shared_ptr<preprocess::GpuPreprocessor>> gpu(
      m, "GpuPreprocessor");
  refuse_uninitialised(gpu);
  gpu.def(py::init([](const preprocess::Options& options, py::handle host_input,
                      py::handle device, const py::object& pinned_pool,
                      const py::object& device_pool) {
            return new preprocess::GpuPreprocessor(
                options, preprocess::parse_host_input(text_field(host_input, "host_input")),
                checked_int<int>(device, "device"),
                optional_pool<memory::PinnedPool>(pinned_pool, "pinned_pool"),
                optional_pool<memory::DevicePool>(device_pool, "device_pool"));
          }),
           py::arg("options"), py::arg("host_input") = "auto", py::arg("device") = 0,
           py::arg("pinned_pool") = py::none(), py::arg("device_pool") = py::none())
      .def(
          "run",
          [](preprocess::GpuPreprocessor& self, const py::handle& frame, const py::handle& out,
             py::handle batch_index, py::handle stream) {
            const FrameArg in = frame_arg(frame);
            const OutputArg to = output_arg(out, batch_index);
            // a host frame is read with the CPU (copied, or registered): only from its array
            if (!in.on_device) require_array(in.in_array, "frame");
            const auto run_stream = checked_int<std::uintptr_t>(stream, "stream");
            preprocess::Letterbox lb;
            {
              py::gil_scoped_release release;
              lb = self.run(in.frame, in.on_device, to.tensor, run_stream, in.stream, to.stream);
            }
            return letterbox_dict(lb);
          },
          py::arg("frame"), py::arg("out"), py::arg("batch_index") = 0, py::arg("stream") = 0,
          "Preprocesses `frame` (a LocatedFrame: host or GPU memory) into `out` (a\n"
          "PreparedOutput in GPU memory) on `stream`, after the frame's producer stream and\n"
          "before the output's consumer stream.")
      .def(
          "measure_host_input",
          [](preprocess::GpuPreprocessor& self, const py::handle& frame, const py::handle& out,
             py::handle stream, py::handle iterations) {
            const FrameArg in = frame_arg(frame);
            const OutputArg to = output_arg(out, py::int_(0));
            if (in.on_device) throw InputError("frame: expected host memory, given a GPU array");
            require_array(in.in_array, "frame");
            const auto run_stream = checked_int<std::uintptr_t>(stream, "stream");
            const int repeats = checked_int<int>(iterations, "iterations");
            preprocess::HostInputTiming timing;
            {
              py::gil_scoped_release release;
              timing = self.measure_host_input(in.frame, to.tensor, run_stream, repeats);
            }
            return timing_dict(timing);
          },
          py::arg("frame"), py::arg("out"), py::arg("stream") = 0, py::arg("iterations") = 20)
      .def_property_readonly("host_input",
                             [](const preprocess::GpuPreprocessor& self) {
                               return preprocess::host_input_name(self.host_input());
                             })
      .def_property_readonly("last_host_choice",
                             [](const preprocess::GpuPreprocessor& self) {
                               return timing_dict(self.last_host_choice());
                             })
      .def_property_readonly("integrated", &preprocess::GpuPreprocessor::integrated)
      .def_property_readonly("device", &preprocess::GpuPreprocessor::device);
}

}  // namespace trtpipe::bindings
