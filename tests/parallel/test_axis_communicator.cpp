// AxisCommunicator on real ranks (mpiexec -n 2): tensors of the device type go to the device
// communicator, the others to the host one, and with no device communicator they are staged
// through the host with the same results. The CPU plays the device here (device type kCPU), so
// the routing and staging code the GPU path uses runs on this machine.
#include "support/catch.h"

#include <torch/torch.h>

#include "parallel/axis_communicator.h"
#include "parallel/communicator.h"

using namespace acerl::parallel;

namespace {

std::unique_ptr<Communicator> dup_world() {
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  return make_mpi_communicator(comm);
}

torch::Tensor contribution(int r) { return torch::arange(6, torch::kFloat32).reshape({2, 3}) + 10 * r; }

// Runs every operation once and checks its result against what each rank can compute.
void exercise(AxisCommunicator& axis) {
  const int rank = axis.rank(), size = axis.size();
  torch::Tensor sum = torch::zeros({2, 3});
  for (int r = 0; r < size; ++r) sum += contribution(r);
  torch::Tensor t = contribution(rank);
  axis.all_reduce(t);
  CHECK(torch::equal(t, sum));
  torch::Tensor a = contribution(rank);
  axis.all_reduce_async(a)->wait();
  CHECK(torch::equal(a, sum));
  torch::Tensor g = axis.all_gather(contribution(rank), 1);
  CHECK(g.size(1) == 3 * size);
  for (int r = 0; r < size; ++r) CHECK(torch::equal(g.narrow(1, 3 * r, 3), contribution(r)));
  torch::Tensor rs = axis.reduce_scatter(torch::ones({2 * size, 3}) * (rank + 1), 0);
  CHECK(torch::equal(rs, torch::ones({2, 3}) * (size * (size + 1) / 2)));
  torch::Tensor b = contribution(rank);
  axis.broadcast(b, size - 1);
  CHECK(torch::equal(b, contribution(size - 1)));
  torch::Tensor c = rank == 0 ? contribution(0) : torch::zeros({2, 3});
  auto posted = axis.broadcast_async(c, 0);
  posted->wait();
  CHECK(torch::equal(c, contribution(0)));
  const int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  torch::Tensor got = torch::empty({2, 3});
  auto in = axis.irecv(got, prev, 7);
  auto out = axis.isend(contribution(rank), next, 7);
  in->wait();
  out->wait();
  CHECK(torch::equal(got, contribution(prev)));
}

}  // namespace

TEST_CASE("an axis routes device tensors to NCCL's place and host tensors to MPI",
          "[parallel-np2]") {
  SECTION("device tensors take the device communicator") {
    auto device = dup_world();
    Communicator* device_ptr = device.get();
    auto host = dup_world();
    Communicator* host_ptr = host.get();
    AxisCommunicator axis(std::move(host), std::move(device), torch::kCPU);
    exercise(axis);
    CHECK(device_ptr->stats().calls > 0);
    CHECK(host_ptr->stats().calls == 0);
    CHECK(axis.stats().calls == device_ptr->stats().calls);
  }
  SECTION("other tensors take the host communicator") {
    auto device = dup_world();
    Communicator* device_ptr = device.get();
    auto host = dup_world();
    Communicator* host_ptr = host.get();
    AxisCommunicator axis(std::move(host), std::move(device), torch::kCUDA);
    exercise(axis);
    CHECK(device_ptr->stats().calls == 0);
    CHECK(host_ptr->stats().calls > 0);
  }
  SECTION("without a device communicator, device tensors are staged through the host") {
    auto host = dup_world();
    Communicator* host_ptr = host.get();
    AxisCommunicator axis(std::move(host), nullptr, torch::kCPU);
    exercise(axis);
    CHECK(host_ptr->stats().calls > 0);
  }
}

TEST_CASE("on an axis of one rank a device tensor's collectives stay on the device", "[parallel]") {
  auto host = make_local_communicator();
  Communicator* host_ptr = host.get();
  AxisCommunicator axis(std::move(host), nullptr, torch::kCPU);  // the CPU plays the device
  torch::Tensor t = contribution(0);
  axis.all_reduce(t, ReduceOp::max);
  CHECK(torch::equal(t, contribution(0)));
  torch::Tensor a = contribution(0);
  axis.all_reduce_async(a)->wait();
  CHECK(torch::equal(a, contribution(0)));
  torch::Tensor g = axis.all_gather(t, 1);
  CHECK(torch::equal(g, t));
  g.fill_(0);  // a new tensor, as with more ranks: the input is untouched
  CHECK(torch::equal(t, contribution(0)));
  CHECK(torch::equal(axis.reduce_scatter(t, 0), t));
  axis.broadcast(t, 0);
  CHECK(torch::equal(t, contribution(0)));
  axis.broadcast_async(t, 0)->wait();
  CHECK(torch::equal(t, contribution(0)));
  CHECK(host_ptr->stats().calls == 0);  // nothing was staged through MPI
}
