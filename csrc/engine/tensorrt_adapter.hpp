#pragma once
// EngineModel over a deserialised TensorRT engine. The only file that calls TensorRT's API.
#include <cstddef>
#include <memory>
#include <string>

#include "engine/engine_model.hpp"
#include "engine/library.hpp"

namespace trtpipe::engine {

// Deserialises a serialised engine on `device` with the runtime of `flavour` that
// TensorRTLibrary::load(library_path, flavour) finds. EngineError carries the library's own
// messages (wrong GPU, no usable GPU, wrong version, corrupt data); BackendUnavailableError when
// no usable runtime is found, and for a TensorRT-RTX engine once deserialised: this adapter is
// compiled against TensorRT 10 headers, and only deserialisation is laid out alike in both.
std::shared_ptr<EngineModel> load_tensorrt_engine(
    const void* data, std::size_t size, const std::string& origin,
    const std::string& library_path, int device,
    RuntimeFlavour flavour = RuntimeFlavour::kTensorRT);

// Reads the file first, so a missing or empty file is reported before TensorRT is loaded.
std::shared_ptr<EngineModel> load_tensorrt_engine_file(
    const std::string& path, const std::string& library_path, int device,
    RuntimeFlavour flavour = RuntimeFlavour::kTensorRT);

}  // namespace trtpipe::engine
