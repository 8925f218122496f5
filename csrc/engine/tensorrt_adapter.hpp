#pragma once
// EngineModel over a deserialised TensorRT engine. The only file that calls TensorRT's API.
#include <cstddef>
#include <memory>
#include <string>

#include "engine/engine_model.hpp"

namespace trtpipe::engine {

// Deserialises a serialised engine on `device` with the runtime TensorRTLibrary::load(library_path)
// finds. EngineError carries TensorRT's own messages (wrong GPU, wrong TensorRT version, corrupt
// data); BackendUnavailableError when no usable runtime is found.
std::shared_ptr<EngineModel> load_tensorrt_engine(const void* data, std::size_t size,
                                                  const std::string& origin,
                                                  const std::string& library_path, int device);

// Reads the file first, so a missing or empty file is reported before TensorRT is loaded.
std::shared_ptr<EngineModel> load_tensorrt_engine_file(const std::string& path,
                                                       const std::string& library_path,
                                                       int device);

}  // namespace trtpipe::engine
