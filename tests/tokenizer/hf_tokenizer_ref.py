"""Reference results of the Hugging Face `tokenizers` library for the tokenizer tests.

usage: hf_tokenizer_ref.py TOKENIZER_JSON REQUEST_JSON
The request is a JSON object with any of these lists; the answer (on stdout) has the same keys:
  encode        [text]  -> [[id]]  encode(text, add_special_tokens=False)
  encode_plain  [text]  -> [[id]]  the same with special tokens not parsed (encode_special_tokens)
  decode        [[id]]  -> [text]  decode(ids, skip_special_tokens=False)
  decode_skip   [[id]]  -> [text]  decode(ids, skip_special_tokens=True)
  nfc           [text]  -> [text]  unicodedata.normalize("NFC", text)
  pre_tokenize  [text]  -> [[piece]]  the pre-tokenizer's pieces of the normalised text
  vocab_size    [any]   -> [int]   get_vocab_size(with_added_tokens=True)
"""
import json
import os
import sys
import unicodedata

os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402


def main():
    tok = Tokenizer.from_file(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        request = json.load(f)
    out = {}
    if "encode" in request:
        out["encode"] = [tok.encode(t, add_special_tokens=False).ids for t in request["encode"]]
    if "encode_plain" in request:
        tok.encode_special_tokens = True
        out["encode_plain"] = [tok.encode(t, add_special_tokens=False).ids
                               for t in request["encode_plain"]]
        tok.encode_special_tokens = False
    if "decode" in request:
        out["decode"] = [tok.decode(ids, skip_special_tokens=False) for ids in request["decode"]]
    if "decode_skip" in request:
        out["decode_skip"] = [tok.decode(ids, skip_special_tokens=True)
                              for ids in request["decode_skip"]]
    if "nfc" in request:
        out["nfc"] = [unicodedata.normalize("NFC", t) for t in request["nfc"]]
    if "pre_tokenize" in request:
        norm = tok.normalizer.normalize_str if tok.normalizer else (lambda t: t)
        out["pre_tokenize"] = [[p for p, _ in tok.pre_tokenizer.pre_tokenize_str(norm(t))]
                               for t in request["pre_tokenize"]]
    if "vocab_size" in request:
        out["vocab_size"] = [tok.get_vocab_size(with_added_tokens=True)]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
