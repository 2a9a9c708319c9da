acerl_add_bench(tokenizer tokenizer_bench.cpp)
