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

namespace {

// The widest shared-prefix document where rows are narrower: rows of 512 cost little attention.
constexpr int64_t kSharedPrefixWidth = 512;

// One packed document: a single rollout (prompt + response), or with a shared prefix the
// rollouts of one prompt: prompt[0, p-1) once, then per rollout a branch [prompt[p-1],
// response] that attends to the prefix and to itself only.
struct Document {
  std::vector<size_t> members;
  int64_t length = 0;
};

// A shared document grows branch by branch while it stays within `max_width` tokens: the
// attention of a packed row is dense (every pair of its columns is computed, masked or not), so
// a wider row would cost more attention than the prompt tokens it saves.
std::vector<Document> documents(const std::vector<Rollout>& rollouts, bool shared_prefix,
                                int64_t max_width) {
  std::vector<Document> out;
  for (size_t i = 0; i < rollouts.size(); ++i) {
    const Rollout& r = rollouts[i];
    const auto p = static_cast<int64_t>(r.prompt_ids.size());
    const auto n = static_cast<int64_t>(r.tokens.size());
    const bool joins = shared_prefix && !out.empty() &&
                       rollouts[out.back().members.front()].prompt == r.prompt &&
                       rollouts[out.back().members.front()].prompt_ids == r.prompt_ids &&
                       out.back().length + 1 + n <= max_width;
    if (!joins) out.push_back({{}, p - 1});  // the prefix; a branch adds 1 + n
    out.back().members.push_back(i);
    out.back().length += 1 + n;
  }
  return out;
}

}  // namespace

data::PackedRows learner_rows(const std::vector<Rollout>& rollouts, int64_t seq_len,
                               bool overlong_filter, int64_t multiple, bool shared_prefix) {
  const std::vector<Document> docs =
      documents(rollouts, shared_prefix, std::max(seq_len, kSharedPrefixWidth));
  // Rows as wide as seq_len, or as the longest document (a group with a shared prefix).
  int64_t width = seq_len;
  for (const Document& d : docs) width = std::max(width, d.length);
  for (const Document& d : docs)
    for (size_t i : d.members) {
      const int64_t n =
          static_cast<int64_t>(rollouts[i].prompt_ids.size() + rollouts[i].tokens.size());
      ACERL_CHECK(n <= seq_len, "a rollout of ", n, " tokens does not fit learner rows of ",
                  seq_len);
    }
  // First-fit decreasing packing of the documents: longest first, each into the first row with
  // room (ties by document index, so the plan depends on the lengths alone). Rows stay in the
  // order they were opened, documents in a row in the order they were placed.
  std::vector<size_t> order(docs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return docs[a].length > docs[b].length; });
  std::vector<std::vector<size_t>> plan;
  std::vector<int64_t> used;
  for (size_t d : order) {
    size_t row = 0;
    while (row < plan.size() && used[row] + docs[d].length > width) ++row;
    if (row == plan.size()) {
      plan.emplace_back();
      used.push_back(0);
    }
    plan[row].push_back(d);
    used[row] += docs[d].length;
  }
  const int64_t rows =
      std::max<int64_t>(1, (static_cast<int64_t>(plan.size()) + multiple - 1) / multiple) *
      multiple;
  data::PackedRows out;
  out.ids = torch::zeros({rows, width}, torch::kInt64);
  out.positions = torch::zeros({rows, width}, torch::kInt64);
  out.doc_ids = torch::full({rows, width}, -1, torch::kInt64);
  out.targets = torch::zeros({rows, width}, torch::kInt64);
  out.weights = torch::zeros({rows, width});
  out.advantages = torch::zeros({rows, width});
  out.rollout_logprobs = torch::zeros({rows, width});
  torch::Tensor segments = torch::zeros({rows, width}, torch::kInt64);
  if (shared_prefix) out.segment_ids = segments;
  auto seg = segments.accessor<int64_t, 2>();
  auto ids = out.ids.accessor<int64_t, 2>(), pos = out.positions.accessor<int64_t, 2>();
  auto doc = out.doc_ids.accessor<int64_t, 2>(), tgt = out.targets.accessor<int64_t, 2>();
  auto w = out.weights.accessor<float, 2>(), adv = out.advantages.accessor<float, 2>();
  auto old = out.rollout_logprobs.accessor<float, 2>();
  for (size_t row = 0; row < plan.size(); ++row) {
    const auto r_ = static_cast<int64_t>(row);
    int64_t at = 0, k = 0;
    for (size_t d : plan[row]) {
      const std::vector<int64_t>& prompt = rollouts[docs[d].members.front()].prompt_ids;
      const auto p = static_cast<int64_t>(prompt.size());
      // The prefix: prompt tokens before the last one, no loss.
      for (int64_t t = 0; t + 1 < p; ++t, ++at) {
        ids[r_][at] = prompt[static_cast<size_t>(t)];
        pos[r_][at] = t;
        doc[r_][at] = k;
        tgt[r_][at] = prompt[static_cast<size_t>(t + 1)];
      }
      // Each branch: the last prompt token, then the response; targets are response tokens.
      int64_t branch = 0;
      for (size_t i : docs[d].members) {
        const Rollout& r = rollouts[i];
        const auto n = static_cast<int64_t>(r.tokens.size());
        const float weight = overlong_filter && r.truncated ? 0.f : 1.f;
        ++branch;
        for (int64_t b = 0; b <= n; ++b, ++at) {
          ids[r_][at] = b == 0 ? prompt.back() : r.tokens[static_cast<size_t>(b - 1)];
          pos[r_][at] = p - 1 + b;
          doc[r_][at] = k;
          seg[r_][at] = branch;
          if (b == n) continue;  // the last token predicts nothing
          tgt[r_][at] = r.tokens[static_cast<size_t>(b)];
          w[r_][at] = weight;
          adv[r_][at] = r.advantage;
          old[r_][at] = r.logprobs[static_cast<size_t>(b)];
        }
      }
      ++k;
    }
  }
  return out;
}

}  // namespace acerl::rl
