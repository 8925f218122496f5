#include "pipeline/frame_graph.hpp"

#include <chrono>
#include <string>
#include <utility>

#include "common/cuda_check.hpp"
#include "common/errors.hpp"

namespace trtpipe::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

double micros(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

[[noreturn]] void bad_input(const std::string& field, const std::string& expected,
                            const std::string& given) {
  throw InputError(field + ": expected " + expected + ", given " + given);
}

void record(cudaEvent_t event, cudaStream_t stream, const char* what) {
  if (event != nullptr) TRTPIPE_CUDA_CHECK(cudaEventRecord(event, stream), what);
}

}  // namespace

FrameGraph::FrameGraph(std::shared_ptr<preprocess::GpuPreprocessor> preprocessor,
                       preprocess::Tensor input, cudaGraphExec_t graph,
                       std::vector<OutputCopy> outputs,
                       std::vector<std::vector<void*>> host_slots)
    : preprocessor_(std::move(preprocessor)),
      input_(std::move(input)),
      graph_(graph),
      outputs_(std::move(outputs)),
      host_slots_(std::move(host_slots)) {
  if (!preprocessor_) bad_input("preprocessor", "a GpuPreprocessor", "None");
  if (graph_ == nullptr) bad_input("graph", "an instantiated cudaGraphExec_t", "0");
  if (host_slots_.empty()) bad_input("host_slots", "at least one slot", "none");
  for (std::size_t k = 0; k < host_slots_.size(); ++k) {
    if (host_slots_[k].size() != outputs_.size()) {
      bad_input("host_slots[" + std::to_string(k) + "]",
                       std::to_string(outputs_.size()) + " host buffers, one per output",
                       std::to_string(host_slots_[k].size()));
    }
  }
  DeviceGuard guard(preprocessor_->device());
  done_.reserve(host_slots_.size());
  for (std::size_t k = 0; k < host_slots_.size(); ++k) {
    done_.emplace_back("the output copies of a frame slot");
  }
}

std::size_t FrameGraph::checked_slot(int slot) const {
  if (slot < 0 || slot >= slots()) {
    bad_input("slot", "0.." + std::to_string(slots() - 1), std::to_string(slot));
  }
  return static_cast<std::size_t>(slot);
}

double FrameGraph::submit(const preprocess::Frame& frame, bool frame_on_device, int slot,
                          preprocess::StreamHandle stream_handle,
                          preprocess::StreamHandle frame_stream, const StageMarks& marks) {
  const std::size_t k = checked_slot(slot);
  const cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
  DeviceGuard guard(preprocessor_->device());
  record(marks.before, stream, "recording the start of preprocessing");
  preprocessor_->run(frame, frame_on_device, input_, stream_handle, frame_stream, 0);
  record(marks.between, stream, "recording the end of preprocessing");
  const auto launched = Clock::now();
  TRTPIPE_CUDA_CHECK(cudaGraphLaunch(graph_, stream), "launching the model's CUDA graph");
  if (scan_) {
    launch_head_scan(scan_->scan, scan_->records[k], scan_->device_count, stream);
    TRTPIPE_CUDA_CHECK(cudaMemcpyAsync(scan_->host_counts[k], scan_->device_count,
                                       sizeof(unsigned), cudaMemcpyDeviceToHost, stream),
                       "copying the head scan's candidate count to pinned host memory");
  }
  const std::vector<void*>& host = host_slots_[k];
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    TRTPIPE_CUDA_CHECK(cudaMemcpyAsync(host[i], outputs_[i].device, outputs_[i].bytes,
                                       cudaMemcpyDeviceToHost, stream),
                       "copying model output " + std::to_string(i) + " to pinned host memory");
  }
  record(marks.after, stream, "recording the end of inference");
  TRTPIPE_CUDA_CHECK(cudaEventRecord(done_[k].get(), stream), "recording a frame slot's completion");
  return micros(launched, Clock::now());
}

void FrameGraph::scan_head(ScanTargets targets) {
  const auto n = static_cast<std::size_t>(slots());
  if (targets.records.size() != n || targets.host_records.size() != n ||
      targets.host_counts.size() != n) {
    bad_input("scan targets",
              std::to_string(n) + " record buffers (device and host addresses) and counts, one "
                                  "per slot",
              std::to_string(targets.records.size()) + ", " +
                  std::to_string(targets.host_records.size()) + " and " +
                  std::to_string(targets.host_counts.size()));
  }
  if (targets.scan.head == nullptr || targets.device_count == nullptr) {
    bad_input("scan targets", "a head and a device count", "a null pointer");
  }
  if (targets.scan.classes < 1 || targets.scan.anchors < 0) {
    bad_input("scan", "at least one class and no negative anchor count",
              std::to_string(targets.scan.classes) + " classes, " +
                  std::to_string(targets.scan.anchors) + " anchors");
  }
  scan_ = std::move(targets);
}

void FrameGraph::wait(int slot) {
  TRTPIPE_CUDA_CHECK(cudaEventSynchronize(done_[checked_slot(slot)].get()),
                     "waiting for a frame's model outputs");
}

decode::Detected FrameGraph::scanned(int slot, const decode::DenseHeadOptions& options,
                                     const decode::SourceMapping& mapping) const {
  if (!scan_) bad_input("scanned", "a FrameGraph scanning its head (scan_head)", "none");
  const std::size_t k = checked_slot(slot);
  const unsigned count = *scan_->host_counts[k];
  // the kernel counts every passing anchor once: more would be a broken scan, not a frame
  if (count > static_cast<unsigned>(scan_->scan.anchors)) {
    throw EngineError("head scan: " + std::to_string(count) + " candidates of " +
                      std::to_string(scan_->scan.anchors) + " anchors");
  }
  return decode::decode_compact_candidates(scan_->host_records[k], count, options, mapping);
}

}  // namespace trtpipe::pipeline
