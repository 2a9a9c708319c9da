# Finds every external dependency with find_package and checks the properties acerl relies on
# (parallel HDF5, Catch2 v2). LibTorch comes from the `torch` wheel of the project venv: when
# Torch_DIR is not given, it is asked from ACERL_PYTHON (torch.utils.cmake_prefix_path).

if(NOT Torch_DIR AND ACERL_PYTHON)
  execute_process(
    COMMAND "${ACERL_PYTHON}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
    OUTPUT_VARIABLE _acerl_torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _acerl_torch_rc ERROR_QUIET)
  if(_acerl_torch_rc EQUAL 0)
    list(APPEND CMAKE_PREFIX_PATH "${_acerl_torch_prefix}")
  endif()
endif()
# The CUDA wheel's config probes the toolkit; pin the architectures so it does not guess a dozen.
if(NOT TORCH_CUDA_ARCH_LIST)
  set(TORCH_CUDA_ARCH_LIST "8.0;9.0" CACHE STRING "GPU architectures for kernels/ and LibTorch")
endif()
find_package(Torch 2 REQUIRED)
get_filename_component(ACERL_TORCH_LIBDIR "${TORCH_LIBRARY}" DIRECTORY)

find_package(MPI 3.1 REQUIRED COMPONENTS C CXX)

set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 1.10 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR
    "acerl needs HDF5 built with MPI-IO (parallel). Found a serial HDF5 at ${HDF5_INCLUDE_DIRS}. "
    "On Debian install libhdf5-openmpi-dev; with Spack use hdf5+mpi.")
endif()

find_package(Boost 1.71 REQUIRED COMPONENTS program_options)
find_package(OpenMP REQUIRED COMPONENTS CXX)
# One OpenMP runtime per process: the torch wheel ships its own libgomp.so.1, so our OpenMP code
# links that one rather than the system copy of the same soname.
add_library(acerl_openmp INTERFACE)
target_compile_options(acerl_openmp INTERFACE ${OpenMP_CXX_FLAGS})
if(EXISTS "${ACERL_TORCH_LIBDIR}/libgomp.so.1")
  target_link_libraries(acerl_openmp INTERFACE "${ACERL_TORCH_LIBDIR}/libgomp.so.1")
else()
  target_link_libraries(acerl_openmp INTERFACE OpenMP::OpenMP_CXX)
endif()
if(ACERL_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
endif()

if(ACERL_WITH_CUDA)
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
endif()
if(ACERL_WITH_NCCL)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV NCCL_HOME PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} ENV NCCL_HOME PATH_SUFFIXES lib lib64)
  if(NOT NCCL_INCLUDE_DIR OR NOT NCCL_LIBRARY)
    message(FATAL_ERROR "ACERL_WITH_NCCL=ON but nccl.h / libnccl were not found; set NCCL_HOME")
  endif()
  add_library(acerl::nccl UNKNOWN IMPORTED)
  set_target_properties(acerl::nccl PROPERTIES IMPORTED_LOCATION "${NCCL_LIBRARY}"
                        INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
endif()
