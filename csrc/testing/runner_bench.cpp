#include "testing/runner_bench.hpp"

#include <chrono>
#include <deque>
#include <string>

#include "common/errors.hpp"

namespace trtpipe::testing {

std::vector<double> time_frames(EngineRunner& runner, const std::vector<InputView>& inputs,
                                int frames, int warmup, int depth, double timeout_ms) {
  if (frames < 1) throw InputError("frames: expected >= 1, given " + std::to_string(frames));
  if (depth < 1 || depth > runner.options().slots) {
    throw InputError("depth: expected 1.." + std::to_string(runner.options().slots) +
                     " (the runner's slots), given " + std::to_string(depth));
  }
  using Clock = std::chrono::steady_clock;
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(frames));
  std::deque<std::uint64_t> in_flight;
  const int total = warmup + frames;
  auto last = Clock::now();
  for (int submitted = 0, finished = 0; finished < total;) {
    const auto start = Clock::now();
    while (submitted < total && static_cast<int>(in_flight.size()) < depth) {
      in_flight.push_back(runner.submit(inputs));
      ++submitted;
    }
    const std::uint64_t ticket = in_flight.front();
    in_flight.pop_front();
    runner.wait(ticket, timeout_ms);
    static_cast<void>(runner.take(ticket));
    const auto end = Clock::now();
    if (finished++ >= warmup) {
      const auto since = depth == 1 ? start : last;
      samples.push_back(std::chrono::duration<double, std::micro>(end - since).count());
    }
    last = end;
  }
  return samples;
}

std::vector<double> time_host_overhead(EngineRunner& runner, const std::vector<InputView>& inputs,
                                       int frames, int warmup, double timeout_ms) {
  if (frames < 1) throw InputError("frames: expected >= 1, given " + std::to_string(frames));
  using Clock = std::chrono::steady_clock;
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(frames));
  for (int i = 0; i < warmup + frames; ++i) {
    const auto t0 = Clock::now();
    const std::uint64_t ticket = runner.submit(inputs);
    const auto t1 = Clock::now();
    runner.wait(ticket, timeout_ms);
    const auto t2 = Clock::now();
    static_cast<void>(runner.take(ticket));
    const auto t3 = Clock::now();
    if (i >= warmup) {
      samples.push_back(std::chrono::duration<double, std::micro>((t1 - t0) + (t3 - t2)).count());
    }
  }
  return samples;
}

}  // namespace trtpipe::testing
