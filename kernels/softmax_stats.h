// defines: launch_softmax_stats, the CUDA launcher of the one-pass softmax statistics of
// softmax_stats_math.h, for every row of a logits block and every temperature of a grid.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace acerl::kernels {

// logits: (rows, vocab) row-major fp32 on the device; inv_temps: (n_temps) on the device;
// out_max/out_sum/out_wsum: (rows, n_temps). One block per row.
cudaError_t launch_softmax_stats(const float* logits, int64_t rows, int64_t vocab, const float* inv_temps,
                                 int n_temps, float* out_max, float* out_sum, float* out_wsum,
                                 cudaStream_t stream);

}  // namespace acerl::kernels
