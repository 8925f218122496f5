#pragma once
// Orders work on one stream after the work already queued on another (event record + wait),
// as the DLPack exchange asks when a consumer passes its stream.
#include "memory/upstream.hpp"

namespace trtpipe::memory {

// Streams are CUDA stream handles as integers; 0 and 1 both name the legacy default stream,
// 2 the per-thread default stream.
void order_after(StreamId consumer, StreamId producer, int device);

}  // namespace trtpipe::memory
