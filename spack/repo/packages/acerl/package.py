# Spack package for acerl. Loads in Spack 0.2x (build systems in spack.package) and in Spack 1.x
# (build systems in the spack_repo.builtin package repository).
try:
    from spack_repo.builtin.build_systems.cmake import CMakePackage  # Spack 1.x
except ImportError:
    pass  # Spack 0.x: CMakePackage comes with spack.package below

import glob
import os

from spack.package import *  # noqa: F401,F403


class Acerl(CMakePackage):
    """MPI-native post-training of reasoning language models: SFT, then GRPO with verifiable
    rewards (math answer checking, sandboxed code tests), with the sampling temperature chosen
    from measured entropy. C++17 on LibTorch, MPI and parallel HDF5; no Ray, no torchrun."""

    # acerl is installed from a checkout: `spack develop acerl@=0.1.0` in an environment
    # (the spack.yaml at the top of the checkout does that).
    maintainers("acerl")

    # One variant per ACERL_* CMake option (tests/jobs/batch_tests.py checks the mapping).
    variant("cuda", default=False, description="CUDA kernels and device path (ACERL_WITH_CUDA)")
    variant("nccl", default=False, description="NCCL communicator backend (ACERL_WITH_NCCL)")
    variant("tests", default=True, description="Build the Catch2 test suite (ACERL_BUILD_TESTS)")
    variant("bench", default=True, description="Build the benchmarks (ACERL_BUILD_BENCH)")
    variant("sanitize", default=False, description="AddressSanitizer + UBSan (ACERL_SANITIZE)")
    variant("pch", default=True, description="Precompile the LibTorch headers (ACERL_PCH)")

    conflicts("+nccl", when="~cuda", msg="the NCCL backend needs the CUDA build (+cuda)")

    depends_on("cxx", type="build")
    depends_on("cmake@3.25:", type="build")
    depends_on("mpi")
    depends_on("hdf5@1.10:+mpi")
    depends_on("boost@1.71:+program_options")
    # LibTorch is the libtorch inside the torch Python package: Spack's py-torch, or, at a site
    # that has its own (the pip wheel in a venv, a module), a py-torch external whose prefix is
    # the venv or install root (see the README, "Installing with Spack").
    depends_on("py-torch@2:")
    depends_on("py-torch+cuda", when="+cuda")
    # The code reward runs model-written programs with this interpreter; the tests use it too.
    depends_on("python@3.9:", type=("build", "run"))
    depends_on("catch2@2", type="build", when="+tests")
    depends_on("cuda", when="+cuda")
    depends_on("nccl", when="+nccl")

    def cmake_args(self):
        args = [
            self.define_from_variant("ACERL_WITH_CUDA", "cuda"),
            self.define_from_variant("ACERL_WITH_NCCL", "nccl"),
            self.define_from_variant("ACERL_BUILD_TESTS", "tests"),
            self.define_from_variant("ACERL_BUILD_BENCH", "bench"),
            self.define_from_variant("ACERL_SANITIZE", "sanitize"),
            self.define_from_variant("ACERL_PCH", "pch"),
            self.define("ACERL_PYTHON", self.spec["python"].command.path),
        ]
        # Torch_DIR from the py-torch prefix (Spack's site-packages, or a venv root external).
        torch = self.spec["py-torch"].prefix
        found = glob.glob(os.path.join(torch, "lib*", "python*", "site-packages", "torch",
                                       "share", "cmake", "Torch"))
        if found:
            args.append(self.define("Torch_DIR", found[0]))
        if self.spec.satisfies("+nccl"):
            args.append(self.define("NCCL_HOME", self.spec["nccl"].prefix))
        return args

    def check(self):
        """The unit tests (the slow and MPI ones need more than a build sandbox gives)."""
        with working_dir(self.build_directory):
            ctest("-L", "unit", "--output-on-failure")

    def setup_run_environment(self, env):
        env.set("ACERL_ROOT", self.prefix)
        env.set("ACERL_INPUTS", self.prefix.share.acerl.inputs)
        env.set("ACERL_JOBS", self.prefix.share.acerl.jobs)
