// CUDA kernel: per-row softmax statistics (max, sum, weighted sum) of logits / T for a grid of
// temperatures, one block per row, each thread striding over the vocabulary and the block
// merging thread partials through shared memory. Math in softmax_stats_math.h.
#include "softmax_stats.h"
#include "softmax_stats_math.h"

namespace acerl::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxTemps = 16;

__global__ void softmax_stats_kernel(const float* __restrict__ logits, int64_t vocab,
                                     const float* __restrict__ inv_temps, int n_temps,
                                     float* out_max, float* out_sum, float* out_wsum) {
  __shared__ SoftmaxStats partial[kThreads];
  const int64_t row = blockIdx.x;
  const float* x = logits + row * vocab;
  for (int t = 0; t < n_temps; ++t) {
    const float inv_t = inv_temps[t];
    SoftmaxStats s;
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) softmax_stats_add(s, x[i] * inv_t);
    partial[threadIdx.x] = s;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
      if (threadIdx.x < stride)
        partial[threadIdx.x] = softmax_stats_merge(partial[threadIdx.x], partial[threadIdx.x + stride]);
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      out_max[row * n_temps + t] = partial[0].max;
      out_sum[row * n_temps + t] = partial[0].sum;
      out_wsum[row * n_temps + t] = partial[0].wsum;
    }
    __syncthreads();
  }
}

}  // namespace

cudaError_t launch_softmax_stats(const float* logits, int64_t rows, int64_t vocab, const float* inv_temps,
                                 int n_temps, float* out_max, float* out_sum, float* out_wsum,
                                 cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (n_temps < 1 || n_temps > kMaxTemps) return cudaErrorInvalidValue;
  softmax_stats_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(logits, vocab, inv_temps, n_temps,
                                                                             out_max, out_sum, out_wsum);
  return cudaGetLastError();
}

}  // namespace acerl::kernels
