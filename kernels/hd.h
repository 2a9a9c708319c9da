// defines: ACERL_HD, the qualifier of the host+device math functions in kernels/*_math.h:
// __host__ __device__ inline under nvcc, plain inline for the C++ compiler (the CPU tests).
#pragma once

#if defined(__CUDACC__)
#define ACERL_HD __host__ __device__ __forceinline__
#else
#define ACERL_HD inline
#endif
