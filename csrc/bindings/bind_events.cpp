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

bool completed(const TimingEvent& event) {
  const cudaError_t status = cudaEventQuery(event.get());
  if (status == cudaErrorNotReady) return false;
  TRTPIPE_CUDA_CHECK(status, "asking whether a timing event has completed");
  return true;
}

float elapsed_ms(const TimingEvent& start, const TimingEvent& end) {
  float ms = 0.0f;
  TRTPIPE_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), end.get()),
                     "reading the time between two timing events");
  return ms;
}

// A frame's consecutive stages in one call: events recorded on one stream complete in order,
// so the last one completing means every earlier one has.
py::object stage_times(const TimingEvent& start, const TimingEvent& between,
                       const TimingEvent* after) {
  if (!completed(after != nullptr ? *after : between)) return py::none();
  const float first = elapsed_ms(start, between);
  if (after == nullptr) return py::make_tuple(first);
  return py::make_tuple(first, elapsed_ms(between, *after));
}

}  // namespace

void bind_events(py::module_& m) {
  refuse_uninitialised(py::class_<TimingEvent>(m, "TimingEvent",
                          "A CUDA event with timing on GPU `device`: record(stream) with a raw\n"
                          "cudaStream_t, query() (done?), elapsed_time(end) in ms, and\n"
                          "stage_times(between, after) for a frame's stages."))
      .def(py::init(&make_event), py::arg("device") = 0)
      .def(
          "record",
          [](TimingEvent& event, std::uintptr_t stream) {
            TRTPIPE_CUDA_CHECK(cudaEventRecord(event.get(), reinterpret_cast<cudaStream_t>(stream)),
                               "recording a timing event");
          },
          py::arg("stream"))
      .def("query", &completed)
      .def("elapsed_time", &elapsed_ms, py::arg("end"))
      .def("stage_times", &stage_times, py::arg("between"), py::arg("after") = nullptr,
           "(this→between, between→after) in ms, or (this→between,) without `after`; None\n"
           "while the last of them has not completed. All three recorded on one stream.");
}

}  // namespace trtpipe::bindings
