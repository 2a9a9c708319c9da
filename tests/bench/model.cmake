acerl_add_bench(model model_bench.cpp)
