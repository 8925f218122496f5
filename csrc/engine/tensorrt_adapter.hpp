#pragma once
// EngineModel over a deserialised TensorRT engine. The only file that calls TensorRT's API.
#include <cstddef>
#include <memory>
#include <string>

#include "engine/engine_model.hpp"
#include "engine/library.hpp"

namespace trtpipe::engine {

// Deserialises a serialised engine on `device`. EngineError carries TensorRT's own messages
// (wrong GPU, wrong TensorRT version, corrupt data); BackendUnavailableError when no runtime.
std::shared_ptr<EngineModel> load_tensorrt_engine(const void* data, std::size_t size,
                                                  const std::string& origin,
                                                  std::shared_ptr<TensorRTLibrary> library,
                                                  int device);

// Reads the file first, so a missing or empty file is reported before TensorRT is loaded.
std::shared_ptr<EngineModel> load_tensorrt_engine_file(const std::string& path,
                                                       const std::string& library_path,
                                                       int device);

}  // namespace trtpipe::engine
