// trtpipe._core.TimingEvent: CUDA timing events recorded on a raw stream handle, for the
// per-stage GPU times the monitor reads without waiting. Recording costs one driver call, with
// no stream object to build in Python. Only in CUDA builds.
#include <cuda_runtime_api.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "bindings/bindings.hpp"
#include "bindings/checked_args.hpp"
#include "common/cuda_check.hpp"
#include "common/cuda_handles.hpp"

namespace py = pybind11;

namespace trtpipe::bindings {
namespace {

TimingEvent make_event(int device) {
  DeviceGuard guard(device);
  return TimingEvent("per-stage GPU times on GPU " + std::to_string(device));
}

}  // namespace

void bind_events(py::module_& m) {
  refuse_uninitialised(py::class_<TimingEvent>(m, "TimingEvent",
                          "A CUDA event with timing on GPU `device`: record(stream) with a raw\n"
                          "cudaStream_t, query() (done?), elapsed_time(end) in ms."))
      .def(py::init(&make_event), py::arg("device") = 0)
      .def(
          "record",
          [](TimingEvent& event, std::uintptr_t stream) {
            TRTPIPE_CUDA_CHECK(cudaEventRecord(event.get(), reinterpret_cast<cudaStream_t>(stream)),
                               "recording a timing event");
          },
          py::arg("stream"))
      .def("query",
           [](TimingEvent& event) {
             const cudaError_t status = cudaEventQuery(event.get());
             if (status == cudaErrorNotReady) return false;
             TRTPIPE_CUDA_CHECK(status, "asking whether a timing event has completed");
             return true;
           })
      .def(
          "elapsed_time",
          [](TimingEvent& start, TimingEvent& end) {
            float ms = 0.0f;
            TRTPIPE_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), end.get()),
                               "reading the time between two timing events");
            return ms;
          },
          py::arg("end"));
}

}  // namespace trtpipe::bindings
