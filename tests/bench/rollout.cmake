acerl_add_bench(rollout rollout_bench.cpp)
