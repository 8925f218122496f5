// trtpipe._core.engine: the per-frame runner, the model step over an execution context and the
// TensorRT loader.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <map>
#include <string>
#include <tuple>

#include "bindings/bindings.hpp"
#include "bindings/checked_args.hpp"
#include "bindings/input_args.hpp"
#include "common/errors.hpp"
#include "engine/context_step.hpp"
#include "engine/engine_runner.hpp"
#include "memory/device_pool.hpp"
#include "memory/pinned_pool.hpp"
#if TRTPIPE_WITH_TENSORRT
#include "engine/library.hpp"
#include "engine/tensorrt_adapter.hpp"
#endif

namespace py = pybind11;

namespace trtpipe::bindings {
namespace {

using engine::DType;

// NumPy's number for float16 (NPY_HALF), part of NumPy's stable C ABI.
constexpr int kNumpyHalf = 23;

// From NumPy's type numbers: no string parsing per output per frame.
py::dtype numpy_dtype(const engine::TensorDesc& desc) {
  switch (desc.dtype) {
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
  throw EngineError("tensor '" + desc.name + "': its dtype " + engine::dtype_name(desc.dtype) +
                    " has no NumPy equivalent");
}

// copy: arrays of their own. Otherwise views of the slot's pinned output buffers, which keep the
// runner (`owner`) alive and hold the frame's outputs until a later submit() reuses that slot.
py::dict to_outputs(const std::vector<engine::OutputView>& outputs, bool copy,
                    const py::handle& owner) {
  py::dict out;
  for (const engine::OutputView& view : outputs) {
    std::vector<py::ssize_t> shape(view.shape->begin(), view.shape->end());
    py::array array;
    if (copy) {
      array = py::array(numpy_dtype(*view.desc), std::move(shape));
      std::memcpy(array.mutable_data(), view.host, view.bytes);
    } else {
      array = py::array(numpy_dtype(*view.desc), std::move(shape), {}, view.host, owner);
    }
    out[py::str(view.desc->name)] = std::move(array);
  }
  return out;
}

py::list io_table(const engine::EngineModel& model) {
  py::list table;
  for (const engine::TensorDesc& desc : model.io()) {
    py::dict entry;
    entry["name"] = desc.name;
    entry["is_input"] = desc.is_input;
    entry["dtype"] = engine::dtype_name(desc.dtype);
    entry["shape"] = py::tuple(py::cast(desc.shape));
    table.append(entry);
  }
  return table;
}

py::dict profile_table(const engine::EngineModel& model, int index) {
  py::dict out;
  for (const auto& range : model.profile(index).inputs) {
    out[py::str(range.name)] = py::make_tuple(py::tuple(py::cast(range.min)),
                                              py::tuple(py::cast(range.opt)),
                                              py::tuple(py::cast(range.max)));
  }
  return out;
}

// The runner's counters, and its pools' statistics as the pools themselves report them.
py::dict stats_dict(const engine::EngineRunner& runner) {
  const engine::RunnerStats s = runner.stats();
  py::dict out;
  out["submitted"] = s.submitted;
  out["completed"] = s.completed;
  out["plain_enqueues"] = s.plain_enqueues;
  out["graph_captures"] = s.graph_captures;
  out["graph_replays"] = s.graph_replays;
  out["graph_capture_failures"] = s.graph_capture_failures;
  out["address_binds"] = s.address_binds;
  out["shape_sets"] = s.shape_sets;
  out["timeouts"] = s.timeouts;
  out["graphs_enabled"] = s.graphs_enabled;
  out["graph_fallback_reason"] = s.graph_fallback_reason;
  out["device_pool"] = py::cast(runner.pools().device).attr("stats_dict")();
  out["pinned_pool"] = py::cast(runner.pools().pinned).attr("stats_dict")();
  return out;
}

void bind_runner(py::module_& m) {
  refuse_uninitialised(py::class_<engine::EngineModel, std::shared_ptr<engine::EngineModel>>(
      m, "EngineModel", "A loaded network the runner can execute (TensorRT engine or test model)."))
      .def("io", &io_table, "Inputs and outputs: name, is_input, dtype, shape (-1: dynamic).")
      .def("profile_count", &engine::EngineModel::profile_count)
      .def("profile", &profile_table, py::arg("index"),
           "Per dynamic input, the (min, opt, max) shapes of optimisation profile `index`.");

  refuse_uninitialised(py::class_<engine::ContextStep, pipeline::ModelStep, std::shared_ptr<engine::ContextStep>>(
      m, "ContextStep",
      "The frame pipeline's model step over one execution context of `model` (enqueueV3 for\n"
      "TensorRT), its bindings taken once from `device_pool` (None: a pool of its own) at\n"
      "`shapes` (name -> shape for dynamic inputs; default the profile's opt shapes)."))
      .def(py::init([](std::shared_ptr<engine::EngineModel> model,
                       std::map<std::string, engine::Shape> shapes, int profile, int device,
                       std::shared_ptr<memory::DevicePool> device_pool) {
             engine::ContextStepOptions options{profile, device, std::move(shapes)};
             return std::make_shared<engine::ContextStep>(std::move(model), std::move(options),
                                                          std::move(device_pool));
           }),
           py::arg("model"), py::arg("shapes") = std::map<std::string, engine::Shape>{},
           py::arg("profile") = 0, py::arg("device") = 0, py::arg("device_pool") = nullptr);

  refuse_uninitialised(py::class_<engine::EngineRunner>(m, "EngineRunner",
                                   "The per-frame loop: pinned outputs, events, graphs, slots."))
      .def(py::init([](std::shared_ptr<engine::EngineModel> model, int slots, bool cuda_graphs,
                       int profile, int device, std::shared_ptr<memory::DevicePool> device_pool,
                       std::shared_ptr<memory::PinnedPool> pinned_pool) {
             engine::RunnerOptions options;
             options.slots = slots;
             options.cuda_graphs = cuda_graphs;
             options.profile = profile;
             options.device = device;
             engine::RunnerPools pools{std::move(device_pool), std::move(pinned_pool)};
             return std::make_unique<engine::EngineRunner>(std::move(model), options,
                                                           std::move(pools));
           }),
           py::arg("model"), py::arg("slots") = 2, py::arg("cuda_graphs") = true,
           py::arg("profile") = 0, py::arg("device") = 0, py::arg("device_pool") = nullptr,
           py::arg("pinned_pool") = nullptr,
           "Pools left as None are made by the runner, holding exactly its buffers.")
      .def_property_readonly("slots",
                             [](const engine::EngineRunner& r) { return r.options().slots; })
      .def_property_readonly(
          "device_pool", [](const engine::EngineRunner& r) { return r.pools().device; },
          "The DevicePool the bindings come from (given, or made by the runner).")
      .def_property_readonly(
          "pinned_pool", [](const engine::EngineRunner& r) { return r.pools().pinned; },
          "The PinnedPool the staging and output buffers come from.")
      .def(
          "submit",
          [](engine::EngineRunner& runner, const py::object& inputs) {
            py::list keep;
            const auto views = to_inputs(inputs, keep);
            return runner.submit(views);
          },
          py::arg("inputs"),
          "Starts a frame; returns its ticket. `inputs`: a dict of name -> array, or (faster) a "
          "list or tuple of arrays in the order of the inputs in io().")
      .def("ready", &engine::EngineRunner::ready, py::arg("ticket"))
      .def("wait", &engine::EngineRunner::wait, py::arg("ticket"), py::arg("timeout_ms") = -1.0,
           py::call_guard<py::gil_scoped_release>())
      .def(
          "take",
          [](engine::EngineRunner& runner, std::uint64_t ticket, bool copy) {
            const auto& outputs = runner.take(ticket);
            // `runner` is this Python object's own: cast finds it, never takes ownership.
            const py::object owner =
                copy ? py::object() : py::cast(&runner, py::return_value_policy::reference);
            return to_outputs(outputs, copy, owner);
          },
          py::arg("ticket"), py::arg("copy") = true,
          "The outputs of a finished frame. copy=False: views of the pinned output buffers "
          "instead of copies, valid until a later submit() reuses the frame's slot (possibly "
          "the next one).")
      .def(
          "result",
          [](engine::EngineRunner& runner, std::uint64_t ticket, double timeout_ms, bool copy) {
            if (!runner.ready(ticket)) {  // only a frame still running is worth the GIL
              py::gil_scoped_release release;
              runner.wait(ticket, timeout_ms);
            }
            const auto& outputs = runner.take(ticket);
            // `runner` is this Python object's own: cast finds it, never takes ownership.
            const py::object owner =
                copy ? py::object() : py::cast(&runner, py::return_value_policy::reference);
            return to_outputs(outputs, copy, owner);
          },
          py::arg("ticket"), py::arg("timeout_ms") = -1.0, py::arg("copy") = true,
          "wait() then take(); copy as for take().")
      .def("stats", &stats_dict,
           "Loop counters, plus device_pool and pinned_pool: the pools' statistics.");
}

void bind_tensorrt(py::module_& m) {
#if TRTPIPE_WITH_TENSORRT
  m.attr("tensorrt_compiled_version") =
      engine::tensorrt_version_text(engine::TensorRTLibrary::compiled_version());
  m.attr("tensorrt_default_libraries") = engine::TensorRTLibrary::default_candidates();
  m.def(
      "load_tensorrt_library",
      [](const std::string& path) {
        const auto library = engine::TensorRTLibrary::load(path);
        py::dict out;
        out["path"] = library->path();
        out["version"] = library->version_text();
        return out;
      },
      py::arg("path") = "",
      "Loads the TensorRT runtime (explicit path, $TRTPIPE_TENSORRT_LIBRARY, libnvinfer, lean).");
  m.def("load_tensorrt_file", &engine::load_tensorrt_engine_file, py::arg("path"),
        py::arg("library") = "", py::arg("device") = 0);
  m.def(
      "load_tensorrt_bytes",
      [](const py::bytes& data, const std::string& library, int device) {
        const std::string_view view = data;
        return engine::load_tensorrt_engine(view.data(), view.size(), "from bytes", library,
                                            device);
      },
      py::arg("data"), py::arg("library") = "", py::arg("device") = 0);
#else
  m.attr("tensorrt_compiled_version") = py::none();
#endif
}

}  // namespace

void bind_engine(py::module_& m) {
  py::module_ engine_module = m.def_submodule("engine", "The per-frame engine loop and TensorRT.");
  bind_runner(engine_module);
  bind_tensorrt(engine_module);
}

}  // namespace trtpipe::bindings
