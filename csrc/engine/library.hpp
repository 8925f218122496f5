#pragma once
// Finds and loads a TensorRT runtime library at run time (dlopen), so _core has no link-time
// dependency on TensorRT and one build works with the TensorRT the user has.
//
// Two flavours, each with its own library and search:
//  - TensorRT: the explicit path given, else $TRTPIPE_TENSORRT_LIBRARY, else the full runtime
//    libnvinfer.so.<major>, else the lean runtime libnvinfer_lean.so.<major>, where <major> is
//    the major version of the headers _core was compiled with;
//  - TensorRT-RTX (engines built by TensorRT-RTX run only there): the explicit path given, else
//    $TRTPIPE_TENSORRT_RTX_LIBRARY, else libtensorrt_rtx.so.<major> of the TensorRT-RTX major
//    trtpipe knows (1).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace trtpipe::engine {

enum class RuntimeFlavour { kTensorRT, kTensorRTRTX };

// "tensorrt" / "tensorrt-rtx" (the names Python and the engine sidecars use).
std::string flavour_name(RuntimeFlavour flavour);
// "TensorRT" / "TensorRT-RTX" (in messages).
std::string flavour_title(RuntimeFlavour flavour);
// InputError for any other name.
RuntimeFlavour parse_flavour(const std::string& name);

class TensorRTLibrary {
 public:
  using CreateRuntimeFn = void* (*)(void* logger, std::int32_t version) noexcept;
  using VersionFn = std::int32_t (*)() noexcept;

  // Throws BackendUnavailableError naming every candidate tried, why each failed and what to
  // install; a library of another major version than the one expected counts as not found.
  static std::shared_ptr<TensorRTLibrary> load(const std::string& explicit_path = "",
                                               RuntimeFlavour flavour = RuntimeFlavour::kTensorRT);

  ~TensorRTLibrary();
  TensorRTLibrary(const TensorRTLibrary&) = delete;
  TensorRTLibrary& operator=(const TensorRTLibrary&) = delete;

  RuntimeFlavour flavour() const noexcept { return flavour_; }
  const std::string& path() const noexcept { return path_; }  // as found (name or full path)
  std::int32_t version() const noexcept { return version_; }  // major*10000 + minor*100 + patch
  std::string version_text() const;
  std::string title() const;  // "TensorRT 10.14.1" / "TensorRT-RTX 1.7.1"
  CreateRuntimeFn create_runtime() const noexcept { return create_runtime_; }

  // Names tried when no explicit path and no environment variable is given, in order.
  static std::vector<std::string> default_candidates(
      RuntimeFlavour flavour = RuntimeFlavour::kTensorRT);
  // The environment variable that names the library of `flavour`.
  static const char* environment_variable(RuntimeFlavour flavour) noexcept;
  // The major version a library of `flavour` must have.
  static int expected_major(RuntimeFlavour flavour) noexcept;
  static int compiled_major() noexcept;
  static std::int32_t compiled_version() noexcept;

 private:
  TensorRTLibrary() = default;

  void* handle_ = nullptr;
  RuntimeFlavour flavour_ = RuntimeFlavour::kTensorRT;
  std::string path_;
  std::int32_t version_ = 0;
  CreateRuntimeFn create_runtime_ = nullptr;
};

std::string tensorrt_version_text(std::int32_t version);

}  // namespace trtpipe::engine
