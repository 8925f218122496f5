#pragma once
// The per-frame loop around an engine: buffers bound once, enqueue on owned streams, outputs
// copied into pinned memory on the same stream, completion by events, CUDA-graph replay for
// unchanging shapes and bindings, and up to N frames in flight.
//
// Each pipeline slot owns an execution context, a stream, its input/output buffers and a graph,
// so consecutive frames run on different streams and overlap (copies of one frame with the
// compute of the other). Not thread-safe beyond this: one thread submits, any thread may wait.
//
// Memory: every buffer is a block of a device or pinned block pool, taken once at construction
// (sized for the profile's largest shapes) and bound once; frames allocate nothing. Pools passed
// in are shared with the rest of the pipeline; a missing one is made to hold exactly the
// bindings of all slots.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/buffer_allocator.hpp"
#include "engine/engine_model.hpp"
#include "memory/device_pool.hpp"
#include "memory/pinned_pool.hpp"

namespace trtpipe::engine {

struct RunnerOptions {
  int slots = 2;             // frames in flight at most
  bool cuda_graphs = true;   // capture + replay when shapes and bindings repeat
  int profile = 0;           // optimisation profile every slot's context uses
  int device = 0;
};

// One input of one frame: host memory (copied through the slot's pinned staging buffer) or
// device memory (bound as-is, zero-copy, when 256-byte aligned; else copied on the GPU).
// An input is named by `index`, its position among the engine's inputs in io() order, or,
// when index < 0, by `name`.
struct InputView {
  std::string name;
  int index = -1;
  const void* data = nullptr;
  Shape shape;
  DType dtype = DType::kFloat32;
  std::string dtype_label;  // the caller's name for dtype when it is kOther (e.g. "float64")
  bool on_device = false;
  // Device data is complete in stream order on this stream (0: it is complete now).
  std::uintptr_t ready_stream = 0;
};

struct BoundTensor {
  std::string name;
  void* device = nullptr;
  Shape shape;
};

// Work to run on the slot's stream before the engine, e.g. preprocessing that writes straight
// into the input bindings. `key` names the work: the same non-zero key promises the same launches
// with the same arguments, so it can be captured into the graph; key 0 keeps the frame out of
// graphs.
struct PreStep {
  std::function<void(cudaStream_t, const std::vector<BoundTensor>&)> run;
  std::uint64_t key = 0;
};

// One output of a finished frame. Everything it points to belongs to the frame's slot and stays
// valid until a later submit() reuses that slot (which can be the very next one).
struct OutputView {
  const TensorDesc* desc = nullptr;  // name and dtype; lives as long as the runner
  const Shape* shape = nullptr;
  const void* host = nullptr;  // pinned
  std::size_t bytes = 0;
};

// The pools the runner's buffers come from (null when constructing: the runner makes one).
struct RunnerPools {
  std::shared_ptr<memory::DevicePool> device;  // bindings: inputs and outputs
  std::shared_ptr<memory::PinnedPool> pinned;  // staging of host inputs, outputs for the host
};

struct RunnerStats {
  std::uint64_t submitted = 0;
  std::uint64_t completed = 0;      // frames whose outputs were taken
  std::uint64_t plain_enqueues = 0;
  std::uint64_t graph_captures = 0;
  std::uint64_t graph_replays = 0;  // graph launches (the first one after each capture included)
  std::uint64_t graph_capture_failures = 0;
  std::uint64_t address_binds = 0;  // set_tensor_address calls
  std::uint64_t shape_sets = 0;     // set_input_shape calls
  std::uint64_t timeouts = 0;
  bool graphs_enabled = false;
  std::string graph_fallback_reason;  // why graphs were turned off, if they were
};

class EngineRunner {
 public:
  // InputError when a given pool is on another GPU than options.device.
  EngineRunner(std::shared_ptr<EngineModel> model, RunnerOptions options,
               RunnerPools pools = {});
  ~EngineRunner();
  EngineRunner(const EngineRunner&) = delete;
  EngineRunner& operator=(const EngineRunner&) = delete;

  const std::vector<TensorDesc>& io() const noexcept { return io_; }
  const RunnerOptions& options() const noexcept { return options_; }
  const RunnerPools& pools() const noexcept { return pools_; }

  // Starts a frame; returns its ticket. InputError for a bad input or when `slots` frames are
  // already in flight and none was taken; EngineError when the engine rejects the frame.
  std::uint64_t submit(const std::vector<InputView>& inputs, const PreStep* pre = nullptr);
  bool ready(std::uint64_t ticket) const;
  // Blocks until the frame is done; EngineError after timeout_ms (< 0: no limit), the frame
  // stays in flight and can be waited for again.
  void wait(std::uint64_t ticket, double timeout_ms);
  // The outputs of a finished frame (call wait or ready first: a frame already seen finished is
  // not queried again), in io() order; frees its slot. The views live in the slot, see
  // OutputView.
  const std::vector<OutputView>& take(std::uint64_t ticket);
  RunnerStats stats() const;

 private:
  struct SlotTensor;
  struct Slot;

  Slot& slot_of(std::uint64_t ticket) const;
  void mark_finished(std::uint64_t ticket) const;
  // Checks the frame's inputs and puts them in the order of the slots' inputs (ordered_).
  void check_inputs(const std::vector<InputView>& inputs);
  void prepare(Slot& slot, std::vector<std::int64_t>& key);
  void enqueue_work(Slot& slot, const PreStep* pre);
  bool try_capture(Slot& slot, const PreStep* pre, const std::vector<std::int64_t>& key);

  std::shared_ptr<EngineModel> model_;
  RunnerOptions options_;
  RunnerPools pools_;
  std::unique_ptr<BufferAllocator> allocator_;
  std::vector<TensorDesc> io_;
  ProfileShapes profile_;
  // Per input, in io() order: its description and profile range (null: static), found once.
  std::vector<const TensorDesc*> input_descs_;
  std::vector<const ProfileShapes::Range*> input_ranges_;
  std::vector<const InputView*> ordered_;  // this frame's inputs, in that order
  std::vector<std::unique_ptr<Slot>> slots_;
  std::uint64_t next_ticket_ = 1;
  RunnerStats stats_;
  mutable std::mutex mutex_;
};

}  // namespace trtpipe::engine
