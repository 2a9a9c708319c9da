// Bucketed, overlapped data-parallel gradient sync and global grad norm; see grad_sync.h.
#include "parallel/grad_sync.h"

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <cmath>

#include "parallel/sum_squares.h"
#include "runtime/error.h"

namespace acerl::parallel {
namespace {

struct ReadyHook : torch::autograd::PostAccumulateGradHook {
  ReadyHook(GradSync* sync, size_t index) : sync(sync), index(index) {}
  void operator()(const torch::autograd::Variable&) override { sync->on_grad_ready(index); }
  GradSync* sync;
  size_t index;
};

}  // namespace

GradSync::GradSync(const std::vector<torch::Tensor>& params, Communicator& dp, int64_t bucket_bytes)
    : dp_(dp), params_(params), bucket_of_(params.size()) {
  // Reverse order: the last layers' gradients come first in backward.
  int64_t bytes = 0;
  for (size_t k = params.size(); k-- > 0;) {
    const torch::Tensor& p = params[k];
    ACERL_CHECK(p.scalar_type() == params.front().scalar_type(),
                "GradSync needs parameters of one dtype");
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    if (buckets_.empty() || (bytes > 0 && bytes + size > bucket_bytes)) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().params.push_back(k);
    bucket_of_[k] = buckets_.size() - 1;
    bytes += size;
  }
  for (auto& bucket : buckets_) {
    int64_t numel = 0;
    for (size_t k : bucket.params) numel += params_[k].numel();
    bucket.flat =
        torch::zeros({numel}, params_[bucket.params.front()].options().requires_grad(false));
    int64_t offset = 0;
    for (size_t k : bucket.params) {
      torch::Tensor& p = params_[k];
      p.mutable_grad() = bucket.flat.narrow(0, offset, p.numel()).view(p.sizes());
      offset += p.numel();
    }
  }
  for (size_t k = 0; k < params_.size(); ++k)
    torch::autograd::impl::set_post_acc_grad_hooks(params_[k],
                                                   std::make_unique<ReadyHook>(this, k));
}

GradSync::~GradSync() {
  for (auto& p : params_) torch::autograd::impl::set_post_acc_grad_hooks(p, nullptr);
}

void GradSync::arm() {
  armed_ = true;
  next_launch_ = 0;
  started_early_ = 0;
  for (auto& bucket : buckets_) {
    bucket.ready = 0;
    bucket.request.reset();
  }
}

void GradSync::on_grad_ready(size_t index) {
  if (!armed_) return;
  Bucket& bucket = buckets_[bucket_of_[index]];
  if (++bucket.ready == bucket.params.size()) launch_ready_buckets();
  for (size_t b = 0; b < next_launch_; ++b)
    if (buckets_[b].request) buckets_[b].request->test();  // let MPI progress
}

void GradSync::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() &&
         buckets_[next_launch_].ready == buckets_[next_launch_].params.size()) {
    Bucket& bucket = buckets_[next_launch_++];
    bucket.request = dp_.all_reduce_async(bucket.flat);
    ++started_early_;
  }
}

void GradSync::finish() {
  ACERL_CHECK(armed_, "GradSync::finish() without arm()");
  for (; next_launch_ < buckets_.size(); ++next_launch_)
    buckets_[next_launch_].request = dp_.all_reduce_async(buckets_[next_launch_].flat);
  for (auto& bucket : buckets_) bucket.request->wait();
  // The reduction is in the buckets; a gradient that autograd replaced instead of accumulating
  // in place would not see it, so check the views are intact.
  for (size_t k = 0; k < params_.size(); ++k) {
    const torch::Tensor& grad = params_[k].grad();
    ACERL_CHECK(grad.defined() && grad.data_ptr() >= buckets_[bucket_of_[k]].flat.data_ptr() &&
                    static_cast<char*>(grad.data_ptr()) <
                        static_cast<char*>(buckets_[bucket_of_[k]].flat.data_ptr()) +
                            buckets_[bucket_of_[k]].flat.nbytes(),
                "the gradient of a parameter left its data-parallel bucket (was "
                "zero_grad(set_to_none) called?)");
  }
  armed_ = false;
}

void GradSync::zero_grad() {
  for (auto& bucket : buckets_) bucket.flat.zero_();
}

double global_grad_norm(const std::vector<torch::Tensor>& split_params,
                        const std::vector<torch::Tensor>& replicated_params,
                        const ProcessGroups& groups) {
  double local = 0;
  for (const auto& p : split_params)
    if (p.grad().defined()) local += sum_of_squares(p.grad());
  if (groups.tp_rank() == 0)
    for (const auto& p : replicated_params)
      if (p.grad().defined()) local += sum_of_squares(p.grad());
  torch::Tensor total = torch::tensor({local}, torch::kFloat64);
  groups.tp().all_reduce(total);
  groups.pp().all_reduce(total);
  return std::sqrt(total.item<double>());
}

double clip_grad_norm(const std::vector<torch::Tensor>& split_params,
                      const std::vector<torch::Tensor>& replicated_params,
                      const ProcessGroups& groups, double max_norm) {
  const double norm = global_grad_norm(split_params, replicated_params, groups);
  if (max_norm > 0 && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    torch::NoGradGuard no_grad;
    for (const auto* list : {&split_params, &replicated_params})
      for (const auto& p : *list)
        if (p.grad().defined()) p.grad().mul_(scale);
  }
  return norm;
}

}  // namespace acerl::parallel
