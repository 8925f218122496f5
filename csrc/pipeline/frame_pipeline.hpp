#pragma once
// The one frame pipeline: per frame, on one stream and in stream order,
//   pre-step    the fused preprocessing of each image into its batch slot of a named input,
//               and plain tensors (token ids, intrinsics, state) copied into theirs;
//   model step  whatever executes the network (pipeline/model_step.hpp): a TensorRT context,
//               a captured CUDA graph, a test model;
//   post-step   the GPU head scan of a dense YOLO head, and copies of the outputs into the
//               frame's slot of pinned host memory;
// then a completion event. Where the model step can be captured, a frame slot's whole frame is
// one CUDA graph (pipeline/frame_graph.hpp) from the second frame of a geometry on, launched with
// one call. `slots` frames may be in flight; each owns its pinned outputs, so a
// frame's outputs stay readable until its slot is submitted again. Frames share the step's
// bindings, kept apart by stream order: submit every frame of a pipeline on one stream.
#include <cuda_runtime_api.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cuda_handles.hpp"
#include "decode/compact_candidates.hpp"
#include "engine/buffer_allocator.hpp"
#include "memory/device_pool.hpp"
#include "memory/pinned_pool.hpp"
#include "pipeline/frame_graph.hpp"
#include "pipeline/head_scan.hpp"
#include "pipeline/model_step.hpp"
#include "preprocess/frame.hpp"
#include "preprocess/gpu_preprocessor.hpp"

namespace trtpipe::pipeline {

struct PipelineOptions {
  int slots = 2;
  // The output scanned on the GPU as a detection head, float32: YOLOv8 [B, 4 + C, N], or with
  // `scan_objectness` YOLOv5 [B, N, 5 + C]; -1: none. A scanned output is not copied to the
  // host: only the anchors passing `conf` are, per batch row.
  int scan_output = -1;
  float conf = 0.25f;
  // Run each frame as one CUDA graph where the model step can be captured (else, and for a
  // frame with more than one image in host memory, the steps are enqueued one by one).
  bool graphs = true;
  bool scan_objectness = false;  // the scanned head is YOLOv5's (rows of cx cy w h obj C)
};

// How the pipeline's frames ran: as a captured CUDA graph, or step by step.
struct PipelineCounters {
  std::uint64_t frames = 0;  // submitted
  std::uint64_t graph_frames = 0;
  std::uint64_t step_frames = 0;
  std::uint64_t captures = 0;
  std::uint64_t reshapes = 0;  // frames that changed the step's input shapes
  // preprocessing kernels of a graph given a frame's new arguments (its address or geometry
  // changed since that graph's last frame)
  std::uint64_t argument_updates = 0;
  std::uint64_t timeouts = 0;  // waits that gave up
  // frames run step by step because the window's captures were spent (geometry changing
  // faster than capturing pays)
  std::uint64_t uncaptured_frames = 0;
  std::string stopped;  // why frames no longer run as graphs (empty while they may)
};

// An image for a batch slot of an image input (the step's input `input`).
struct ImageInput {
  preprocess::Frame frame;
  bool on_device = false;
  preprocess::StreamHandle frame_stream = 0;  // the frame producer's stream, waited on first
  int input = 0;
  int batch_index = 0;
};

// A whole input tensor, copied into the step's input `input` (or, with `input` < 0, the one
// named `name`) on the frame's stream: from device memory on the GPU; from host memory into the
// frame slot's pinned staging first (read when submit returns), from which the frame copies it
// to the GPU, inside the frame's graph where the frame runs as one. A shape other than the
// input's current one reshapes the step (set_input_shapes), within what it can take.
struct TensorInput {
  std::string name;  // what errors call it
  int input = -1;
  const void* data = nullptr;
  engine::Shape shape;
  engine::DType dtype = engine::DType::kFloat32;
  std::string dtype_label;  // the caller's name for dtype when it is kOther (e.g. "float64")
  bool on_device = false;
  preprocess::StreamHandle ready_stream = 0;  // device data is complete in order on this stream
};

// The stage times a frame's events mark on its stream; a null event is not recorded.
struct StageMarks {
  cudaEvent_t before = nullptr;   // before the pre-step
  cudaEvent_t between = nullptr;  // after the pre-step, before the model step
  cudaEvent_t after = nullptr;    // after the model step and the post-step
};

// One output of a slot's last frame in pinned host memory (null `host` for the scanned output).
struct HostOutput {
  const StepTensor* tensor = nullptr;  // name and dtype
  void* host = nullptr;
  engine::Shape shape;  // the frame's
  std::size_t bytes = 0;
};

class FramePipeline {
 public:
  // `preprocessor` may be null for a model without image inputs; `pinned`, the pool of the
  // slots' outputs (null: one sized for exactly them). InputError for a bad option (slots, scan
  // output) or a preprocessor or pool of another GPU than the step's.
  FramePipeline(std::shared_ptr<ModelStep> step,
                std::shared_ptr<preprocess::GpuPreprocessor> preprocessor,
                PipelineOptions options, std::shared_ptr<memory::PinnedPool> pinned = nullptr);
  ~FramePipeline();
  FramePipeline(const FramePipeline&) = delete;
  FramePipeline& operator=(const FramePipeline&) = delete;

  // Enqueues one frame (or batch) into `slot` on `stream`; returns the host time (µs) of the
  // model step's launch and the post-step. A pageable image has been copied when this returns.
  double submit(const std::vector<ImageInput>& images, const std::vector<TensorInput>& tensors,
                int slot, preprocess::StreamHandle stream, const StageMarks& marks);
  // The common case: one image into batch slot 0 of the step's first input.
  double submit_image(const preprocess::Frame& frame, bool on_device,
                      preprocess::StreamHandle frame_stream, int slot,
                      preprocess::StreamHandle stream, const StageMarks& marks);

  // Blocks until the slot's last frame has completed; EngineError after `timeout_ms` (< 0: no
  // limit), the frame still running and waitable again.
  void wait(int slot, double timeout_ms = -1.0);
  // Whether the slot's last frame has completed.
  bool ready(int slot) const;
  // The detections of batch row `row` of the head scan's candidates of the slot's last frame,
  // once waited for, as decode_dense_head gives them for that row of the head, mapped with the
  // row's `mapping`. InputError without a scan, or for a row the head does not have.
  decode::Detected scanned(int slot, const decode::DenseHeadOptions& options,
                           const decode::SourceMapping& mapping, int row = 0) const;

  const std::vector<HostOutput>& host_outputs(int slot) const;
  const ModelStep& step() const noexcept { return *step_; }
  bool scanning() const noexcept { return options_.scan_output >= 0; }
  // The batch rows of the scanned head (0 without a scan).
  int scan_rows() const noexcept { return scanning() ? scan_.batch : 0; }
  int slots() const noexcept { return options_.slots; }
  int device() const noexcept { return step_->device(); }
  // A stream of the pipeline's own, for callers with none (frames of PyTorch graphs go on
  // PyTorch's current stream instead).
  cudaStream_t stream() const noexcept { return stream_->get(); }
  // The pool of the slots' pinned outputs (for the monitor's statistics).
  const std::shared_ptr<memory::PinnedPool>& pinned_pool() const noexcept { return pinned_; }
  PipelineCounters counters() const;

  // InputError unless a frame of tensors alone gives every input: all of them in the order of
  // the step's inputs (`in_order`), or each by name.
  void require_every_input(const std::vector<TensorInput>& tensors, bool in_order) const;

 private:
  struct Slot;
  Slot& checked_slot(int slot) const;
  // Checks the frame's inputs, finds each tensor's input index (tensor_inputs_) and gives the
  // step the tensors' shapes.
  void check_inputs(const std::vector<ImageInput>& images,
                    const std::vector<TensorInput>& tensors);
  void reshape(const std::vector<TensorInput>& tensors);
  // Device tensors: copied on the GPU now, after their producers. Host tensors: into the slot's
  // pinned staging (staged_ says which), copied to the GPU by copy_staged.
  void copy_tensors(Slot& slot, const std::vector<TensorInput>& tensors, cudaStream_t stream);
  void* staging(Slot& slot, std::size_t input);
  void copy_staged(Slot& slot, cudaStream_t stream);
  bool as_graph(const std::vector<ImageInput>& images) const noexcept;
  // The model step and the post-step, and the pre-step's deferred kernels before them, as one
  // graph where it can be; step by step otherwise.
  void run_steps(Slot& slot, cudaEvent_t between, cudaStream_t stream);
  void enqueue_steps(Slot& slot, cudaEvent_t between, cudaStream_t stream);
  void model_and_post_step(Slot& slot, cudaStream_t stream);
  void post_step(Slot& slot, cudaStream_t stream);

  std::shared_ptr<ModelStep> step_;
  std::shared_ptr<preprocess::GpuPreprocessor> preprocessor_;
  PipelineOptions options_;
  std::optional<Stream> stream_;     // made on the step's GPU
  std::vector<Event> input_ready_;   // per step input: its producer's stream marked ready
  std::shared_ptr<memory::PinnedPool> pinned_;
  std::shared_ptr<memory::DevicePool> device_;  // the scan's candidate count
  std::vector<engine::Allocation> buffers_;     // every pinned and device block, held
  std::vector<preprocess::Tensor> image_targets_;  // per step input, as the preprocessor takes it
  std::vector<std::unique_ptr<Slot>> slots_;
  HeadScan scan_;
  unsigned* device_count_ = nullptr;  // per batch row of the scanned head
  std::vector<ImageInput> one_image_;  // submit_image's, reused: frames allocate nothing
  PreprocessLaunches launches_;        // the frame's deferred preprocessing kernels
  FrameGraphKey warm_;                 // the last frame enqueued step by step
  std::vector<int> tensor_inputs_;     // per tensor of the frame, its input's index
  std::vector<engine::Shape> shapes_;  // the frame's input shapes, reused
  std::uint64_t shape_generation_ = 0;  // counts the step's shape changes: graphs are per shapes
  std::uint64_t staged_ = 0;  // a bit per input (the first 64) the frame copies from staging
  std::uint64_t window_frames_ = 0;     // frames and captures when the capture window began
  std::uint64_t window_captures_ = 0;
  PipelineCounters counters_;
  std::atomic<std::uint64_t> timeouts_{0};  // waits may run on other threads
};

}  // namespace trtpipe::pipeline
