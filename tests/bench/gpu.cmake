acerl_add_bench(gpu gpu_bench.cpp ARGS --device cuda)
