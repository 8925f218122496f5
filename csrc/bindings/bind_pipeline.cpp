// trtpipe._core.ModelStep, GraphStep and FramePipeline: the one frame pipeline (pre-step, model
// step, post-step, slots in flight) every GPU engine runs frames through. Only in CUDA builds.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstring>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings/bindings.hpp"
#include "bindings/checked_args.hpp"
#include "bindings/detections_args.hpp"
#include "bindings/frame_args.hpp"
#include "bindings/input_args.hpp"
#include "common/cuda_handles.hpp"
#include "common/errors.hpp"
#include "pipeline/frame_pipeline.hpp"
#include "pipeline/graph_step.hpp"

namespace py = pybind11;

namespace trtpipe::bindings {
namespace {

using pipeline::FramePipeline;
using pipeline::ModelStep;
using pipeline::StepTensor;

cudaEvent_t event_of(const TimingEvent* event) { return event ? event->get() : nullptr; }

pipeline::StageMarks marks_of(const TimingEvent* before, const TimingEvent* between,
                              const TimingEvent* after) {
  return {event_of(before), event_of(between), event_of(after)};
}

// (name, device address, shape, dtype name) as Python describes a graph's static tensor.
using TensorTuple = std::tuple<std::string, std::uintptr_t, engine::Shape, std::string>;

std::vector<StepTensor> step_tensors(const std::vector<TensorTuple>& tuples) {
  std::vector<StepTensor> tensors;
  for (const auto& [name, address, shape, dtype] : tuples) {
    const engine::DType type = engine::dtype_from_name(dtype);
    if (type == engine::DType::kOther) {
      throw InputError("tensor '" + name + "': expected a dtype such as float32, given " + dtype);
    }
    tensors.push_back({name, reinterpret_cast<void*>(address), shape, type, 0});
  }
  return tensors;
}

py::list describe(const std::vector<StepTensor>& tensors) {
  py::list out;
  for (const StepTensor& t : tensors) {
    py::dict entry;
    entry["name"] = t.name;
    entry["address"] = reinterpret_cast<std::uintptr_t>(t.device);
    entry["shape"] = t.shape;
    entry["dtype"] = engine::dtype_name(t.dtype);
    entry["bytes"] = t.bytes;
    out.append(entry);
  }
  return out;
}

// The slot's last frame's outputs, by name: copies, or NumPy views of the slot's pinned memory
// that keep the pipeline (`self`) alive.
py::dict host_arrays(const py::handle& self, const FramePipeline& pipeline, int slot, bool copy) {
  py::dict arrays;
  for (const pipeline::HostOutput& out : pipeline.host_outputs(slot)) {
    if (out.host == nullptr) continue;  // the scanned head
    const std::string& name = out.tensor->name;
    std::vector<py::ssize_t> shape(out.shape.begin(), out.shape.end());
    py::array array;
    if (copy) {
      array = py::array(numpy_dtype(out.tensor->dtype, name), std::move(shape));
      std::memcpy(array.mutable_data(), out.host, out.bytes);
    } else {
      array = py::array(numpy_dtype(out.tensor->dtype, name), std::move(shape), {}, out.host, self);
    }
    arrays[py::str(name)] = std::move(array);
  }
  return arrays;
}

py::dict counters_dict(const pipeline::PipelineCounters& c) {
  py::dict out;
  out["frames"] = c.frames;
  out["graph_frames"] = c.graph_frames;
  out["step_frames"] = c.step_frames;
  out["captures"] = c.captures;
  out["reshapes"] = c.reshapes;
  out["argument_updates"] = c.argument_updates;
  out["timeouts"] = c.timeouts;
  out["uncaptured_frames"] = c.uncaptured_frames;
  out["stopped"] = c.stopped;
  return out;
}

// (frame, input index, batch index): an image for a batch slot of an image input, its frame a
// LocatedFrame.
pipeline::ImageInput image_of(const py::handle& image) {
  const py::sequence fields =
      view_fields(image, 3, "images", "(frame, input index, batch index) per image");
  const FrameArg frame = frame_arg(fields[0]);
  // a host frame is staged with the CPU: only from its array, which the view was checked against
  if (!frame.on_device) require_array(frame.in_array, "frame");
  pipeline::ImageInput out;
  out.frame = frame.frame;
  out.on_device = frame.on_device;
  out.frame_stream = frame.stream;
  out.input = checked_int<int>(fields[1], "input index");
  out.batch_index = checked_int<int>(fields[2], "batch index");
  return out;
}

}  // namespace

void bind_pipeline(py::module_& m) {
  refuse_uninitialised(py::class_<ModelStep, std::shared_ptr<ModelStep>>(
      m, "ModelStep",
      "What executes the network in the frame pipeline: a TensorRT context\n"
      "(engine.ContextStep), a captured CUDA graph (GraphStep), a test model."))
      .def_property_readonly("inputs", [](const ModelStep& s) { return describe(s.inputs()); })
      .def_property_readonly("outputs", [](const ModelStep& s) { return describe(s.outputs()); })
      .def_property_readonly("device", &ModelStep::device);

  refuse_uninitialised(py::class_<pipeline::GraphStep, ModelStep, std::shared_ptr<pipeline::GraphStep>>(
      m, "GraphStep",
      "A model step launching an instantiated CUDA graph (a cudaGraphExec_t as int) whose\n"
      "inputs and outputs are static device tensors, given as (name, address, shape, dtype).\n"
      "`graph` (a cudaGraph_t as int, 0: none) is the graph it was instantiated from: with it,\n"
      "the frame pipeline captures the whole frame as one graph. The graph's owner must\n"
      "outlive the step."))
      .def(py::init([](std::uintptr_t graph_exec, const std::vector<TensorTuple>& inputs,
                       const std::vector<TensorTuple>& outputs, int device, std::uintptr_t graph) {
             return std::make_shared<pipeline::GraphStep>(
                 reinterpret_cast<cudaGraphExec_t>(graph_exec), reinterpret_cast<cudaGraph_t>(graph),
                 step_tensors(inputs), step_tensors(outputs), device);
           }),
           py::arg("graph_exec"), py::arg("inputs"), py::arg("outputs"), py::arg("device") = 0,
           py::arg("graph") = 0);

  refuse_uninitialised(py::class_<FramePipeline>(
      m, "FramePipeline",
      "Frames through a model step: images preprocessed into batch slots of image inputs,\n"
      "tensors copied into the others, the step, the GPU head scan and the outputs' copies\n"
      "into the frame slot's pinned memory; one submit and one wait per frame."))
      .def(py::init([](std::shared_ptr<ModelStep> step,
                       std::shared_ptr<preprocess::GpuPreprocessor> preprocessor, int slots,
                       int scan_output, float conf, bool graphs,
                       std::shared_ptr<memory::PinnedPool> pinned_pool, bool scan_objectness) {
             return std::make_unique<FramePipeline>(
                 std::move(step), std::move(preprocessor),
                 pipeline::PipelineOptions{slots, scan_output, conf, graphs, scan_objectness},
                 std::move(pinned_pool));
           }),
           py::arg("step"), py::arg("preprocessor").none(true), py::arg("slots") = 2,
           py::arg("scan_output") = -1, py::arg("conf") = 0.25f, py::arg("graphs") = true,
           py::arg("pinned_pool") = nullptr, py::arg("scan_objectness") = false,
           "`pinned_pool`: where the slots' outputs live (None: a pool of exactly them).\n"
           "`scan_output`: the head scanned on the GPU, YOLOv8 [B, 4 + C, N], or YOLOv5\n"
           "[B, N, 5 + C] with `scan_objectness`; each batch row into its own candidates.")
      .def(
          "submit",
          [](FramePipeline& self, const py::handle& frame, int slot, std::uintptr_t stream,
             const TimingEvent* before, const TimingEvent* between, const TimingEvent* after) {
            const FrameArg image = frame_arg(frame);
            if (!image.on_device) require_array(image.in_array, "frame");  // as image_of
            const pipeline::StageMarks marks = marks_of(before, between, after);
            py::gil_scoped_release release;
            return self.submit_image(image.frame, image.on_device, image.stream, slot, stream,
                                     marks);
          },
          py::arg("frame"), py::arg("slot"), py::arg("stream"),
          py::arg("before").none(true) = nullptr, py::arg("between").none(true) = nullptr,
          py::arg("after").none(true) = nullptr,
          "Enqueues `frame` (a LocatedFrame) into batch slot 0 of the first input, in frame\n"
          "`slot` on `stream`, with the stage marks `before`, `between` and `after`; returns the\n"
          "host time (µs) of the model step's launch and the post-step.")
      .def(
          "submit_inputs",
          [](FramePipeline& self, const py::list& images, const py::dict& tensors, int slot,
             std::uintptr_t stream, const TimingEvent* before, const TimingEvent* between,
             const TimingEvent* after) {
            std::vector<pipeline::ImageInput> image_inputs;
            for (const py::handle image : images) image_inputs.push_back(image_of(image));
            py::list keep;
            const std::vector<pipeline::TensorInput> tensor_inputs = to_inputs(tensors, keep);
            const pipeline::StageMarks marks = marks_of(before, between, after);
            py::gil_scoped_release release;
            return self.submit(image_inputs, tensor_inputs, slot, stream, marks);
          },
          py::arg("images"), py::arg("tensors"), py::arg("slot"), py::arg("stream"),
          py::arg("before").none(true) = nullptr, py::arg("between").none(true) = nullptr,
          py::arg("after").none(true) = nullptr,
          "Enqueues a frame of several inputs: `images` as (LocatedFrame, input index, batch\n"
          "index), `tensors` as a dict of input name -> NumPy or GPU array (copied into the\n"
          "input; a new shape reshapes a resizable step).")
      .def(
          "submit_tensors",
          [](FramePipeline& self, const py::handle& inputs, int slot) {
            py::list keep;
            const std::vector<pipeline::TensorInput> tensors = to_inputs(inputs, keep);
            self.require_every_input(tensors, !PyDict_Check(inputs.ptr()));
            const auto stream = reinterpret_cast<std::uintptr_t>(self.stream());
            py::gil_scoped_release release;
            self.submit({}, tensors, slot, stream, {});
          },
          py::arg("inputs"), py::arg("slot"),
          "Enqueues a frame of tensors into `slot` on the pipeline's own stream: `inputs`, a\n"
          "dict of input name -> NumPy or GPU array, or (faster) a list or tuple of them in\n"
          "the order of the step's inputs; every input must be given. A shape other than the\n"
          "last frame's reshapes the step (within its profile, for a resizable ContextStep).")
      .def("wait", &FramePipeline::wait, py::arg("slot"), py::arg("timeout_ms") = -1.0,
           py::call_guard<py::gil_scoped_release>(),
           "Blocks until the slot's last frame has completed; EngineError after `timeout_ms`\n"
           "(< 0: no limit), the frame still running and waitable again.")
      .def("ready", &FramePipeline::ready, py::arg("slot"),
           "Whether the slot's last frame has completed.")
      .def(
          "result",
          [](const py::object& self, int slot, double timeout_ms, bool copy) {
            FramePipeline& pipeline = self.cast<FramePipeline&>();
            if (!pipeline.ready(slot)) {  // only a frame still running is worth the GIL
              py::gil_scoped_release release;
              pipeline.wait(slot, timeout_ms);
            }
            return host_arrays(self, pipeline, slot, copy);
          },
          py::arg("slot"), py::arg("timeout_ms") = -1.0, py::arg("copy") = true,
          "wait(slot, timeout_ms), then the outputs of the slot's last frame by name: copies,\n"
          "or (copy=False) views of the slot's pinned memory, valid until its next frame.")
      .def(
          "wait_scanned",
          [](FramePipeline& self, int slot, double iou, std::int64_t max_output, bool agnostic,
             const py::object& letterbox) {
            const decode::DenseHeadOptions options{0.0f, iou, max_output, agnostic};
            const decode::SourceMapping mapping = mapping_of(letterbox);
            decode::Detected found;
            double decode_us = 0.0;
            {
              py::gil_scoped_release release;
              self.wait(slot);
              const auto start = std::chrono::steady_clock::now();
              found = self.scanned(slot, options, mapping);
              decode_us = std::chrono::duration<double, std::micro>(
                              std::chrono::steady_clock::now() - start)
                              .count();
            }
            py::tuple detections = detections_tuple(found);
            return py::make_tuple(detections[0], detections[1], detections[2], decode_us);
          },
          py::arg("slot"), py::arg("iou"), py::arg("max_output"), py::arg("agnostic"),
          py::arg("letterbox") = py::none(),
          "wait(slot), then the detections of the slot's head scan, as decode.dense_head gives\n"
          "them for the whole head (batch row 0 of a batched one): (float32 (K, 4) boxes,\n"
          "float32 scores, int64 class ids, host time of the decoding after the wait in µs).")
      .def(
          "wait_scanned_rows",
          [](FramePipeline& self, int slot, double iou, std::int64_t max_output, bool agnostic,
             const py::sequence& letterboxes) {
            if (!self.scanning()) {
              throw InputError(
                  "wait_scanned_rows: expected a pipeline scanning its head (scan_output), "
                  "given none");
            }
            const auto rows = static_cast<int>(letterboxes.size());
            if (rows < 1 || rows > self.scan_rows()) {
              throw InputError("letterboxes: expected one per batch row decoded, 1.." +
                               std::to_string(self.scan_rows()) + ", given " +
                               std::to_string(rows));
            }
            const decode::DenseHeadOptions options{0.0f, iou, max_output, agnostic};
            std::vector<decode::SourceMapping> mappings;
            for (const py::handle letterbox : letterboxes) {
              mappings.push_back(mapping_of(py::reinterpret_borrow<py::object>(letterbox)));
            }
            std::vector<decode::Detected> found(mappings.size());
            double decode_us = 0.0;
            {
              py::gil_scoped_release release;
              self.wait(slot);
              const auto start = std::chrono::steady_clock::now();
              for (int row = 0; row < rows; ++row) {
                found[row] = self.scanned(slot, options, mappings[row], row);
              }
              decode_us = std::chrono::duration<double, std::micro>(
                              std::chrono::steady_clock::now() - start)
                              .count();
            }
            py::list detections;
            for (const decode::Detected& row : found) detections.append(detections_tuple(row));
            return py::make_tuple(detections, decode_us);
          },
          py::arg("slot"), py::arg("iou"), py::arg("max_output"), py::arg("agnostic"),
          py::arg("letterboxes"),
          "wait(slot), then the detections of the first len(letterboxes) batch rows of the\n"
          "slot's head scan, row k mapped with letterboxes[k] (a Letterbox's source_terms, or\n"
          "None), each as decode.dense_head gives them for its row of the head; rows past them\n"
          "(a batch padded to the step's batch) are not decoded: ([(float32 (K, 4) boxes,\n"
          "float32 scores, int64 class ids) per row], host time of the decoding after the wait\n"
          "in µs).")
      .def(
          "host_outputs",
          [](const py::object& self, int slot) {
            return host_arrays(self, self.cast<const FramePipeline&>(), slot, false);
          },
          py::arg("slot"),
          "The slot's outputs copied to the host, by name, as NumPy views of its pinned memory\n"
          "(the scanned head has none): valid until the slot's next frame.")
      .def_property_readonly("outputs",
                             [](const FramePipeline& p) { return describe(p.step().outputs()); })
      .def_property_readonly("scanning", &FramePipeline::scanning)
      .def_property_readonly("scan_rows", &FramePipeline::scan_rows,
                             "The batch rows of the scanned head (0 without a scan).")
      .def_property_readonly("slots", &FramePipeline::slots)
      .def_property_readonly("device", &FramePipeline::device)
      .def_property_readonly(
          "stream",
          [](const FramePipeline& p) { return reinterpret_cast<std::uintptr_t>(p.stream()); },
          "The pipeline's own cudaStream_t, for callers with no stream of their own.")
      .def_property_readonly("pinned_pool", &FramePipeline::pinned_pool)
      .def_property_readonly(
          "stats", [](const FramePipeline& p) { return counters_dict(p.counters()); },
          "frames (submitted), how they ran: graph_frames (as one CUDA graph each),\n"
          "step_frames (step by step), captures, reshapes (frames that changed the step's\n"
          "shapes), argument_updates (preprocessing kernels of a graph given a frame's new\n"
          "address or geometry), timeouts (waits that gave up), uncaptured_frames (run step\n"
          "by step: more geometry changes than captures allowed in a window of frames), and\n"
          "why frames stopped running as graphs ('' while they may).");
}

}  // namespace trtpipe::bindings
