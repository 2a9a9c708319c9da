// CUDA kernels: RMSNorm forward and backward over float32 rows, one block per row, a block
// reduction for the row's sum of squares (forward) and sum of w * dy * x (backward). Math in
// rmsnorm_math.h.
#include "rmsnorm.h"
#include "rmsnorm_math.h"

namespace acerl::kernels {
namespace {

constexpr int kThreads = 256;

// Sum of `v` over the block (every thread gets it).
__device__ float block_sum(float v) {
  __shared__ float partial[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  float total = 0.f;
  for (int i = 0; i < kThreads / 32; ++i) total += partial[i];
  __syncthreads();
  return total;
}

__global__ void rmsnorm_forward_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                       float* __restrict__ y, float* __restrict__ inv_rms,
                                       int64_t d, float eps) {
  const int64_t row = blockIdx.x;
  const float* xr = x + row * d;
  float ss = 0.f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) ss += xr[i] * xr[i];
  const float r = rmsnorm_inv_rms(block_sum(ss), d, eps);
  if (threadIdx.x == 0) inv_rms[row] = r;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
    y[row * d + i] = rmsnorm_forward_element(xr[i], w[i], r);
}

__global__ void rmsnorm_backward_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                        const float* __restrict__ dy,
                                        const float* __restrict__ inv_rms, float* __restrict__ dx,
                                        float* __restrict__ dw_partial, int64_t d) {
  const int64_t row = blockIdx.x;
  const float *xr = x + row * d, *gr = dy + row * d;
  const float r = inv_rms[row];
  float dot = 0.f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) dot += w[i] * gr[i] * xr[i];
  dot = block_sum(dot);
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    dx[row * d + i] = rmsnorm_backward_element(xr[i], w[i], gr[i], r, dot, d);
    dw_partial[row * d + i] = gr[i] * xr[i] * r;
  }
}

}  // namespace

cudaError_t launch_rmsnorm_forward(const float* x, const float* w, float* y, float* inv_rms,
                                   int64_t rows, int64_t d, float eps, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  rmsnorm_forward_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(x, w, y, inv_rms,
                                                                               d, eps);
  return cudaGetLastError();
}

cudaError_t launch_rmsnorm_backward(const float* x, const float* w, const float* dy,
                                    const float* inv_rms, float* dx, float* dw_partial,
                                    int64_t rows, int64_t d, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  rmsnorm_backward_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
      x, w, dy, inv_rms, dx, dw_partial, d);
  return cudaGetLastError();
}

}  // namespace acerl::kernels
