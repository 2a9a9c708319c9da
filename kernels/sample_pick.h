// defines: launch_sample_pick, the CUDA launcher of the inverse-CDF token pick of
// sample_math.h over rows of scaled logits (one block per row), so sampling never materialises
// the float64 masses and their cumulative sum of the whole vocabulary.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace acerl::kernels {

// z: (rows, n) float32 scaled logits; max, threshold: (rows) float32; uniforms: (rows) float64.
// Out: index (rows) int64, chosen and total (rows) float64.
cudaError_t launch_sample_pick(const float* z, int64_t rows, int64_t n, const float* max,
                               const float* threshold, const double* uniforms, int64_t* index,
                               double* chosen, double* total, cudaStream_t stream);

}  // namespace acerl::kernels
