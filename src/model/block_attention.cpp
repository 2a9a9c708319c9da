// The blocked CPU training attention; see block_attention.h.
//
// For row b and the query block [a, a + n) whose keys begin at column kb (L = a + n - kb
// columns), with the G query heads of each KV head stacked as G * n rows of one matrix:
//   forward   S = (q scale) k^T, masked; P = softmax(S); O = P v
//   backward  P again (only q, k and v are saved); dv += P^T dO; dS = P (dO v^T - rowsum(..P));
//             dq = scale dS k; dk += dS^T (q scale)
// Each step is one batched matmul over the KV heads (or an elementwise op), so LibTorch's BLAS
// and its intra-op threads do the work. The blocks run in order and dk, dv accumulate in that
// order, so the result does not depend on timing.
#include "model/block_attention.h"

#include <ATen/record_function.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/error.h"

namespace acerl::model {

namespace {

int64_t block_for(int64_t longest_document) { return longest_document <= 1024 ? 64 : 32; }

}  // namespace

BlockLayout block_layout(int64_t B, int64_t T, const torch::Tensor& doc_ids,
                         const torch::Tensor& segment_ids, int64_t block) {
  ACERL_CHECK(block >= 0, "block_layout: block must be positive (or 0: chosen), got ", block);
  BlockLayout layout;
  if (!doc_ids.defined()) {  // causal rows: every block starts at column 0
    layout.block = block > 0 ? block : block_for(T);
    layout.key_begin = torch::zeros({B, (T + layout.block - 1) / layout.block}, torch::kInt64);
    return layout;
  }
  ACERL_CHECK(doc_ids.sizes() == torch::IntArrayRef({B, T}), "block_layout: doc_ids must be (", B,
              ", ", T, "), got ", doc_ids.sizes());
  layout.doc_ids = doc_ids.to(torch::kCPU, torch::kInt64).contiguous();
  if (segment_ids.defined()) {
    ACERL_CHECK(segment_ids.sizes() == doc_ids.sizes(),
                "block_layout: segment_ids must be shaped like doc_ids, got ", segment_ids.sizes());
    layout.segment_ids = segment_ids.to(torch::kCPU, torch::kInt64).contiguous();
  }
  // A query's earliest visible key is the first token of its document (ids need not be
  // contiguous runs); padding sees only itself.
  auto doc = layout.doc_ids.accessor<int64_t, 2>();
  std::vector<int64_t> start(B * T);
  int64_t longest = 1;
  std::unordered_map<int64_t, int64_t> first;
  for (int64_t b = 0; b < B; ++b) {
    first.clear();
    for (int64_t t = 0; t < T; ++t) {
      const int64_t id = doc[b][t];
      start[b * T + t] = id < 0 ? t : first.emplace(id, t).first->second;
      longest = std::max(longest, t - start[b * T + t] + 1);
    }
  }
  layout.block = block > 0 ? block : block_for(longest);
  const int64_t n_blocks = (T + layout.block - 1) / layout.block;
  layout.key_begin = torch::empty({B, n_blocks}, torch::kInt64);
  auto begin = layout.key_begin.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < n_blocks; ++i) {
      const int64_t a = i * layout.block, e = std::min(T, a + layout.block);
      begin[b][i] = *std::min_element(start.begin() + b * T + a, start.begin() + b * T + e);
    }
  return layout;
}

bool block_attention_applies(const torch::Tensor& q) {
  const auto type = q.scalar_type();
  return q.device().is_cpu() &&
         (type == torch::kFloat32 || type == torch::kFloat64 || type == torch::kBFloat16);
}

namespace {

struct Geometry {
  int64_t B, KV, G, T, hd, block;
  double scale;
  torch::ScalarType acc;  // the dtype the attention is computed in
};

Geometry geometry(const torch::Tensor& q, const torch::Tensor& k, int64_t block) {
  Geometry g;
  g.B = q.size(0);
  g.KV = k.size(1);
  g.G = q.size(1) / g.KV;
  g.T = q.size(2);
  g.hd = q.size(3);
  g.block = block;
  g.scale = 1.0 / std::sqrt(static_cast<double>(g.hd));
  g.acc = q.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  return g;
}

// One query block of one row.
struct Block {
  int64_t b, a, n, kb, L;
};

// Sets the scores the block's queries may not see to -inf. S: (KV, G * n, L).
void mask_scores(torch::Tensor& S, const Geometry& g, const BlockLayout& layout, const Block& blk) {
  auto index = torch::TensorOptions().dtype(torch::kInt64);
  torch::Tensor S4 = S.view({g.KV, g.G, blk.n, blk.L});
  if (!layout.doc_ids.defined()) {
    // Causal rows: keys before the block are all visible; only the square on the diagonal
    // (columns a .. a + n) is masked above its diagonal.
    torch::Tensor future = torch::ones({blk.n, blk.n}, index.dtype(torch::kBool)).triu(1);
    S4.narrow(3, blk.a - blk.kb, blk.n)
        .masked_fill_(future, -std::numeric_limits<double>::infinity());
    return;
  }
  torch::Tensor row_pos = torch::arange(blk.a, blk.a + blk.n, index).unsqueeze(1);    // (n, 1)
  torch::Tensor col_pos = torch::arange(blk.kb, blk.kb + blk.L, index).unsqueeze(0);  // (1, L)
  torch::Tensor doc = layout.doc_ids[blk.b];
  torch::Tensor row_doc = doc.narrow(0, blk.a, blk.n).unsqueeze(1);
  torch::Tensor col_doc = doc.narrow(0, blk.kb, blk.L).unsqueeze(0);
  torch::Tensor allowed = (row_doc == col_doc) & (col_pos <= row_pos) & (row_doc >= 0);
  if (layout.segment_ids.defined()) {
    torch::Tensor seg = layout.segment_ids[blk.b];
    torch::Tensor row_seg = seg.narrow(0, blk.a, blk.n).unsqueeze(1);
    torch::Tensor col_seg = seg.narrow(0, blk.kb, blk.L).unsqueeze(0);
    allowed &= (col_seg == 0) | (row_seg == col_seg);
  }
  allowed |= col_pos == row_pos;
  S4.masked_fill_(allowed.logical_not(), -std::numeric_limits<double>::infinity());
}

// (KV, G, T, hd)-shaped rows of `t` (B, H, T, hd) narrowed to the block, as (KV, G * n, hd) in
// the accumulation dtype.
torch::Tensor block_rows(const torch::Tensor& t, const Geometry& g, const Block& blk) {
  return t[blk.b]
      .view({g.KV, g.G, g.T, g.hd})
      .narrow(2, blk.a, blk.n)
      .to(g.acc)
      .contiguous()
      .view({g.KV, g.G * blk.n, g.hd});
}

// The block's queries, scaled.
torch::Tensor block_queries(const torch::Tensor& q, const Geometry& g, const Block& blk) {
  return block_rows(q, g, blk).mul_(g.scale);
}

// P = softmax of the block's masked scores, (KV, G * n, L).
torch::Tensor probabilities(const torch::Tensor& Qs, const torch::Tensor& K, const Geometry& g,
                            const BlockLayout& layout, const Block& blk) {
  torch::Tensor S = torch::bmm(Qs, K.transpose(1, 2));
  mask_scores(S, g, layout, blk);
  return at::_softmax(S, -1, false);
}

template <typename F>
void for_each_block(const Geometry& g, const BlockLayout& layout, F&& f) {
  auto begin = layout.key_begin.accessor<int64_t, 2>();
  for (int64_t b = 0; b < g.B; ++b)
    for (int64_t a = 0, i = 0; a < g.T; a += g.block, ++i) {
      const int64_t n = std::min(g.block, g.T - a), kb = begin[b][i];
      f(Block{b, a, n, kb, a + n - kb});
    }
}

// The row's keys and values in the accumulation dtype, (KV, T, hd), converted once per row.
struct RowKeys {
  int64_t row = -1;
  torch::Tensor K, V;
  void load(const torch::Tensor& k, const torch::Tensor& v, const Geometry& g, int64_t b) {
    if (b == row) return;
    row = b;
    K = k[b].to(g.acc).contiguous();
    V = v[b].to(g.acc).contiguous();
  }
};

class BlockAttentionFunction : public torch::autograd::Function<BlockAttentionFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q,
                               const torch::Tensor& k, const torch::Tensor& v,
                               const BlockLayout& layout) {
    RECORD_FUNCTION("acerl::block_attention", std::vector<c10::IValue>{});
    const Geometry g = geometry(q, k, layout.block);
    torch::Tensor out = torch::empty({g.B, g.KV, g.G, g.T, g.hd}, q.options().dtype(g.acc));
    RowKeys keys;
    for_each_block(g, layout, [&](const Block& blk) {
      keys.load(k, v, g, blk.b);
      torch::Tensor P =
          probabilities(block_queries(q, g, blk), keys.K.narrow(1, blk.kb, blk.L), g, layout, blk);
      torch::Tensor O = torch::bmm(P, keys.V.narrow(1, blk.kb, blk.L));  // (KV, G * n, hd)
      out[blk.b].narrow(2, blk.a, blk.n).copy_(O.view({g.KV, g.G, blk.n, g.hd}));
    });
    ctx->save_for_backward({q, k, v});
    // (the layout's integer tensors are no inputs of the graph; undefined ones stay unsaved)
    if (layout.doc_ids.defined()) ctx->saved_data["doc_ids"] = layout.doc_ids;
    if (layout.segment_ids.defined()) ctx->saved_data["segment_ids"] = layout.segment_ids;
    ctx->saved_data["key_begin"] = layout.key_begin;
    ctx->saved_data["block"] = layout.block;
    return out.view({g.B, g.KV * g.G, g.T, g.hd}).to(q.scalar_type());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    RECORD_FUNCTION("acerl::block_attention_backward", std::vector<c10::IValue>{});
    auto saved = ctx->get_saved_variables();
    const torch::Tensor &q = saved[0], &k = saved[1], &v = saved[2];
    auto saved_tensor = [&](const std::string& key) {
      auto it = ctx->saved_data.find(key);
      return it == ctx->saved_data.end() ? torch::Tensor() : it->second.toTensor();
    };
    const BlockLayout layout{saved_tensor("doc_ids"), saved_tensor("segment_ids"),
                             saved_tensor("key_begin"), ctx->saved_data["block"].toInt()};
    const Geometry g = geometry(q, k, layout.block);
    const torch::Tensor dout = grads[0];
    torch::Tensor dq = torch::empty({g.B, g.KV, g.G, g.T, g.hd}, q.options().dtype(g.acc));
    torch::Tensor dk = torch::zeros({g.B, g.KV, g.T, g.hd}, q.options().dtype(g.acc));
    torch::Tensor dv = torch::zeros({g.B, g.KV, g.T, g.hd}, q.options().dtype(g.acc));
    RowKeys keys;
    for_each_block(g, layout, [&](const Block& blk) {
      keys.load(k, v, g, blk.b);
      torch::Tensor Kb = keys.K.narrow(1, blk.kb, blk.L), Vb = keys.V.narrow(1, blk.kb, blk.L);
      torch::Tensor Qs = block_queries(q, g, blk);
      torch::Tensor dO = block_rows(dout, g, blk);
      torch::Tensor P = probabilities(Qs, Kb, g, layout, blk);
      dv[blk.b].narrow(1, blk.kb, blk.L).add_(torch::bmm(P.transpose(1, 2), dO));
      torch::Tensor dS =
          at::_softmax_backward_data(torch::bmm(dO, Vb.transpose(1, 2)), P, -1, g.acc);
      dq[blk.b]
          .narrow(2, blk.a, blk.n)
          .copy_(torch::bmm(dS, Kb).mul_(g.scale).view({g.KV, g.G, blk.n, g.hd}));
      dk[blk.b].narrow(1, blk.kb, blk.L).add_(torch::bmm(dS.transpose(1, 2), Qs));
    });
    return {dq.view({g.B, g.KV * g.G, g.T, g.hd}).to(q.scalar_type()), dk.to(k.scalar_type()),
            dv.to(v.scalar_type()), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor block_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const BlockLayout& layout) {
  ACERL_CHECK(block_attention_applies(q),
              "block_attention: CPU float32, float64 or bfloat16 "
              "queries only, got ",
              q.scalar_type(), " on ", q.device());
  ACERL_CHECK(q.dim() == 4 && k.dim() == 4 && v.sizes() == k.sizes() && q.size(0) == k.size(0) &&
                  q.size(2) == k.size(2) && q.size(3) == k.size(3) && k.size(1) > 0 &&
                  q.size(1) % k.size(1) == 0,
              "block_attention: q (B, H, T, hd) and k, v (B, KV, T, hd) with KV dividing H, got ",
              q.sizes(), ", ", k.sizes(), ", ", v.sizes());
  ACERL_CHECK(layout.block > 0 && layout.key_begin.dim() == 2 &&
                  layout.key_begin.size(0) == q.size(0) &&
                  layout.key_begin.size(1) == (q.size(2) + layout.block - 1) / layout.block,
              "block_attention: the layout was built for another (B, T)");
  return BlockAttentionFunction::apply(q, k, v, layout);
}

}  // namespace acerl::model
