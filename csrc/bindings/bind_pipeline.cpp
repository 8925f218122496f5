// trtpipe._core.FrameGraph: a frame's preprocessing, a captured model graph and its output
// copies, enqueued by one call (the Detector's frame path over a CUDA graph). Only in CUDA builds.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bindings/bindings.hpp"
#include "bindings/detections_args.hpp"
#include "bindings/frame_args.hpp"
#include "common/cuda_handles.hpp"
#include "pipeline/frame_graph.hpp"

namespace py = pybind11;

namespace trtpipe::bindings {
namespace {

using pipeline::FrameGraph;

cudaEvent_t event_of(const TimingEvent* event) { return event ? event->get() : nullptr; }

std::unique_ptr<FrameGraph> make_frame_graph(
    std::shared_ptr<preprocess::GpuPreprocessor> preprocessor, const py::object& input,
    std::vector<std::int64_t> shape, std::vector<std::int64_t> strides, std::string dtype,
    std::uintptr_t graph_exec, const std::vector<std::pair<std::uintptr_t, std::size_t>>& outputs,
    const std::vector<std::vector<std::uintptr_t>>& host_slots) {
  std::vector<pipeline::OutputCopy> copies;
  for (const auto& [address, bytes] : outputs) {
    copies.push_back({reinterpret_cast<const void*>(address), bytes});
  }
  std::vector<std::vector<void*>> slots;
  for (const auto& slot : host_slots) {
    std::vector<void*>& buffers = slots.emplace_back();
    for (std::uintptr_t address : slot) buffers.push_back(reinterpret_cast<void*>(address));
  }
  return std::make_unique<FrameGraph>(
      std::move(preprocessor), make_tensor(input, std::move(shape), std::move(strides),
                                           std::move(dtype), 0),
      reinterpret_cast<cudaGraphExec_t>(graph_exec), std::move(copies), std::move(slots));
}

}  // namespace

void bind_pipeline(py::module_& m) {
  py::class_<FrameGraph>(
      m, "FrameGraph",
      "Preprocessing into a captured CUDA graph's static input, the graph's launch and the\n"
      "copies of its outputs to pinned host slots, enqueued by one submit() per frame.\n"
      "The graph's owner must outlive this object.")
      .def(py::init(&make_frame_graph), py::arg("preprocessor"), py::arg("input"),
           py::arg("shape"), py::arg("strides"), py::arg("dtype"), py::arg("graph_exec"),
           py::arg("outputs"), py::arg("host_slots"))
      .def(
          "submit",
          [](FrameGraph& self, const py::object& data, std::size_t size, int width, int height,
             std::int64_t step, const std::string& encoding, bool on_device, int slot,
             std::uintptr_t stream, std::uintptr_t frame_stream, const TimingEvent* before,
             const TimingEvent* between, const TimingEvent* after) {
            const preprocess::Frame frame = make_frame(data, size, width, height, step, encoding);
            const pipeline::StageMarks marks{event_of(before), event_of(between), event_of(after)};
            py::gil_scoped_release release;
            return self.submit(frame, on_device, slot, stream, frame_stream, marks);
          },
          py::arg("data"), py::arg("size"), py::arg("width"), py::arg("height"), py::arg("step"),
          py::arg("encoding"), py::arg("on_device"), py::arg("slot"), py::arg("stream"),
          py::arg("frame_stream"), py::arg("before").none(true), py::arg("between").none(true),
          py::arg("after").none(true),
          "Enqueues one frame into `slot` on `stream`; returns the host time (µs) of the graph\n"
          "launch and the copies after it.")
      .def(
          "scan_head",
          [](FrameGraph& self, std::uintptr_t head, int classes, int anchors, float conf,
             std::uintptr_t device_count, const std::vector<std::uintptr_t>& records,
             const std::vector<std::uintptr_t>& host_records,
             const std::vector<std::uintptr_t>& host_counts) {
            pipeline::ScanTargets targets;
            targets.scan = {reinterpret_cast<const float*>(head), classes, anchors, conf};
            targets.device_count = reinterpret_cast<unsigned*>(device_count);
            for (std::uintptr_t r : records) {
              targets.records.push_back(reinterpret_cast<decode::CompactCandidate*>(r));
            }
            for (std::uintptr_t r : host_records) {
              targets.host_records.push_back(reinterpret_cast<const decode::CompactCandidate*>(r));
            }
            for (std::uintptr_t c : host_counts) {
              targets.host_counts.push_back(reinterpret_cast<unsigned*>(c));
            }
            self.scan_head(std::move(targets));
          },
          py::arg("head"), py::arg("classes"), py::arg("anchors"), py::arg("conf"),
          py::arg("device_count"), py::arg("records"), py::arg("host_records"),
          py::arg("host_counts"),
          "Scans the [4 + classes, anchors] float32 head at device address `head` after each\n"
          "launch: the anchors whose best score passes `conf` go to the slot's `records` (mapped\n"
          "pinned anchors × 8 float32: device addresses, and `host_records` the same memory's\n"
          "host addresses), their number to its pinned `host_counts` uint32.")
      .def("wait", &FrameGraph::wait, py::arg("slot"), py::call_guard<py::gil_scoped_release>(),
           "Blocks until the slot's last frame has its outputs in host memory.")
      .def(
          "wait_scanned",
          [](FrameGraph& self, int slot, double iou, std::int64_t max_output, bool agnostic,
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
          "them for the whole head: (float32 (K, 4) boxes, float32 scores, int64 class ids,\n"
          "host time of the decoding after the wait in µs).")
      .def_property_readonly("slots", &FrameGraph::slots)
      .def_property_readonly("device", &FrameGraph::device);
}

}  // namespace trtpipe::bindings
