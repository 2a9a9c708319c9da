// defines: the raw Unicode data of the tokenizer (tables::kLetter, kNumber, kWhiteSpace, kWord,
// kNfcUnsafe, kCombiningClass, kDecomposition, kComposition), generated into unicode_tables.cpp
// by tools/gen_unicode_tables.py. Lookups over them live in unicode.h; nothing else reads these.
#pragma once

#include <cstddef>
#include <cstdint>

namespace acerl::tokenizer::tables {

struct Range {  // inclusive code point range, sorted, non-overlapping
  uint32_t lo, hi;
};
struct ClassRange {  // canonical combining class of the code points lo..hi (only non-zero ones)
  uint32_t lo, hi;
  uint8_t ccc;
};
struct Decomposition {  // full canonical decomposition of cp: data[offset .. offset + length)
  uint32_t cp, offset, length;
};
struct Composition {  // primary composite of (first, second); sorted by (first, second)
  uint32_t first, second, composite;
};

extern const char* const kUnicodeVersion;
extern const Range kLetter[];  // General_Category L*
extern const size_t kLetter_size;
extern const Range kNumber[];  // General_Category N*
extern const size_t kNumber_size;
extern const Range kWhiteSpace[];  // White_Space property
extern const size_t kWhiteSpace_size;
extern const Range kWord[];  // \w of Rust's regex: Alphabetic, Mark, Nd, Pc, Join_Control
extern const size_t kWord_size;
extern const Range kNfcUnsafe[];  // may change or affect a neighbour under NFC
extern const size_t kNfcUnsafe_size;
extern const ClassRange kCombiningClass[];
extern const size_t kCombiningClass_size;
extern const Decomposition kDecomposition[];  // sorted by cp; Hangul syllables excluded
extern const size_t kDecomposition_size;
extern const uint32_t kDecompositionData[];
extern const size_t kDecompositionData_size;
extern const Composition kComposition[];
extern const size_t kComposition_size;

}  // namespace acerl::tokenizer::tables
