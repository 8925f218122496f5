// trtpipe._core_testing: the test models that stand in for a TensorRT engine on the GPU.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings/checked_args.hpp"
#include "pipeline/graph_step.hpp"
#include "testing/bind_testing.hpp"
#include "testing/graph_model.hpp"
#include "testing/scale_model.hpp"

namespace py = pybind11;

namespace trtpipe::testing {

void bind_engine_testing(py::module_& m) {
  using testing::ScaleModel;
  using Range = std::tuple<std::int64_t, std::int64_t, std::int64_t>;  // (min, opt, max) batch
  bindings::refuse_uninitialised(py::class_<ScaleModel, engine::EngineModel, std::shared_ptr<ScaleModel>>(
      m, "ScaleModel",
      "Test engine on the GPU: scaled = input * scale + bias, row_sum = scaled.sum(axis=1)."))
      .def(py::init([](std::int64_t channels, const std::vector<Range>& profiles,
                       std::int64_t static_batch, float scale, float bias, std::int64_t delay_us,
                       bool fail_capture) {
             testing::ScaleModelOptions options;
             options.channels = channels;
             options.profiles.clear();
             for (const auto& [lo, opt, hi] : profiles) options.profiles.push_back({lo, opt, hi});
             options.static_batch = static_batch;
             options.scale = scale;
             options.bias = bias;
             options.delay_us = delay_us;
             options.fail_capture = fail_capture;
             return std::make_shared<ScaleModel>(options);
           }),
           py::arg("channels") = 4,
           py::arg("profiles") = std::vector<Range>{{1, 1, 8}},
           py::arg("static_batch") = 0, py::arg("scale") = 2.0f, py::arg("bias") = 1.0f,
           py::arg("delay_us") = 0, py::arg("fail_capture") = false)
      .def("set_delay_us", &ScaleModel::set_delay_us, py::arg("delay_us"))
      .def("counters", [](const ScaleModel& model) {
        const auto& c = model.counters();
        py::dict out;
        out["contexts"] = c.contexts.load();
        out["set_profile"] = c.set_profile.load();
        out["set_input_shape"] = c.set_input_shape.load();
        out["set_tensor_address"] = c.set_tensor_address.load();
        out["enqueues"] = c.enqueues.load();
        out["captured_enqueues"] = c.captured_enqueues.load();
        return out;
      });

  using GraphTensorTuple = std::tuple<std::string, bool, std::uintptr_t, engine::Shape, std::string>;
  bindings::refuse_uninitialised(py::class_<testing::GraphModel, engine::EngineModel,
             std::shared_ptr<testing::GraphModel>>(
      m, "GraphModel",
      "Test engine shaped like TensorRT around a captured CUDA graph (a cudaGraphExec_t as int):\n"
      "bound inputs are copied into the graph's static inputs, the graph launched, its static\n"
      "outputs copied to the bound outputs. Tensors: (name, is_input, address, shape, dtype)."))
      .def(py::init([](std::uintptr_t graph_exec, const std::vector<GraphTensorTuple>& tensors) {
             std::vector<testing::GraphTensor> described;
             for (const auto& [name, is_input, address, shape, dtype] : tensors) {
               engine::TensorDesc desc{name, is_input, engine::dtype_from_name(dtype), shape};
               described.push_back({std::move(desc), reinterpret_cast<void*>(address)});
             }
             return std::make_shared<testing::GraphModel>(
                 reinterpret_cast<cudaGraphExec_t>(graph_exec), nullptr, std::move(described));
           }),
           py::arg("graph_exec"), py::arg("tensors"))
      .def(py::init([](std::shared_ptr<pipeline::GraphStep> step) {
             return std::make_shared<testing::GraphModel>(std::move(step));
           }),
           py::arg("step"),
           "The graph of a GraphStep (e.g. a PyTorch engine's model_step().native).")
      .def("counters", [](const testing::GraphModel& model) {
        py::dict out;
        out["contexts"] = model.counters().contexts.load();
        out["enqueues"] = model.counters().enqueues.load();
        return out;
      });
}

}  // namespace trtpipe::testing
