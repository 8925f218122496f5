#pragma once
// The exception hierarchy of _core. bindings/bind_errors.cpp maps each class to the Python
// class of the same name in trtpipe.errors, so C++ and Python callers catch the same types.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace trtpipe {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failed CUDA runtime call; `call` is the source text of the call, `code` the cudaError_t.
class CudaError : public Error {
 public:
  CudaError(const std::string& message, std::string call, int code)
      : Error(message), call_(std::move(call)), code_(code) {}
  const std::string& call() const noexcept { return call_; }
  int code() const noexcept { return code_; }

 private:
  std::string call_;
  int code_;
};

// No usable GPU: no driver, no device, or _core built without CUDA.
class NoGpuError : public CudaError {
 public:
  using CudaError::CudaError;
};

// Bad caller input: wrong shape, encoding, size or dtype. The message names the field,
// what was expected and what was given.
class InputError : public Error {
 public:
  using Error::Error;
};

// InputError's message for a name outside a fixed set:
// "<field>: expected one of <a>, <b>, ..., given '<given>'".
inline std::string unknown_choice_message(const std::string& field,
                                          const std::vector<std::string>& choices,
                                          const std::string& given) {
  std::string names;
  for (const std::string& name : choices) names += (names.empty() ? "" : ", ") + name;
  return field + ": expected one of " + names + ", given '" + given + "'";
}

class PoolExhaustedError : public Error {
 public:
  PoolExhaustedError(const std::string& message, std::size_t requested, std::size_t free_bytes,
                     std::size_t largest_free_block)
      : Error(message),
        requested_(requested),
        free_bytes_(free_bytes),
        largest_free_block_(largest_free_block) {}
  std::size_t requested() const noexcept { return requested_; }
  std::size_t free_bytes() const noexcept { return free_bytes_; }
  std::size_t largest_free_block() const noexcept { return largest_free_block_; }

 private:
  std::size_t requested_;
  std::size_t free_bytes_;
  std::size_t largest_free_block_;
};

// An inference backend (e.g. the TensorRT runtime library) is not installed or cannot be used.
class BackendUnavailableError : public Error {
 public:
  using Error::Error;
};

// Loading, deserialising or running a TensorRT engine failed.
class EngineError : public Error {
 public:
  using Error::Error;
};

}  // namespace trtpipe
