acerl_add_bench(sft sft_bench.cpp)
