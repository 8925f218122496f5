// trtpipe._core.engine: the per-frame runner and the TensorRT loader; trtpipe._core._testing:
// the test model that stands in for a TensorRT engine on the GPU.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <map>
#include <string>
#include <tuple>

#include "bindings/bindings.hpp"
#include "common/errors.hpp"
#include "engine/context_step.hpp"
#include "engine/engine_runner.hpp"
#include "engine/runner_bench.hpp"
#include "engine/testing/graph_model.hpp"
#include "engine/testing/scale_model.hpp"
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

DType dtype_from(char kind, std::size_t size) {
  if (kind == 'f' && size == 4) return DType::kFloat32;
  if (kind == 'f' && size == 2) return DType::kFloat16;
  if (kind == 'i' && size == 1) return DType::kInt8;
  if (kind == 'u' && size == 1) return DType::kUInt8;
  if (kind == 'i' && size == 4) return DType::kInt32;
  if (kind == 'i' && size == 8) return DType::kInt64;
  if (kind == 'b' && size == 1) return DType::kBool;
  return DType::kOther;
}

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

// Exactly numpy.ndarray (not a subclass): it has no __cuda_array_interface__, so the attribute
// lookup, slow when it fails, is skipped.
bool is_plain_numpy(const py::handle& value) {
  return Py_TYPE(value.ptr()) == py::detail::npy_api::get().PyArray_Type_;
}

// A GPU array (__cuda_array_interface__ v3) or anything NumPy can read, as an InputView.
// Host arrays NumPy had to make (a copy, a conversion) are kept alive in `keep` until submit()
// has copied them; the caller's own arrays are alive for the whole call anyway.
engine::InputView to_input(engine::InputView view, const py::handle& value, py::list& keep) {
  const std::string& name = view.name;
  if (!is_plain_numpy(value) && py::hasattr(value, "__cuda_array_interface__")) {
    const py::dict cai = value.attr("__cuda_array_interface__");
    const auto shape = cai["shape"].cast<std::vector<std::int64_t>>();
    const auto typestr = cai["typestr"].cast<std::string>();
    view.shape.assign(shape.begin(), shape.end());
    view.dtype = dtype_from(typestr.size() > 1 ? typestr[1] : '?',
                            typestr.size() > 2 ? std::stoul(typestr.substr(2)) : 0);
    const bool strided = cai.contains("strides") && !cai["strides"].is_none();
    if (strided && engine::dtype_size(view.dtype) > 0) {
      std::int64_t expected = static_cast<std::int64_t>(engine::dtype_size(view.dtype));
      const auto strides = cai["strides"].cast<std::vector<std::int64_t>>();
      for (std::size_t i = strides.size(); i-- > 0;) {
        if (shape[i] > 1 && strides[i] != expected) {
          throw InputError("input '" + name + "': expected a C-contiguous GPU array, given " +
                           "strides " + engine::shape_text(strides));
        }
        expected *= shape[i];
      }
    }
    view.data = reinterpret_cast<const void*>(py::tuple(cai["data"])[0].cast<std::uintptr_t>());
    view.dtype_label = typestr;
    view.on_device = true;
    if (cai.contains("stream") && !cai["stream"].is_none()) {
      view.ready_stream = cai["stream"].cast<std::uintptr_t>();
    }
    return view;
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
  // Only error messages read the label, and only for types the runner has no name for.
  if (view.dtype == DType::kOther) view.dtype_label = py::str(array.dtype());
  return view;
}

// A dict of name -> array, or a list/tuple of arrays in the order of the engine's inputs.
std::vector<engine::InputView> to_inputs(const py::handle& inputs, py::list& keep) {
  std::vector<engine::InputView> views;
  if (PyDict_Check(inputs.ptr())) {
    const auto dict = py::reinterpret_borrow<py::dict>(inputs);
    views.reserve(dict.size());
    for (const auto& item : dict) {
      engine::InputView view;
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
      engine::InputView view;
      view.index = static_cast<int>(i);
      view.name = "#" + std::to_string(i);  // what error messages call it
      views.push_back(to_input(std::move(view), sequence[i], keep));
    }
    return views;
  }
  throw InputError("inputs: expected a dict of input name to array, or a list or tuple of " +
                   std::string("arrays in the order of the engine's inputs, given ") +
                   std::string(py::str(py::type::of(inputs))));
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
  py::class_<engine::EngineModel, std::shared_ptr<engine::EngineModel>>(
      m, "EngineModel", "A loaded network the runner can execute (TensorRT engine or test model).")
      .def("io", &io_table, "Inputs and outputs: name, is_input, dtype, shape (-1: dynamic).")
      .def("profile_count", &engine::EngineModel::profile_count)
      .def("profile", &profile_table, py::arg("index"),
           "Per dynamic input, the (min, opt, max) shapes of optimisation profile `index`.");

  py::class_<engine::ContextStep, pipeline::ModelStep, std::shared_ptr<engine::ContextStep>>(
      m, "ContextStep",
      "The frame pipeline's model step over one execution context of `model` (enqueueV3 for\n"
      "TensorRT), its bindings taken once from `device_pool` (None: a pool of its own) at\n"
      "`shapes` (name -> shape for dynamic inputs; default the profile's opt shapes).")
      .def(py::init([](std::shared_ptr<engine::EngineModel> model,
                       std::map<std::string, engine::Shape> shapes, int profile, int device,
                       std::shared_ptr<memory::DevicePool> device_pool) {
             engine::ContextStepOptions options{profile, device, std::move(shapes)};
             return std::make_shared<engine::ContextStep>(std::move(model), std::move(options),
                                                          std::move(device_pool));
           }),
           py::arg("model"), py::arg("shapes") = std::map<std::string, engine::Shape>{},
           py::arg("profile") = 0, py::arg("device") = 0, py::arg("device_pool") = nullptr);

  py::class_<engine::EngineRunner>(m, "EngineRunner",
                                   "The per-frame loop: pinned outputs, events, graphs, slots.")
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

void bind_testing(py::module_& m) {
  using engine::testing::ScaleModel;
  using Range = std::tuple<std::int64_t, std::int64_t, std::int64_t>;  // (min, opt, max) batch
  py::class_<ScaleModel, engine::EngineModel, std::shared_ptr<ScaleModel>>(
      m, "ScaleModel",
      "Test engine on the GPU: scaled = input * scale + bias, row_sum = scaled.sum(axis=1).")
      .def(py::init([](std::int64_t channels, const std::vector<Range>& profiles,
                       std::int64_t static_batch, float scale, float bias, std::int64_t delay_us,
                       bool fail_capture) {
             engine::testing::ScaleModelOptions options;
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
  py::class_<engine::testing::GraphModel, engine::EngineModel,
             std::shared_ptr<engine::testing::GraphModel>>(
      m, "GraphModel",
      "Test engine shaped like TensorRT around a captured CUDA graph (a cudaGraphExec_t as int):\n"
      "bound inputs are copied into the graph's static inputs, the graph launched, its static\n"
      "outputs copied to the bound outputs. Tensors: (name, is_input, address, shape, dtype).")
      .def(py::init([](std::uintptr_t graph_exec, const std::vector<GraphTensorTuple>& tensors) {
             std::vector<engine::testing::GraphTensor> described;
             for (const auto& [name, is_input, address, shape, dtype] : tensors) {
               engine::TensorDesc desc{name, is_input, engine::dtype_from_name(dtype), shape};
               described.push_back({std::move(desc), reinterpret_cast<void*>(address)});
             }
             return std::make_shared<engine::testing::GraphModel>(
                 reinterpret_cast<cudaGraphExec_t>(graph_exec), std::move(described));
           }),
           py::arg("graph_exec"), py::arg("tensors"))
      .def("counters", [](const engine::testing::GraphModel& model) {
        py::dict out;
        out["contexts"] = model.counters().contexts.load();
        out["enqueues"] = model.counters().enqueues.load();
        return out;
      });

  m.def(
      "submit_with_pre_step",
      [](engine::EngineRunner& runner, const py::object& inputs, float add, std::uint64_t key) {
        py::list keep;
        const auto views = to_inputs(inputs, keep);
        engine::PreStep pre;
        pre.key = key;
        pre.run = [add](cudaStream_t stream, const std::vector<engine::BoundTensor>& bound) {
          for (const auto& tensor : bound) {
            engine::testing::launch_add_in_place(static_cast<float*>(tensor.device),
                                                 engine::element_count(tensor.shape), add, stream);
          }
        };
        return runner.submit(views, &pre);
      },
      py::arg("runner"), py::arg("inputs"), py::arg("add"), py::arg("key"),
      "submit() with a pre-step kernel that adds `add` to every input binding in place.");

  m.def(
      "time_frames",
      [](engine::EngineRunner& runner, const py::object& inputs, int frames, int warmup, int depth,
         double timeout_ms) {
        py::list keep;
        const auto views = to_inputs(inputs, keep);
        std::vector<double> samples;
        {
          py::gil_scoped_release release;
          samples = engine::time_frames(runner, views, frames, warmup, depth, timeout_ms);
        }
        return py::array_t<double>(static_cast<py::ssize_t>(samples.size()), samples.data());
      },
      py::arg("runner"), py::arg("inputs"), py::arg("frames"), py::arg("warmup") = 20,
      py::arg("depth") = 1, py::arg("timeout_ms") = 10000.0,
      "Per-frame times in microseconds of a loop run entirely in C++.");

  m.def(
      "time_host_overhead",
      [](engine::EngineRunner& runner, const py::object& inputs, int frames, int warmup,
         double timeout_ms) {
        py::list keep;
        const auto views = to_inputs(inputs, keep);
        std::vector<double> samples;
        {
          py::gil_scoped_release release;
          samples = engine::time_host_overhead(runner, views, frames, warmup, timeout_ms);
        }
        return py::array_t<double>(static_cast<py::ssize_t>(samples.size()), samples.data());
      },
      py::arg("runner"), py::arg("inputs"), py::arg("frames"), py::arg("warmup") = 20,
      py::arg("timeout_ms") = 10000.0,
      "Host microseconds of submit() plus take() of a finished frame, from C++ (waits excluded).");
}

}  // namespace

void bind_engine(py::module_& m) {
  py::module_ engine_module = m.def_submodule("engine", "The per-frame engine loop and TensorRT.");
  bind_runner(engine_module);
  bind_tensorrt(engine_module);
  py::module_ testing = m.def_submodule("_testing", "Test doubles compiled into _core.");
  bind_testing(testing);
}

}  // namespace trtpipe::bindings
