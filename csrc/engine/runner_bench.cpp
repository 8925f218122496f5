#include "engine/runner_bench.hpp"

#include <chrono>
#include <deque>
#include <string>

#include "common/errors.hpp"

namespace trtpipe::engine {

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

}  // namespace trtpipe::engine
