// Advantages and learner rows of rollouts; see rollout_batch.h.
#include "rl/rollout_batch.h"

#include <algorithm>
#include <numeric>

#include "rl/grpo.h"
#include "runtime/error.h"

namespace acerl::rl {

void write_rollouts(io::ByteWriter& out, const std::vector<Rollout>& rollouts) {
  out.put<uint64_t>(rollouts.size());
  for (const Rollout& r : rollouts) {
    out.put<uint64_t>(r.prompt);
    out.put(r.sample);
    out.put(r.prompt_ids);
    out.put(r.tokens);
    out.put(r.logprobs);
    out.put(r.entropies);
    out.put(r.curve);
    out.put<uint8_t>(r.truncated ? 1 : 0);
    out.put(r.reward);
    out.put(r.reason);
    out.put(r.advantage);
  }
}

std::vector<Rollout> read_rollouts(io::ByteReader& in) {
  std::vector<Rollout> out(in.get<uint64_t>());
  for (Rollout& r : out) {
    r.prompt = in.get<uint64_t>();
    r.sample = in.get<int64_t>();
    r.prompt_ids = in.get_vector<int64_t>();
    r.tokens = in.get_vector<int64_t>();
    r.logprobs = in.get_vector<float>();
    r.entropies = in.get_vector<float>();
    r.curve = in.get_vector<float>();
    r.truncated = in.get<uint8_t>() != 0;
    r.reward = in.get<double>();
    r.reason = in.get_string();
    r.advantage = in.get<float>();
  }
  return out;
}

void assign_advantages(std::vector<Rollout>& rollouts, int64_t group_size, double eps) {
  ACERL_CHECK(rollouts.size() % static_cast<size_t>(group_size) == 0,
              "rollouts do not form groups of ", group_size);
  const int64_t groups = static_cast<int64_t>(rollouts.size()) / group_size;
  if (groups == 0) return;
  torch::Tensor rewards = torch::empty({groups, group_size}, torch::kFloat64);
  auto r = rewards.accessor<double, 2>();
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t i = 0; i < group_size; ++i)
      r[g][i] = rollouts[static_cast<size_t>(g * group_size + i)].reward;
  torch::Tensor a = group_advantages(rewards, eps);
  auto adv = a.accessor<float, 2>();
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t i = 0; i < group_size; ++i)
      rollouts[static_cast<size_t>(g * group_size + i)].advantage = adv[g][i];
}

data::PackedRows learner_rows(const std::vector<Rollout>& rollouts, int64_t seq_len,
                               bool overlong_filter, int64_t multiple) {
  // First-fit decreasing packing of (prompt + response) documents: longest first, each into the
  // first row with room (ties by rollout index, so the plan depends on the lengths alone). Rows
  // stay in the order they were opened, documents in a row in the order they were placed.
  std::vector<size_t> order(rollouts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  auto length = [&](size_t i) {
    return static_cast<int64_t>(rollouts[i].prompt_ids.size() + rollouts[i].tokens.size());
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return length(a) > length(b); });
  std::vector<std::vector<size_t>> plan;
  std::vector<int64_t> used;
  for (size_t i : order) {
    const int64_t n = length(i);
    ACERL_CHECK(n <= seq_len, "a rollout of ", n, " tokens does not fit learner rows of ", seq_len);
    size_t row = 0;
    while (row < plan.size() && used[row] + n > seq_len) ++row;
    if (row == plan.size()) {
      plan.emplace_back();
      used.push_back(0);
    }
    plan[row].push_back(i);
    used[row] += n;
  }
  const int64_t rows =
      std::max<int64_t>(1, (static_cast<int64_t>(plan.size()) + multiple - 1) / multiple) *
      multiple;
  data::PackedRows out;
  out.ids = torch::zeros({rows, seq_len}, torch::kInt64);
  out.positions = torch::zeros({rows, seq_len}, torch::kInt64);
  out.doc_ids = torch::full({rows, seq_len}, -1, torch::kInt64);
  out.targets = torch::zeros({rows, seq_len}, torch::kInt64);
  out.weights = torch::zeros({rows, seq_len});
  out.advantages = torch::zeros({rows, seq_len});
  out.rollout_logprobs = torch::zeros({rows, seq_len});
  auto ids = out.ids.accessor<int64_t, 2>(), pos = out.positions.accessor<int64_t, 2>();
  auto doc = out.doc_ids.accessor<int64_t, 2>(), tgt = out.targets.accessor<int64_t, 2>();
  auto w = out.weights.accessor<float, 2>(), adv = out.advantages.accessor<float, 2>();
  auto old = out.rollout_logprobs.accessor<float, 2>();
  for (size_t row = 0; row < plan.size(); ++row) {
    int64_t at = 0, k = 0;
    for (size_t i : plan[row]) {
      const Rollout& r = rollouts[i];
      const int64_t p = static_cast<int64_t>(r.prompt_ids.size()),
                    n = p + static_cast<int64_t>(r.tokens.size());
      const float weight = overlong_filter && r.truncated ? 0.f : 1.f;
      for (int64_t t = 0; t < n; ++t, ++at) {
        const auto r_ = static_cast<int64_t>(row);
        ids[r_][at] =
            t < p ? r.prompt_ids[static_cast<size_t>(t)] : r.tokens[static_cast<size_t>(t - p)];
        pos[r_][at] = t;
        doc[r_][at] = k;
        if (t + 1 >= n) continue;
        tgt[r_][at] = t + 1 < p ? r.prompt_ids[static_cast<size_t>(t + 1)]
                                : r.tokens[static_cast<size_t>(t + 1 - p)];
        if (t + 1 >= p) {  // the target is a response token
          const auto j = static_cast<size_t>(t + 1 - p);
          w[r_][at] = weight;
          adv[r_][at] = r.advantage;
          old[r_][at] = r.logprobs[j];
        }
      }
      ++k;
    }
  }
  return out;
}

}  // namespace acerl::rl
