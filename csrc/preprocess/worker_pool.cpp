#include "preprocess/worker_pool.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "common/errors.hpp"

namespace trtpipe::preprocess {

WorkerPool::WorkerPool(int threads) {
  if (threads < 0) {
    throw InputError("threads: expected 0 (one per hardware thread) or more, given " +
                     std::to_string(threads));
  }
  const int hardware = static_cast<int>(std::thread::hardware_concurrency());
  threads_ = threads > 0 ? threads : std::max(hardware, 1);
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void WorkerPool::start_workers() {
  workers_.reserve(static_cast<std::size_t>(threads_ - 1));
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

void WorkerPool::work_on(const std::function<void(int, int)>* job, int count, int grain) {
  if (job == nullptr) return;
  for (;;) {
    const int begin = next_.fetch_add(grain, std::memory_order_relaxed);
    if (begin >= count) return;
    try {
      (*job)(begin, std::min(begin + grain, count));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

void WorkerPool::worker_loop() {
  long seen = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    // Registered under the lock: the caller cannot finish (nor start the next run) until
    // this worker is done with the job it copied here.
    ++active_;
    const auto* job = job_;
    const int count = count_;
    const int grain = grain_;
    lock.unlock();
    work_on(job, count, grain);
    lock.lock();
    if (--active_ == 0) done_.notify_all();
  }
}

void WorkerPool::parallel_for(int count, int grain, const std::function<void(int, int)>& fn) {
  if (count <= 0) return;
  grain = std::max(grain, 1);
  if (threads_ == 1 || count <= grain) {
    fn(0, count);
    return;
  }
  std::lock_guard<std::mutex> run(run_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (workers_.empty()) start_workers();
    job_ = &fn;
    count_ = count;
    grain_ = grain;
    error_ = nullptr;
    next_.store(0, std::memory_order_relaxed);
    ++generation_;
  }
  wake_.notify_all();
  work_on(&fn, count, grain);
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return active_ == 0; });
    job_ = nullptr;
    error = std::exchange(error_, nullptr);
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace trtpipe::preprocess
