// defines: sequence packing of documents into fixed-length rows (next-fit, in a seeded
// per-epoch shuffle), and the materialisation of rows into model inputs: positions restart at
// every document, attention stays within a document, the target of a token is the next token
// of its document and its loss weight is that target's loss mask. Rows of an epoch form
// optimizer steps of `global_batch` rows; each data-parallel rank takes a contiguous block.
#pragma once

#include <cstdint>
#include <vector>

#include "data/packed_rows.h"
#include "data/sft_dataset.h"

namespace acerl::data {

using RowPlan = std::vector<int64_t>;  // document indices packed into one row, in order

// The rows of `epoch`: documents shuffled with (seed, epoch), packed next-fit into seq_len.
std::vector<RowPlan> pack_epoch(const std::vector<Document>& docs, int64_t seq_len, uint64_t seed,
                                int64_t epoch);
// Rows in file order (no shuffle), e.g. for held-out evaluation.
std::vector<RowPlan> pack_in_order(const std::vector<Document>& docs, int64_t seq_len);

// Rows [first, first + count) of `plans` as tensors; indices past the end give empty rows
// (padding, zero loss weight), so every step has global_batch rows.
PackedRows materialize(const std::vector<RowPlan>& plans, int64_t first, int64_t count,
                              const std::vector<Document>& docs, int64_t seq_len);

// Optimizer steps per epoch: ceil(rows / global_batch).
int64_t steps_per_epoch(int64_t rows, int64_t global_batch);

}  // namespace acerl::data
