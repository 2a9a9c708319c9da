// defines: launch_rmsnorm_forward / launch_rmsnorm_backward, the CUDA launchers of the RMSNorm
// math of rmsnorm_math.h over float32 rows (one block per row).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace acerl::kernels {

// x, y: (rows, d) row-major; w: (d); inv_rms: (rows) out.
cudaError_t launch_rmsnorm_forward(const float* x, const float* w, float* y, float* inv_rms,
                                   int64_t rows, int64_t d, float eps, cudaStream_t stream);
// dx: (rows, d); dw_partial: (rows, d) per-row contributions dy * x * r, summed over rows by the
// caller (a column sum in LibTorch, deterministic).
cudaError_t launch_rmsnorm_backward(const float* x, const float* w, const float* dy,
                                    const float* inv_rms, float* dx, float* dw_partial,
                                    int64_t rows, int64_t d, cudaStream_t stream);

}  // namespace acerl::kernels
