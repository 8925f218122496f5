#pragma once
// The memory a host frame passes through on its way to the kernel: pinned staging for pageable
// frames (read mapped, or copied on) and device staging for the copy path, two sets used in
// turn; before a set is reused, the last kernel that read it must be done. The blocks come from
// trtpipe's pools (the caller's, or this Staging's own) and are kept while their size serves.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/cuda_check.hpp"
#include "common/cuda_handles.hpp"
#include "memory/device_pool.hpp"
#include "memory/pinned_pool.hpp"
#include "memory/pool_block.hpp"
#include "preprocess/source_rows.hpp"
#include "preprocess/worker_pool.hpp"

namespace trtpipe::preprocess {

class Staging {
 public:
  // Staging blocks come from `pinned` (host staging) and `device` (device staging); a null pool
  // is replaced by one of this Staging's own, made on first use on GPU `gpu`, which grows by
  // what is asked (the frame sizes seen) up to 1 GiB and then falls back (counted).
  Staging(std::shared_ptr<memory::PinnedPool> pinned, std::shared_ptr<memory::DevicePool> device,
          int gpu)
      : pinned_(std::move(pinned)), device_(std::move(device)), gpu_(gpu) {}

  // Gives every block back once the GPU is done with it (a destructor cannot report errors).
  ~Staging() {
    for (Slot& slot : slots_) {
      try {
        wait_until_free(slot);
        give_back(slot.host);
        give_back(slot.device);
      } catch (...) {
        // The context is gone: the pool's memory goes with it.
      }
    }
  }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  // Moves on to the next set of buffers, for the next frame. Two sets: while the GPU still
  // reads one frame's staging (queued behind other work on the stream), the host fills the other.
  void next_frame() noexcept { current_ = (current_ + 1) % kSlots; }

  // Copies `bytes` of a pageable frame into pinned staging (only the `ranges` the kernel reads,
  // where given); returns the staging's host pointer.
  const void* host_copy(const void* frame, std::size_t bytes, cudaStream_t stream,
                        const std::vector<ByteRange>* ranges = nullptr) {
    Slot& slot = slots_[current_];
    wait_until_free(slot);
    if (slot.host.size() < bytes) {
      give_back(slot.host);
      if (!pinned_) {
        pinned_ = std::make_shared<memory::PinnedPool>(own_pool_options(), gpu_);
      }
      slot.host = pinned_->allocate(bytes, stream);
      // The pool hands `stream` blocks whose last use may still be queued on `stream`: that
      // orders GPU work, not the host write below, so wait for the stream once per new block.
      TRTPIPE_CUDA_CHECK(cudaStreamSynchronize(stream),
                         "waiting for the last use of a pinned staging block");
    }
    const ByteRange whole{0, bytes};
    if (ranges != nullptr) {
      copy_ranges(slot.host.host_data(), frame, ranges->data(), ranges->size());
    } else {
      copy_ranges(slot.host.host_data(), frame, &whole, 1);
    }
    return slot.host.host_data();
  }
  // The pinned staging as the GPU reads it in place.
  const void* host_mapped() const noexcept { return slots_[current_].host.device_data(); }

  // Enqueues a copy of `bytes` of pinned memory into device staging; returns the device copy.
  const void* device_copy(const void* pinned, std::size_t bytes, cudaStream_t stream) {
    Slot& slot = slots_[current_];
    if (slot.device.size() < bytes) {
      wait_until_free(slot);
      give_back(slot.device);
      if (!device_) {
        device_ = std::make_shared<memory::DevicePool>(own_pool_options(), gpu_);
      }
      slot.device = device_->allocate(bytes, stream);
    }
    TRTPIPE_CUDA_CHECK(cudaStreamWaitEvent(stream, slot.done.get(), 0),
                       "ordering the frame copy after the last kernel that read the staging");
    TRTPIPE_CUDA_CHECK(
        cudaMemcpyAsync(slot.device.data(), pinned, bytes, cudaMemcpyHostToDevice, stream),
        "copying a " + std::to_string(bytes) + "-byte frame to the GPU");
    return slot.device.data();
  }

  // Marks this frame's staging busy until the work enqueued on `stream` so far is done.
  void release_after(cudaStream_t stream) {
    Slot& slot = slots_[current_];
    TRTPIPE_CUDA_CHECK(cudaEventRecord(slot.done.get(), stream), "marking the staging's use");
    slot.recorded = true;
  }

 private:
  struct Slot {
    memory::PoolBlock host;
    memory::PoolBlock device;
    Event done{"marking the last use of staging buffers"};
    bool recorded = false;
  };
  static constexpr int kSlots = 2;

  // A whole frame through one core runs at that core's share of memory bandwidth (a 1080p
  // bgr8 frame took ~540 µs on a server host); large copies are split over the worker threads.
  void copy_ranges(void* to, const void* from, const ByteRange* ranges, std::size_t count) {
    constexpr std::size_t kChunk = std::size_t{256} << 10;
    auto* dst = static_cast<std::uint8_t*>(to);
    const auto* src = static_cast<const std::uint8_t*>(from);
    const ByteRange* end = ranges + count;
    std::size_t total = 0;
    for (const ByteRange* r = ranges; r != end; ++r) total += r->length;
    if (total < 2 * kChunk || copier_.threads() == 1) {
      for (const ByteRange* r = ranges; r != end; ++r) {
        std::memcpy(dst + r->offset, src + r->offset, r->length);
      }
      return;
    }
    pieces_.clear();
    for (const ByteRange* range = ranges; range != end; ++range) {
      const ByteRange& r = *range;
      for (std::size_t done = 0; done < r.length; done += kChunk) {
        pieces_.push_back({r.offset + done, std::min(kChunk, r.length - done)});
      }
    }
    copier_.parallel_for(static_cast<int>(pieces_.size()), 1, [&](int begin, int end) {
      for (int i = begin; i < end; ++i) {
        const ByteRange& piece = pieces_[static_cast<std::size_t>(i)];
        std::memcpy(dst + piece.offset, src + piece.offset, piece.length);
      }
    });
  }

  static memory::PoolOptions own_pool_options() {
    memory::PoolOptions options;
    options.initial_bytes = 0;  // no arena until the first frame: then one of its size
    options.max_bytes = std::size_t{1} << 30;
    options.grow_bytes = 0;  // grow by what is asked
    options.fallback = true;
    return options;
  }

  static void wait_until_free(const Slot& slot) {
    if (slot.recorded) {
      TRTPIPE_CUDA_CHECK(cudaEventSynchronize(slot.done.get()),
                         "waiting for the last kernel that read the staging buffers");
    }
  }
  // After wait_until_free: no queued work uses the block, so it is free for any stream at once
  // (released on the legacy stream, which stays valid whichever stream the frames came on).
  static void give_back(memory::PoolBlock& block) {
    if (block) block.release(memory::StreamId{0});
  }

  std::shared_ptr<memory::PinnedPool> pinned_;
  std::shared_ptr<memory::DevicePool> device_;
  int gpu_;
  Slot slots_[kSlots];
  int current_ = 0;
  WorkerPool copier_{0};  // threads start on the first large frame
  std::vector<ByteRange> pieces_;  // the current copy in chunks, kept for its capacity
};

}  // namespace trtpipe::preprocess
