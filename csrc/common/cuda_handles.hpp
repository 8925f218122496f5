#pragma once
// Move-only owners of CUDA streams, events and executable graphs (RAII), and a guard of the
// current GPU.
#include <cuda_runtime_api.h>

#include <string>
#include <utility>

#include "common/cuda_check.hpp"

namespace trtpipe {

// Makes `device` current for a scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    TRTPIPE_CUDA_CHECK(cudaGetDevice(&previous_), "reading the current device");
    if (previous_ != device) {
      TRTPIPE_CUDA_CHECK(cudaSetDevice(device), "selecting GPU " + std::to_string(device));
      changed_ = true;
    }
  }
  ~DeviceGuard() {
    if (changed_) static_cast<void>(cudaSetDevice(previous_));
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
  bool changed_ = false;
};

// A non-blocking stream: it never synchronises with the legacy default stream.
class Stream {
 public:
  explicit Stream(const std::string& purpose) {
    TRTPIPE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
                       "creating a CUDA stream for " + purpose);
  }
  ~Stream() {
    if (stream_ != nullptr) static_cast<void>(cudaStreamDestroy(stream_));
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}
  Stream& operator=(Stream&& other) noexcept {
    std::swap(stream_, other.stream_);
    return *this;
  }

  cudaStream_t get() const noexcept { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

// An event for ordering and completion only (no timing: cheaper to record and query).
class Event {
 public:
  explicit Event(const std::string& purpose) {
    TRTPIPE_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming),
                       "creating a CUDA event for " + purpose);
  }
  ~Event() {
    if (event_ != nullptr) static_cast<void>(cudaEventDestroy(event_));
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  Event(Event&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}
  Event& operator=(Event&& other) noexcept {
    std::swap(event_, other.event_);
    return *this;
  }

  cudaEvent_t get() const noexcept { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// An event that records a timestamp, for GPU time between two points of a stream. Created on
// the GPU that is current.
class TimingEvent {
 public:
  explicit TimingEvent(const std::string& purpose) {
    TRTPIPE_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDefault),
                       "creating a CUDA timing event for " + purpose);
  }
  ~TimingEvent() {
    if (event_ != nullptr) static_cast<void>(cudaEventDestroy(event_));
  }
  TimingEvent(const TimingEvent&) = delete;
  TimingEvent& operator=(const TimingEvent&) = delete;
  TimingEvent(TimingEvent&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}
  TimingEvent& operator=(TimingEvent&& other) noexcept {
    std::swap(event_, other.event_);
    return *this;
  }

  cudaEvent_t get() const noexcept { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// A captured graph, instantiated and ready to launch.
class GraphExec {
 public:
  GraphExec() = default;
  explicit GraphExec(cudaGraphExec_t exec) noexcept : exec_(exec) {}
  ~GraphExec() { reset(); }
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;
  GraphExec(GraphExec&& other) noexcept : exec_(std::exchange(other.exec_, nullptr)) {}
  GraphExec& operator=(GraphExec&& other) noexcept {
    std::swap(exec_, other.exec_);
    return *this;
  }

  cudaGraphExec_t get() const noexcept { return exec_; }
  explicit operator bool() const noexcept { return exec_ != nullptr; }
  void reset() noexcept {
    if (exec_ != nullptr) static_cast<void>(cudaGraphExecDestroy(exec_));
    exec_ = nullptr;
  }

 private:
  cudaGraphExec_t exec_ = nullptr;
};

// A captured (not yet instantiated) graph.
class Graph {
 public:
  explicit Graph(cudaGraph_t graph) noexcept : graph_(graph) {}
  ~Graph() {
    if (graph_ != nullptr) static_cast<void>(cudaGraphDestroy(graph_));
  }
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  cudaGraph_t get() const noexcept { return graph_; }

 private:
  cudaGraph_t graph_ = nullptr;
};

}  // namespace trtpipe
