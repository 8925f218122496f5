#pragma once
// The GPUs visible to this process right now, or why there are none. Never throws: "no GPU"
// is an answer here, not an error.
#include <cstddef>
#include <string>
#include <vector>

namespace trtpipe {

struct GpuInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  std::size_t total_memory = 0;
  int multiprocessors = 0;
  bool integrated = false;  // shares memory with the CPU (Jetson)
};

struct DeviceReport {
  std::vector<GpuInfo> gpus;
  int driver_version = 0;  // CUDA driver API version, e.g. 13000; 0 when no driver
  std::string reason;      // why gpus is empty; empty when at least one GPU is visible
};

DeviceReport query_devices();

}  // namespace trtpipe
