# Decides whether _core is built with CUDA.
#   TRTPIPE_CUDA=AUTO (default): use CUDA when a CUDA compiler is found, else build CPU-only.
#   TRTPIPE_CUDA=ON: fail when no CUDA compiler is found.   TRTPIPE_CUDA=OFF: never use CUDA.
set(TRTPIPE_CUDA "AUTO" CACHE STRING "Build _core with CUDA: AUTO, ON or OFF")
set_property(CACHE TRTPIPE_CUDA PROPERTY STRINGS AUTO ON OFF)

set(TRTPIPE_WITH_CUDA OFF)
if(NOT TRTPIPE_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
      set(CMAKE_CUDA_ARCHITECTURES "${TRTPIPE_DEFAULT_CUDA_ARCHITECTURES}")
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(TRTPIPE_WITH_CUDA ON)
    # Static runtime: `import trtpipe` must not need libcudart.so, and must load without a driver.
    set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    message(STATUS "trtpipe: CUDA ${CUDAToolkit_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}")
  elseif(TRTPIPE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "TRTPIPE_CUDA=ON but no CUDA compiler was found (set CUDACXX or put nvcc on PATH)")
  else()
    message(STATUS "trtpipe: no CUDA compiler found; building _core CPU-only")
  endif()
endif()
