#include "preprocess/worker_pool.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/errors.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

namespace trtpipe::preprocess {
namespace {

long process_id() noexcept {
#if defined(__unix__) || defined(__APPLE__)
  return static_cast<long>(::getpid());
#else
  return 0;
#endif
}

using Job = std::function<void(int, int)>;

// Beyond this a frame's rows are too few chunks (and memory bandwidth is the limit anyway).
constexpr int kMaxDefaultThreads = 8;

// The cores this process may run on (its affinity mask, where there is one).
int usable_cores() noexcept {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(CPU_COUNT(&set), 1);
#endif
  return std::max(static_cast<int>(std::thread::hardware_concurrency()), 1);
}

}  // namespace

struct WorkerPool::Shared {
  std::mutex run_mutex;  // one parallel_for at a time
  std::mutex mutex;      // guards everything below
  std::condition_variable wake;
  std::condition_variable done;
  std::vector<std::thread> workers;
  const Job* job = nullptr;
  int count = 0;
  int grain = 1;
  long generation = 0;
  int active = 0;
  bool stop = false;
  std::exception_ptr error;
  std::atomic<int> next{0};

  void work_on(const Job* work, int total, int step) {
    if (work == nullptr) return;
    for (;;) {
      const int begin = next.fetch_add(step, std::memory_order_relaxed);
      if (begin >= total) return;
      try {
        (*work)(begin, std::min(begin + step, total));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
      }
    }
  }

  void worker_loop() {
    long seen = 0;
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      wake.wait(lock, [&] { return stop || generation != seen; });
      if (stop) return;
      seen = generation;
      // Registered under the lock: the caller cannot finish (nor start the next run) until
      // this worker is done with the job it copied here.
      ++active;
      const Job* work = job;
      const int total = count;
      const int step = grain;
      lock.unlock();
      work_on(work, total, step);
      lock.lock();
      if (--active == 0) done.notify_all();
    }
  }
};

WorkerPool::WorkerPool(int threads) : owner_pid_(process_id()), shared_(new Shared) {
  if (threads < 0) {
    throw InputError("threads: expected 0 (one per usable core, at most 8) or more, given " +
                     std::to_string(threads));
  }
  threads_ = threads > 0 ? threads : std::min(usable_cores(), kMaxDefaultThreads);
}

WorkerPool::~WorkerPool() {
  leave_if_forked();
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stop = true;
  }
  shared_->wake.notify_all();
  for (std::thread& worker : shared_->workers) worker.join();
}

void WorkerPool::leave_if_forked() {
  if (owner_pid_ == process_id()) return;
  static_cast<void>(shared_.release());  // the parent's: not ours to unlock, join or free
  shared_.reset(new Shared);
  owner_pid_ = process_id();
}

void WorkerPool::parallel_for(int count, int grain, const std::function<void(int, int)>& fn) {
  if (count <= 0) return;
  grain = std::max(grain, 1);
  if (threads_ == 1 || count <= grain) {
    fn(0, count);
    return;
  }
  leave_if_forked();
  Shared& s = *shared_;
  std::lock_guard<std::mutex> run(s.run_mutex);
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.workers.empty()) {
      s.workers.reserve(static_cast<std::size_t>(threads_ - 1));
      for (int i = 1; i < threads_; ++i) s.workers.emplace_back([&s] { s.worker_loop(); });
    }
    s.job = &fn;
    s.count = count;
    s.grain = grain;
    s.error = nullptr;
    s.next.store(0, std::memory_order_relaxed);
    ++s.generation;
  }
  s.wake.notify_all();
  s.work_on(&fn, count, grain);
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.done.wait(lock, [&] { return s.active == 0; });
    s.job = nullptr;
    error = std::exchange(s.error, nullptr);
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace trtpipe::preprocess
