"""Trains a small byte-level BPE tokenizer in the Qwen2 format (NFC, the Qwen2 split pattern,
ByteLevel mapping and decoder, the chat special tokens) with the Hugging Face `tokenizers`
library, and writes its tokenizer.json. Used to make the tiny tokenizer shipped in inputs/ and
the ones tests train on their own data.

  python tools/make_tokenizer.py OUT.json VOCAB_SIZE TEXT_FILE [TEXT_FILE ...]
"""
import sys

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
ADDED = ["<think>", "</think>"]


def main():
    out, vocab_size, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train(files, trainer)
    tok.add_tokens(ADDED)
    tok.save(out)
    print(f"{out}: {tok.get_vocab_size()} tokens")


if __name__ == "__main__":
    main()
