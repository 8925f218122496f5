// trtpipe._core.engine: the model step over an execution context, and the TensorRT loader.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <string>

#include "bindings/bindings.hpp"
#include "bindings/checked_args.hpp"
#include "common/errors.hpp"
#include "engine/context_step.hpp"
#include "memory/device_pool.hpp"
#include "memory/pinned_pool.hpp"
#if TRTPIPE_WITH_TENSORRT
#include "engine/library.hpp"
#include "engine/tensorrt_adapter.hpp"
#endif

namespace py = pybind11;

namespace trtpipe::bindings {
namespace {

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

void bind_engine_model(py::module_& m) {
  refuse_uninitialised(py::class_<engine::EngineModel, std::shared_ptr<engine::EngineModel>>(
      m, "EngineModel", "A loaded network a ContextStep can execute (a TensorRT engine, a test model)."))
      .def("io", &io_table, "Inputs and outputs: name, is_input, dtype, shape (-1: dynamic).")
      .def("profile_count", &engine::EngineModel::profile_count)
      .def("profile", &profile_table, py::arg("index"),
           "Per dynamic input, the (min, opt, max) shapes of optimisation profile `index`.");

  refuse_uninitialised(py::class_<engine::ContextStep, pipeline::ModelStep, std::shared_ptr<engine::ContextStep>>(
      m, "ContextStep",
      "The frame pipeline's model step over one execution context of `model` (enqueueV3 for\n"
      "TensorRT), its bindings taken once from `device_pool` (None: a pool of its own) at\n"
      "`shapes` (name -> shape for dynamic inputs; default the profile's opt shapes), or,\n"
      "`resizable`, at the profile's largest shapes, so frames may bring any shape of it."))
      .def(py::init([](std::shared_ptr<engine::EngineModel> model,
                       std::map<std::string, engine::Shape> shapes, int profile, int device,
                       std::shared_ptr<memory::DevicePool> device_pool, bool resizable) {
             engine::ContextStepOptions options{profile, device, std::move(shapes), resizable};
             return std::make_shared<engine::ContextStep>(std::move(model), std::move(options),
                                                          std::move(device_pool));
           }),
           py::arg("model"), py::arg("shapes") = std::map<std::string, engine::Shape>{},
           py::arg("profile") = 0, py::arg("device") = 0, py::arg("device_pool") = nullptr,
           py::arg("resizable") = false)
      .def_property_readonly("shape_sets", &engine::ContextStep::shape_sets,
                             "How many times an input shape was set on the context.")
      .def_property_readonly("device_pool", &engine::ContextStep::device_pool,
                             "The DevicePool of the bindings (given, or made for exactly them).");
}

void bind_tensorrt(py::module_& m) {
#if TRTPIPE_WITH_TENSORRT
  using engine::RuntimeFlavour;
  using engine::TensorRTLibrary;
  m.attr("tensorrt_compiled_version") =
      engine::tensorrt_version_text(TensorRTLibrary::compiled_version());
  m.attr("tensorrt_default_libraries") =
      TensorRTLibrary::default_candidates(RuntimeFlavour::kTensorRT);
  m.attr("tensorrt_rtx_default_libraries") =
      TensorRTLibrary::default_candidates(RuntimeFlavour::kTensorRTRTX);
  m.def(
      "load_tensorrt_library",
      [](const std::string& path, const std::string& flavour) {
        const auto library = TensorRTLibrary::load(path, engine::parse_flavour(flavour));
        py::dict out;
        out["path"] = library->path();
        out["version"] = library->version_text();
        out["flavour"] = engine::flavour_name(library->flavour());
        return out;
      },
      py::arg("path") = "", py::arg("flavour") = "tensorrt",
      "Loads the runtime library of `flavour` ('tensorrt': explicit path,\n"
      "$TRTPIPE_TENSORRT_LIBRARY, libnvinfer, lean; 'tensorrt-rtx': explicit path,\n"
      "$TRTPIPE_TENSORRT_RTX_LIBRARY, libtensorrt_rtx).");
  m.def(
      "load_tensorrt_file",
      [](const std::string& path, const std::string& library, int device,
         const std::string& flavour) {
        return engine::load_tensorrt_engine_file(path, library, device,
                                                 engine::parse_flavour(flavour));
      },
      py::arg("path"), py::arg("library") = "", py::arg("device") = 0,
      py::arg("flavour") = "tensorrt");
  m.def(
      "load_tensorrt_bytes",
      [](const py::bytes& data, const std::string& library, int device,
         const std::string& flavour) {
        const std::string_view view = data;
        return engine::load_tensorrt_engine(view.data(), view.size(), "from bytes", library,
                                            device, engine::parse_flavour(flavour));
      },
      py::arg("data"), py::arg("library") = "", py::arg("device") = 0,
      py::arg("flavour") = "tensorrt");
#else
  m.attr("tensorrt_compiled_version") = py::none();
#endif
}

}  // namespace

void bind_engine(py::module_& m) {
  py::module_ engine_module = m.def_submodule("engine", "The per-frame engine loop and TensorRT.");
  bind_engine_model(engine_module);
  bind_tensorrt(engine_module);
}

}  // namespace trtpipe::bindings
