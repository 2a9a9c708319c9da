// Precompiled header of acerl_core and the tests: the heavy third-party headers only.
// Never include it by hand; CMake forces it into every translation unit.
#pragma once
#include <hdf5.h>
#include <mpi.h>
#include <torch/torch.h>
#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>
