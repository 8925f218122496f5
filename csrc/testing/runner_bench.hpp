#pragma once
// Times the per-frame loop from C++ (no Python in it), for bench/engine_loop.py.
#include <vector>

#include "engine/engine_runner.hpp"

namespace trtpipe::testing {

using namespace engine;  // the engine interfaces these test doubles implement

// depth == 1: each sample is one frame's submit -> wait -> take, in microseconds.
// depth > 1: `depth` frames are kept in flight and each sample is the time between two
// consecutive finished frames (the steady-state cost of one frame).
std::vector<double> time_frames(EngineRunner& runner, const std::vector<InputView>& inputs,
                                int frames, int warmup, int depth, double timeout_ms);

// Host time of the loop itself: each sample is submit() plus take() of the same frame once it
// has finished (the wait between them is not counted), in microseconds.
std::vector<double> time_host_overhead(EngineRunner& runner, const std::vector<InputView>& inputs,
                                       int frames, int warmup, double timeout_ms);

}  // namespace trtpipe::testing
