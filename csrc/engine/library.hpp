#pragma once
// Finds and loads the TensorRT runtime library at run time (dlopen), so _core has no link-time
// dependency on TensorRT and one build works with the TensorRT the user has.
//
// Search order: the explicit path given, else $TRTPIPE_TENSORRT_LIBRARY, else the full runtime
// libnvinfer.so.<major>, else the lean runtime libnvinfer_lean.so.<major>, where <major> is the
// major version of the headers _core was compiled with.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace trtpipe::engine {

class TensorRTLibrary {
 public:
  using CreateRuntimeFn = void* (*)(void* logger, std::int32_t version) noexcept;
  using VersionFn = std::int32_t (*)() noexcept;

  // Throws BackendUnavailableError naming every candidate tried, why each failed and what to
  // install; a library of the wrong major version counts as not found.
  static std::shared_ptr<TensorRTLibrary> load(const std::string& explicit_path = "");

  ~TensorRTLibrary();
  TensorRTLibrary(const TensorRTLibrary&) = delete;
  TensorRTLibrary& operator=(const TensorRTLibrary&) = delete;

  const std::string& path() const noexcept { return path_; }  // as found (name or full path)
  std::int32_t version() const noexcept { return version_; }  // major*10000 + minor*100 + patch
  std::string version_text() const;
  CreateRuntimeFn create_runtime() const noexcept { return create_runtime_; }

  // Names tried when no explicit path is given, in order.
  static std::vector<std::string> default_candidates();
  static int compiled_major() noexcept;
  static std::int32_t compiled_version() noexcept;

 private:
  TensorRTLibrary() = default;

  void* handle_ = nullptr;
  std::string path_;
  std::int32_t version_ = 0;
  CreateRuntimeFn create_runtime_ = nullptr;
};

std::string tensorrt_version_text(std::int32_t version);

}  // namespace trtpipe::engine
