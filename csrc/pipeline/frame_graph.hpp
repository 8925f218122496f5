#pragma once
// One frame's GPU work enqueued by one call: the preprocessing kernel writing a captured CUDA
// graph's static input, the graph's launch, and the copies of its static outputs into pinned
// host memory, in stream order on the caller's stream. A frame in flight owns one slot of host
// outputs and a completion event; `wait(slot)` blocks until the slot's copies have landed.
//
// The graph belongs to its capturer (e.g. a torch.cuda.CUDAGraph), which must outlive this
// object and must not be replayed concurrently on another stream.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "common/cuda_handles.hpp"
#include "decode/compact_candidates.hpp"
#include "pipeline/head_scan.hpp"
#include "preprocess/frame.hpp"
#include "preprocess/gpu_preprocessor.hpp"

namespace trtpipe::pipeline {

// A device buffer of the graph's outputs, copied whole to the host after each launch.
struct OutputCopy {
  const void* device = nullptr;
  std::size_t bytes = 0;
};

// Where a frame's head scan (pipeline/head_scan.hpp) puts its candidates: per slot, one record
// per anchor in mapped pinned memory (its device-visible and its host address) and a pinned
// host count; the device count is shared by the slots, in stream order.
struct ScanTargets {
  HeadScan scan;
  unsigned* device_count = nullptr;
  std::vector<decode::CompactCandidate*> records;
  std::vector<const decode::CompactCandidate*> host_records;
  std::vector<unsigned*> host_counts;
};

// The stage times a frame's events mark on its stream; a null event is not recorded.
struct StageMarks {
  cudaEvent_t before = nullptr;   // before preprocessing
  cudaEvent_t between = nullptr;  // after preprocessing, before the graph
  cudaEvent_t after = nullptr;    // after the graph and its output copies
};

class FrameGraph {
 public:
  // `input`: the graph's static input, which the preprocessing writes (slot 0 of its batch).
  // `host_slots[k][i]`: pinned host memory receiving output i for frames of slot k, at least
  // outputs[i].bytes long.
  FrameGraph(std::shared_ptr<preprocess::GpuPreprocessor> preprocessor, preprocess::Tensor input,
             cudaGraphExec_t graph, std::vector<OutputCopy> outputs,
             std::vector<std::vector<void*>> host_slots);
  FrameGraph(const FrameGraph&) = delete;
  FrameGraph& operator=(const FrameGraph&) = delete;

  // Enqueues the frame on `stream` into `slot`; returns the host time (µs) of the graph launch
  // and the copies after it. A pageable frame has been copied when this returns; a device or
  // pinned frame must stay valid until the slot is waited for. `frame_stream`: the frame
  // producer's stream, waited on first.
  double submit(const preprocess::Frame& frame, bool frame_on_device, int slot,
                preprocess::StreamHandle stream, preprocess::StreamHandle frame_stream,
                const StageMarks& marks);

  // Scans the head of every frame after the graph (the candidates land in `targets`' slot);
  // the full-output copies, if any, still follow.
  void scan_head(ScanTargets targets);

  // Blocks until the copies of the slot's last frame have completed.
  void wait(int slot);

  // The detections of the head scan's candidates of the slot's last frame, once waited for,
  // as decode_dense_head gives them for the whole head (scan_head must have been called).
  decode::Detected scanned(int slot, const decode::DenseHeadOptions& options,
                           const decode::SourceMapping& mapping) const;

  int slots() const noexcept { return static_cast<int>(host_slots_.size()); }
  int device() const noexcept { return preprocessor_->device(); }

 private:
  std::size_t checked_slot(int slot) const;

  std::shared_ptr<preprocess::GpuPreprocessor> preprocessor_;
  preprocess::Tensor input_;
  cudaGraphExec_t graph_;
  std::vector<OutputCopy> outputs_;
  std::vector<std::vector<void*>> host_slots_;
  std::optional<ScanTargets> scan_;
  std::vector<Event> done_;  // one per slot: its output copies completed
};

}  // namespace trtpipe::pipeline
