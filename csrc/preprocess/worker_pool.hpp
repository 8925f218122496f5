#pragma once
// A small persistent set of threads that split a range of rows with the calling thread. Started
// on first use, so a Preprocessor that never runs on the CPU costs no threads. No CUDA here.
#include <functional>
#include <memory>

namespace trtpipe::preprocess {

class WorkerPool {
 public:
  // `threads`: how many threads share the work, the caller included; 0 means one per core this
  // process may use, at most 8. Throws InputError for a negative count.
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int threads() const noexcept { return threads_; }

  // Calls fn(begin, end) over [0, count) in chunks of `grain` items, on the workers and the
  // calling thread, and returns when every chunk is done (rethrowing the first exception).
  // Calls from several threads take turns. In a child made by fork() the first call starts
  // the child's own workers.
  void parallel_for(int count, int grain, const std::function<void(int, int)>& fn);

 private:
  struct Shared;
  // A forked child inherits the parent's mutexes and condition variables mid-use and none of
  // its threads: it lets go of the whole Shared (never destroying it) and makes its own.
  void leave_if_forked();

  int threads_;
  long owner_pid_;
  std::unique_ptr<Shared> shared_;
};

}  // namespace trtpipe::preprocess
