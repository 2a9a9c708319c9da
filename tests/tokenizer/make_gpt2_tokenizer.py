"""Builds Hugging Face tokenizer.json files for GPT-2 from the original encoder.json + vocab.bpe
with the `tokenizers` library, in the variants the tokenizer tests load:

  gpt2_pairs.json    ByteLevel pre-tokenizer (GPT-2 regex inside), merges as ["a", "b"] pairs
  gpt2_strings.json  the same with merges as "a b" strings
  gpt2_split.json    Split(GPT-2 regex) + ByteLevel(use_regex=false), string merges
  gpt2_nested.json   Split(Qwen2 regex) + ByteLevel(use_regex=true): two split steps
  gpt2_added.json    NFC normalizer, ByteLevel with add_prefix_space, and added tokens with
                     lstrip / rstrip / single_word / normalized set

usage: make_gpt2_tokenizer.py GPT2_DIR OUT_DIR
"""
import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

GPT2_PATTERN = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def base(src):
    bpe = models.BPE.from_file(os.path.join(src, "encoder.json"), os.path.join(src, "vocab.bpe"))
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    return tok


def save(tok, path, merges_form):
    doc = json.loads(tok.to_str())
    merges = doc["model"]["merges"]
    pairs = [m.split(" ") if isinstance(m, str) else m for m in merges]
    doc["model"]["merges"] = pairs if merges_form == "pairs" else [" ".join(p) for p in pairs]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    tok = base(src)
    save(tok, os.path.join(out, "gpt2_pairs.json"), "pairs")
    save(tok, os.path.join(out, "gpt2_strings.json"), "strings")

    tok = base(src)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(GPT2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    save(tok, os.path.join(out, "gpt2_split.json"), "strings")

    tok = base(src)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    save(tok, os.path.join(out, "gpt2_nested.json"), "pairs")

    tok = base(src)
    tok.normalizer = normalizers.Sequence([normalizers.NFC()])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.add_tokens([
        AddedToken("<mask>", lstrip=True, rstrip=True, single_word=True, normalized=False),
        AddedToken("caf\u00e9", normalized=True),
        AddedToken("two words", normalized=False),
        AddedToken("\u0120Hi", normalized=False),
    ])
    tok.add_special_tokens([AddedToken("[SEP]", special=True, rstrip=True, normalized=False)])
    save(tok, os.path.join(out, "gpt2_added.json"), "pairs")


if __name__ == "__main__":
    main()
