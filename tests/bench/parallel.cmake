acerl_add_bench(parallel parallel_bench.cpp)
