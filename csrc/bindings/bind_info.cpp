#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/bindings.hpp"
#include "common/build_info.hpp"
#include "common/devices.hpp"
#include "common/self_test.hpp"

namespace py = pybind11;

namespace trtpipe::bindings {

void bind_info(py::module_& m) {
  m.def(
      "build_info",
      [] {
        const BuildInfo& info = build_info();
        py::dict out;
        out["version"] = info.version;
        out["build_type"] = info.build_type;
        out["cxx_compiler"] = info.cxx_compiler;
        out["with_cuda"] = info.with_cuda;
        out["cuda_version"] = info.with_cuda ? py::object(py::str(info.cuda_version)) : py::none();
        out["cuda_architectures"] = info.cuda_architectures;
        out["tensorrt_headers_version"] =
            info.tensorrt_headers_version.empty() ? py::object(py::none())
                                                  : py::object(py::str(info.tensorrt_headers_version));
        out["tensorrt_include_dir"] =
            info.tensorrt_include_dir.empty() ? py::object(py::none())
                                              : py::object(py::str(info.tensorrt_include_dir));
        out["engine_module"] = info.engine_module;
        return out;
      },
      "What this _core was compiled with (fixed at build time).");

  m.def(
      "query_devices",
      [] {
        const DeviceReport report = query_devices();
        py::list gpus;
        for (const GpuInfo& gpu : report.gpus) {
          py::dict entry;
          entry["index"] = gpu.index;
          entry["name"] = gpu.name;
          entry["compute_capability"] = py::make_tuple(gpu.compute_major, gpu.compute_minor);
          entry["total_memory"] = gpu.total_memory;
          entry["multiprocessors"] = gpu.multiprocessors;
          entry["integrated"] = gpu.integrated;
          gpus.append(entry);
        }
        py::dict out;
        out["gpus"] = gpus;
        out["driver_version"] = report.driver_version;
        out["reason"] = report.reason.empty() ? py::object(py::none()) : py::object(py::str(report.reason));
        return out;
      },
      "The GPUs visible now, or the reason there are none. Never raises.");

  m.def(
      "gpu_self_test",
      [](std::int64_t count, int device) {
        std::vector<float> values;
        {
          py::gil_scoped_release release;
          values = gpu_self_test(count, device);
        }
        return py::array_t<float>(static_cast<py::ssize_t>(values.size()), values.data());
      },
      py::arg("count") = 1024, py::arg("device") = 0,
      "Runs a kernel compiled into _core on `device`; returns out[i] = 2*i + 1.");
}

}  // namespace trtpipe::bindings
