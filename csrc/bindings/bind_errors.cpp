// Maps the C++ exceptions of common/errors.hpp onto the classes in trtpipe.errors, carrying
// their structured fields as keyword arguments.
#include <pybind11/pybind11.h>

#include "bindings/bindings.hpp"
#include "common/errors.hpp"

namespace py = pybind11;

namespace trtpipe::bindings {
namespace {

void raise_as(const char* class_name, const char* message, const py::dict& fields = py::dict()) {
  try {
    py::object cls = py::module_::import("trtpipe.errors").attr(class_name);
    py::object exc = cls(message, **fields);
    PyErr_SetObject(cls.ptr(), exc.ptr());
  } catch (py::error_already_set& failure) {
    // trtpipe.errors itself is broken; still surface the original message.
    failure.restore();
    PyErr_SetString(PyExc_RuntimeError, message);
  }
}

void translate(std::exception_ptr pending) {
  try {
    if (pending) std::rethrow_exception(pending);
  } catch (const PoolExhaustedError& e) {
    py::dict fields;
    fields["requested"] = e.requested();
    fields["free_bytes"] = e.free_bytes();
    fields["largest_free_block"] = e.largest_free_block();
    raise_as("PoolExhaustedError", e.what(), fields);
  } catch (const NoGpuError& e) {
    py::dict fields;
    fields["call"] = e.call();
    fields["code"] = e.code();
    raise_as("NoGpuError", e.what(), fields);
  } catch (const CudaError& e) {
    py::dict fields;
    fields["call"] = e.call();
    fields["code"] = e.code();
    raise_as("CudaError", e.what(), fields);
  } catch (const InputError& e) {
    raise_as("InputError", e.what());
  } catch (const BackendUnavailableError& e) {
    raise_as("BackendUnavailableError", e.what());
  } catch (const EngineError& e) {
    raise_as("EngineError", e.what());
  } catch (const Error& e) {
    raise_as("TrtpipeError", e.what());
  }
}

}  // namespace

void bind_errors(py::module_& /*m*/) { py::register_exception_translator(&translate); }

}  // namespace trtpipe::bindings
