#pragma once
// TRTPIPE_HD marks a small function compiled for the CUDA kernels and for host code alike, so
// the GPU and the CPU paths share one definition of the maths.
#if defined(__CUDACC__)
#define TRTPIPE_HD __host__ __device__ __forceinline__
#else
#define TRTPIPE_HD inline
#endif
