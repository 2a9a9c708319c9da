// The MPI communicator on real ranks (run under mpiexec -n 2 and -n 4): every operation, dtype
// and layout of the data, checked against values each rank can compute for every other rank.
#include "support/catch.h"

#include <torch/torch.h>

#include <chrono>
#include <optional>

#include "parallel/communicator.h"
#include "parallel/messages.h"
#include "parallel/process_groups.h"

using namespace acerl::parallel;

namespace {
// What rank r contributes: a (3, 4) tensor that differs per rank.
torch::Tensor contribution(int r) {
  return torch::arange(12, torch::kFloat32).reshape({3, 4}) * (r + 1) + r;
}
}  // namespace

TEST_CASE("collectives and point-to-point agree with values computed per rank",
          "[parallel-np2][parallel-np4]") {
  auto world = make_mpi_communicator(MPI_COMM_WORLD);
  const int rank = world->rank(), size = world->size();
  torch::Tensor expected_sum = torch::zeros({3, 4});
  for (int r = 0; r < size; ++r) expected_sum += contribution(r);

  SECTION("all_reduce sum and max, float32, bfloat16, int64, non-contiguous") {
    torch::Tensor t = contribution(rank);
    world->all_reduce(t);
    CHECK(torch::equal(t, expected_sum));
    torch::Tensor m = contribution(rank);
    world->all_reduce(m, ReduceOp::max);
    CHECK(torch::equal(m, contribution(size - 1)));
    torch::Tensor b = contribution(rank).to(torch::kBFloat16);  // small integers: exact in bf16
    world->all_reduce(b);
    CHECK(torch::equal(b.to(torch::kFloat32), expected_sum));
    torch::Tensor i = contribution(rank).to(torch::kInt64) * (int64_t(1) << 40);
    world->all_reduce(i);
    CHECK(torch::equal(i, expected_sum.to(torch::kInt64) * (int64_t(1) << 40)));
    torch::Tensor base = contribution(rank).t().contiguous();
    torch::Tensor strided = base.t();  // non-contiguous view
    world->all_reduce(strided);
    CHECK(torch::equal(strided, expected_sum));
    torch::Tensor async = contribution(rank);
    auto request = world->all_reduce_async(async);
    request->wait();
    CHECK(torch::equal(async, expected_sum));
  }
  SECTION("all_gather along dim 0 and dim 1, reduce_scatter, broadcast") {
    std::vector<torch::Tensor> parts;
    for (int r = 0; r < size; ++r) parts.push_back(contribution(r));
    CHECK(torch::equal(world->all_gather(contribution(rank), 0), torch::cat(parts, 0)));
    CHECK(torch::equal(world->all_gather(contribution(rank), 1), torch::cat(parts, 1)));
    torch::Tensor wide =
        torch::arange(4 * size, torch::kFloat32).repeat({2, 1}) + rank;  // (2, 4*size)
    torch::Tensor total = torch::zeros_like(wide);
    for (int r = 0; r < size; ++r)
      total += torch::arange(4 * size, torch::kFloat32).repeat({2, 1}) + r;
    CHECK(torch::equal(world->reduce_scatter(wide, 1), total.narrow(1, 4 * rank, 4)));
    torch::Tensor tall = wide.t().contiguous();  // (4*size, 2)
    CHECK(torch::equal(world->reduce_scatter(tall, 0), total.t().narrow(0, 4 * rank, 4)));
    torch::Tensor b = rank == 1 ? contribution(1) : torch::zeros({3, 4});
    world->broadcast(b, 1);
    CHECK(torch::equal(b, contribution(1)));
  }
  SECTION("broadcast_async: the root posts and goes on; several in flight; strided") {
    // The root posts three broadcasts, then tells the others with a message; they post theirs
    // only once they have it (as a learner posts its weights and goes on learning while the
    // rollout ranks are still generating). A broadcast that held the root until the others
    // joined would never let the message go: the others give up after 10 s and fail.
    const int root = size - 1;
    // (The last is 4 MiB: more than MPI sends eagerly, so it cannot be done before the others
    // receive it.)
    const std::vector<torch::Tensor> sent = {
        contribution(root), contribution(root).to(torch::kBFloat16),
        torch::arange(1 << 20, torch::kFloat32) + root};
    std::vector<torch::Tensor> got;
    std::vector<std::unique_ptr<CommRequest>> requests;
    auto post = [&] {
      for (const auto& t : sent) {
        got.push_back(rank == root ? t.clone() : torch::zeros_like(t));
        requests.push_back(world->broadcast_async(got.back(), root));
      }
    };
    const torch::Tensor note = torch::ones({1}, torch::kUInt8);
    if (rank == root) {
      const int64_t before = world->stats().bytes_sent;
      post();
      CHECK(world->stats().bytes_sent - before == (size - 1) * (12 * 4 + 12 * 2 + (1 << 22)));
      for (int r = 0; r < size; ++r)
        if (r != root) requests.push_back(world->isend(note, r, 12));
    } else {
      std::optional<torch::Tensor> heard;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!heard && std::chrono::steady_clock::now() < deadline)
        heard = try_receive_bytes(world->mpi_comm(), root, 12);
      CHECK(heard.has_value());  // the root's broadcasts did not wait for this rank
      post();
      if (!heard) receive_bytes(world->mpi_comm(), root, 12);  // (to leave the world clean)
    }
    for (auto& r : requests) r->wait();
    for (size_t i = 0; i < sent.size(); ++i) CHECK(torch::equal(got[i], sent[i]));
    // A non-contiguous tensor is staged and copied back when the request completes, here by
    // testing alone (test lets MPI progress).
    torch::Tensor base = rank == 0 ? contribution(0).t().contiguous() : torch::zeros({4, 3});
    torch::Tensor strided = base.t();
    auto request = world->broadcast_async(strided, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    bool done = false;
    while (!done && std::chrono::steady_clock::now() < deadline) done = request->test();
    CHECK(done);
    request->wait();
    CHECK(torch::equal(strided, contribution(0)));
  }
  SECTION("send/recv and isend/irecv around a ring") {
    const int next = (rank + 1) % size, prev = (rank + size - 1) % size;
    auto send = world->isend(contribution(rank), next, 7);
    torch::Tensor got = torch::empty({3, 4});
    world->recv(got, prev, 7);
    send->wait();
    CHECK(torch::equal(got, contribution(prev)));
    torch::Tensor back = torch::empty({3, 4}, torch::kBFloat16);
    auto recv = world->irecv(back, next, 8);
    world->send(contribution(rank).to(torch::kBFloat16), prev, 8);
    recv->wait();
    CHECK(torch::equal(back.to(torch::kFloat32), contribution(next)));
  }
  SECTION("byte messages of any length, received whole by a matched probe, by tag") {
    const int next = (rank + 1) % size, prev = (rank + size - 1) % size;
    // Nothing sent yet with tag 9: the non-blocking receive returns at once with nothing.
    CHECK_FALSE(try_receive_bytes(world->mpi_comm(), prev, 9).has_value());
    world->barrier();
    // Two messages of lengths the receiver does not know, on two tags, the second tag first.
    torch::Tensor first = torch::arange(100 + rank, torch::kInt64).to(torch::kUInt8);
    torch::Tensor second = torch::full({3 * (rank + 1)}, rank, torch::kUInt8);
    auto a = world->isend(first, next, 9);
    auto b = world->isend(second, next, 10);
    int tag = -1;
    torch::Tensor got_second = receive_bytes(world->mpi_comm(), prev, 10);
    CHECK(torch::equal(got_second, torch::full({3 * (prev + 1)}, prev, torch::kUInt8)));
    std::optional<torch::Tensor> got_first;
    while (!got_first) got_first = try_receive_bytes(world->mpi_comm(), prev, 9);
    CHECK(torch::equal(*got_first, torch::arange(100 + prev, torch::kInt64).to(torch::kUInt8)));
    auto c = world->isend(second, next, 11);
    torch::Tensor any = receive_bytes(world->mpi_comm(), prev, MPI_ANY_TAG, &tag);
    CHECK(tag == 11);
    CHECK(any.numel() == 3 * (prev + 1));
    a->wait();
    b->wait();
    c->wait();
  }
}

TEST_CASE("process groups follow the documented rank map", "[parallel-np4]") {
  ProcessGroups groups(MPI_COMM_WORLD, {2, 2, 1});
  const int rank = groups.rank();
  CHECK(groups.tp_rank() == rank % 2);
  CHECK(groups.pp_rank() == rank / 2);
  CHECK(groups.dp_rank() == 0);
  CHECK(groups.rank_of(0, groups.pp_rank(), groups.tp_rank()) == rank);
  // The TP group of rank r is {r - r%2, r - r%2 + 1}: a sum over it identifies the pair.
  torch::Tensor t = torch::tensor({double(rank)}, torch::kFloat64);
  groups.tp().all_reduce(t);
  CHECK(t.item<double>() == 2 * (rank - rank % 2) + 1);
  torch::Tensor p = torch::tensor({double(rank)}, torch::kFloat64);
  groups.pp().all_reduce(p);
  CHECK(p.item<double>() == (rank % 2) * 2 + 2);  // {r%2, r%2 + 2}
  ProcessGroups dp_groups(MPI_COMM_WORLD, {1, 2, 2});
  torch::Tensor d = torch::tensor({double(rank)}, torch::kFloat64);
  dp_groups.dp().all_reduce(d);
  CHECK(d.item<double>() == 2 * (rank % 2) + 2);  // dp pairs {r%2, r%2 + 2}
}
