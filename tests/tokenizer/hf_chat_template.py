"""Reference renderings of the chat template by `transformers`, for the chat-template tests.

usage: hf_chat_template.py TOKENIZER_DIR REQUEST_JSON
TOKENIZER_DIR holds tokenizer.json and tokenizer_config.json (its Jinja chat template is used).
The request is a list of {"messages": [{"role", "content"}], "add_generation_prompt": bool};
prints a list of {"text": apply_chat_template(..., tokenize=False),
                  "ids": encode(text, add_special_tokens=False)}.
"""
import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from transformers import AutoTokenizer  # noqa: E402


def main():
    tok = AutoTokenizer.from_pretrained(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        request = json.load(f)
    out = []
    for item in request:
        text = tok.apply_chat_template(item["messages"], tokenize=False,
                                       add_generation_prompt=item["add_generation_prompt"])
        out.append({"text": text, "ids": tok.encode(text, add_special_tokens=False)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
