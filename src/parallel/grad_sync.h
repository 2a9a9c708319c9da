// defines: GradSync, data-parallel gradient averaging in buckets that start during backward,
// and the global gradient norm / clipping over every axis of the layout.
// Each parameter's .grad is a view into a flat bucket, so autograd accumulates straight into
// the buffers MPI reduces (no copies). Buckets follow reverse parameter order (roughly the order
// backward produces gradients); once armed for the last micro-batch of a step, a post-accumulate
// hook launches a bucket's non-blocking all-reduce as soon as its last gradient lands, always
// in bucket order so that every rank issues the same collectives in the same order.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "parallel/communicator.h"
#include "parallel/process_groups.h"

namespace acerl::parallel {

class GradSync {
 public:
  // `params`: this rank's parameters. Gradients are summed over the dp communicator (the loss is
  // normalised by the global token count, so a sum is the right reduction).
  GradSync(const std::vector<torch::Tensor>& params, Communicator& dp,
           int64_t bucket_bytes = int64_t(25) << 20);
  ~GradSync();
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  // Call before the backward pass of a step's last micro-batch.
  void arm();
  // After the last backward: launches what the hooks did not and waits for every bucket.
  void finish();
  // Zeros every gradient in place (the views into the buckets must stay).
  void zero_grad();
  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }
  // Buckets whose reduction had started before finish() in the last step (overlap evidence).
  int64_t buckets_started_early() const { return started_early_; }

  void on_grad_ready(size_t param_index);  // called by the hooks

 private:
  struct Bucket {
    torch::Tensor flat;
    std::vector<size_t> params;
    size_t ready = 0;
    std::unique_ptr<CommRequest> request;
  };
  void launch_ready_buckets();

  Communicator& dp_;
  std::vector<torch::Tensor> params_;
  std::vector<size_t> bucket_of_;
  std::vector<Bucket> buckets_;
  size_t next_launch_ = 0;
  bool armed_ = false;
  int64_t started_early_ = 0;
};

// sqrt of the sum of squared gradients of the whole model: split parameters summed over TP and
// PP, replicated ones counted once (TP rank 0), DP replicas not double-counted.
double global_grad_norm(const std::vector<torch::Tensor>& split_params,
                        const std::vector<torch::Tensor>& replicated_params,
                        const ProcessGroups& groups);
// Scales every gradient by max_norm / norm when norm > max_norm; returns the norm before.
double clip_grad_norm(const std::vector<torch::Tensor>& split_params,
                      const std::vector<torch::Tensor>& replicated_params,
                      const ProcessGroups& groups, double max_norm);

}  // namespace acerl::parallel
