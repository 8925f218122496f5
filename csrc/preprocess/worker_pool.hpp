#pragma once
// A small persistent set of threads that split a range of rows with the calling thread. Started
// on first use, so a Preprocessor that never runs on the CPU costs no threads. No CUDA here.
#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace trtpipe::preprocess {

class WorkerPool {
 public:
  // `threads`: how many threads share the work, the caller included; 0 means one per hardware
  // thread (std::thread::hardware_concurrency).
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int threads() const noexcept { return threads_; }

  // Calls fn(begin, end) over [0, count) in chunks of `grain` items, on the workers and the
  // calling thread, and returns when every chunk is done (rethrowing the first exception).
  // Calls from several threads take turns.
  void parallel_for(int count, int grain, const std::function<void(int, int)>& fn);

 private:
  void start_workers();
  void worker_loop();
  void work_on(const std::function<void(int, int)>* job, int count, int grain);

  int threads_;
  std::mutex run_mutex_;  // one parallel_for at a time
  std::mutex mutex_;      // guards everything below
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* job_ = nullptr;
  int count_ = 0;
  int grain_ = 1;
  long generation_ = 0;
  int active_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::atomic<int> next_{0};
};

}  // namespace trtpipe::preprocess
