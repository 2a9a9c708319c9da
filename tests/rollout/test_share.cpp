// Splitting n items into contiguous shares, and finding an item's share.
#include "support/catch.h"

#include "rollout/rollout_setup.h"

using acerl::rollout::share;
using acerl::rollout::share_owner;

TEST_CASE("share: contiguous parts, the first n % parts one longer; share_owner inverts it",
          "[rollout]") {
  // By hand: 10 items over 4 parts are [0, 3) [3, 6) [6, 8) [8, 10).
  CHECK(share(10, 4, 0) == std::pair<size_t, size_t>{0, 3});
  CHECK(share(10, 4, 1) == std::pair<size_t, size_t>{3, 3});
  CHECK(share(10, 4, 2) == std::pair<size_t, size_t>{6, 2});
  CHECK(share(10, 4, 3) == std::pair<size_t, size_t>{8, 2});
  const std::vector<size_t> owners = {0, 0, 0, 1, 1, 1, 2, 2, 3, 3};
  for (size_t i = 0; i < 10; ++i) CHECK(share_owner(10, 4, i) == owners[i]);
  // Every (n, parts), including fewer items than parts: each item in exactly the share that
  // share_owner names, the shares covering [0, n) in order.
  for (size_t parts = 1; parts <= 6; ++parts) {
    for (size_t n = 0; n <= 20; ++n) {
      size_t next = 0;
      for (size_t r = 0; r < parts; ++r) {
        auto [first, count] = share(n, parts, r);
        CHECK(first == next);
        for (size_t i = first; i < first + count; ++i) CHECK(share_owner(n, parts, i) == r);
        next = first + count;
      }
      CHECK(next == n);
    }
  }
}
