// version_report: the versions of acerl and of the libraries it was built against / runs with.
#include "runtime/version.h"

#include <hdf5.h>
#include <mpi.h>
#include <torch/version.h>

#include <string>

#include "runtime/error.h"

namespace acerl {

std::string version_report() {
  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(mpi_version, &length);
  std::string mpi(mpi_version, static_cast<size_t>(length));
  if (auto cut = mpi.find_first_of(",\n"); cut != std::string::npos) mpi.resize(cut);
  unsigned h5_major = 0, h5_minor = 0, h5_release = 0;
  H5get_libversion(&h5_major, &h5_minor, &h5_release);
#ifdef ACERL_WITH_CUDA
  const char* cuda = "on";
#else
  const char* cuda = "off";
#endif
#ifdef ACERL_WITH_NCCL
  const char* nccl = "on";
#else
  const char* nccl = "off";
#endif
  return str("acerl ", project_version(), " (git ", git_hash(), ")\n", "LibTorch ", TORCH_VERSION,
             "\n", "MPI ", mpi, " (standard ", MPI_VERSION, ".", MPI_SUBVERSION, ")\n", "HDF5 ",
             h5_major, ".", h5_minor, ".", h5_release, " (parallel)\n", "CUDA kernels ", cuda,
             ", NCCL ", nccl);
}

}  // namespace acerl
