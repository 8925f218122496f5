# Finds the TensorRT C++ headers (only headers: the runtime library is loaded at run time).
#
# Searched, in order: TENSORRT_ROOT (CMake or environment variable), the paths NVIDIA's
# Debian packages and JetPack use, /usr/local/TensorRT, and the include folder of a pip
# package that ships the headers (TRTPIPE_TENSORRT_INCLUDE_HINTS, a list of folders).
#
# Defines TensorRT_FOUND, TensorRT_INCLUDE_DIR, TensorRT_VERSION and the target TensorRT::headers.
set(_trt_hints)
if(DEFINED TENSORRT_ROOT)
  list(APPEND _trt_hints "${TENSORRT_ROOT}")
endif()
if(DEFINED ENV{TENSORRT_ROOT})
  list(APPEND _trt_hints "$ENV{TENSORRT_ROOT}")
endif()
list(APPEND _trt_hints ${TRTPIPE_TENSORRT_INCLUDE_HINTS} /usr/local/TensorRT)

find_path(TensorRT_INCLUDE_DIR NvInferVersion.h
  HINTS ${_trt_hints}
  PATH_SUFFIXES include include/tensorrt tensorrt
  PATHS /usr/include/x86_64-linux-gnu /usr/include/aarch64-linux-gnu /usr/include)

if(TensorRT_INCLUDE_DIR AND EXISTS "${TensorRT_INCLUDE_DIR}/NvInferVersion.h")
  file(STRINGS "${TensorRT_INCLUDE_DIR}/NvInferVersion.h" _trt_defs
    REGEX "#define (NV_TENSORRT|TRT)_(MAJOR|MINOR|PATCH)(_ENTERPRISE)? +[0-9]+")
  foreach(_part MAJOR MINOR PATCH)
    string(REGEX MATCH "#define (NV_TENSORRT|TRT)_${_part}(_ENTERPRISE)? +([0-9]+)" _m "${_trt_defs}")
    set(_trt_${_part} "${CMAKE_MATCH_3}")
  endforeach()
  set(TensorRT_VERSION "${_trt_MAJOR}.${_trt_MINOR}.${_trt_PATCH}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(TensorRT
  REQUIRED_VARS TensorRT_INCLUDE_DIR
  VERSION_VAR TensorRT_VERSION)

if(TensorRT_FOUND AND NOT TARGET TensorRT::headers)
  add_library(TensorRT::headers INTERFACE IMPORTED)
  set_target_properties(TensorRT::headers PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${TensorRT_INCLUDE_DIR}")
endif()
mark_as_advanced(TensorRT_INCLUDE_DIR)
