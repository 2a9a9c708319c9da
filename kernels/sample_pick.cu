// CUDA kernel: the inverse-CDF pick of sample_math.h, one block per row. Each thread sums the
// kept masses of one contiguous chunk of the row (float64); thread 0 scans the chunk sums to
// find the chunk where the running mass passes the target, and that chunk's thread walks it in
// order. The sum is taken chunk-wise rather than strictly left to right, so a pick can differ
// from the CPU's only when the target lies within rounding of a boundary between two tokens.
#include "sample_math.h"
#include "sample_pick.h"

namespace acerl::kernels {
namespace {

constexpr int kThreads = 256;

__global__ void sample_pick_kernel(const float* __restrict__ z, int64_t n,
                                   const float* __restrict__ max,
                                   const float* __restrict__ threshold,
                                   const double* __restrict__ uniforms, int64_t* index,
                                   double* chosen, double* total) {
  __shared__ double partial[kThreads];
  __shared__ double prefix;
  __shared__ double target;
  __shared__ int owner;
  const int64_t row = blockIdx.x;
  const float* zr = z + row * n;
  const float m = max[row], thr = threshold[row];
  const int64_t chunk = (n + kThreads - 1) / kThreads;
  const int64_t begin = threadIdx.x * chunk;
  const int64_t end = begin + chunk < n ? begin + chunk : n;
  double sum = 0;
  for (int64_t i = begin; i < end; ++i) sum += sample_kept_mass(zr[i], m, thr);
  partial[threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    double all = 0;
    for (int t = 0; t < kThreads; ++t) all += partial[t];
    target = sample_target(uniforms[row], all);
    total[row] = all;
    double before = 0;
    owner = kThreads - 1;
    for (int t = 0; t < kThreads; ++t) {
      if (before + partial[t] > target) {
        owner = t;
        break;
      }
      before += partial[t];
    }
    prefix = before;
    // Rounding past the end: the last token, as on the CPU.
    index[row] = n - 1;
    chosen[row] = sample_kept_mass(zr[n - 1], m, thr);
  }
  __syncthreads();
  if (static_cast<int>(threadIdx.x) != owner) return;
  double cum = prefix;
  for (int64_t i = begin; i < end; ++i) {
    const double e = sample_kept_mass(zr[i], m, thr);
    cum += e;
    if (cum > target) {
      index[row] = i;
      chosen[row] = e;
      return;
    }
  }
}

}  // namespace

cudaError_t launch_sample_pick(const float* z, int64_t rows, int64_t n, const float* max,
                               const float* threshold, const double* uniforms, int64_t* index,
                               double* chosen, double* total, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  sample_pick_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
      z, n, max, threshold, uniforms, index, chosen, total);
  return cudaGetLastError();
}

}  // namespace acerl::kernels
