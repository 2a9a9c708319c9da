"""The HF side of acerl's tokenizer benchmark.

  python tokenizer_hf.py corpus OUT.txt
      Writes the English benchmark text: the METADATA (package descriptions) and license files
      of every *.dist-info directory in this interpreter's site-packages, in sorted order, the
      whole set repeated until it reaches 1 MiB. Prints {"bytes": N, "files": N}.
  python tokenizer_hf.py bench TOKENIZER.json TEXT.txt IDS_OUT.bin [REPEATS]
      Encodes with HF `tokenizers` on one thread (TOKENIZERS_PARALLELISM=false), the text as one
      string ("document") and as one string per line through encode_batch ("lines"). Writes the
      document's ids (int32, little-endian) to IDS_OUT.bin and prints the seconds:
      {"document_first_s", "document_s", "lines_s", "tokens"} (medians over REPEATS, default 3).
"""
import array
import glob
import json
import os
import statistics
import sys
import sysconfig
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"


def corpus(out_path):
    site = sysconfig.get_paths()["purelib"]
    files = []
    for info in sorted(glob.glob(os.path.join(site, "*.dist-info"))):
        files.append(os.path.join(info, "METADATA"))
        files += sorted(glob.glob(os.path.join(info, "LICENSE*")))
        files += sorted(glob.glob(os.path.join(info, "licenses", "**", "*"), recursive=True))
    parts = []
    for path in files:
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        try:
            parts.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    text = "\n".join(parts)
    whole = text
    while len(text.encode("utf-8")) < (1 << 20):
        text += "\n" + whole
    with open(out_path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    print(json.dumps({"bytes": len(text.encode("utf-8")), "files": len(parts)}))


def timed(fn, repeats):
    times, result = [], None
    for _ in range(repeats + 1):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times[0], statistics.median(times[1:]), result


def bench(tokenizer_path, text_path, ids_path, repeats):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tokenizer_path)
    with open(text_path, encoding="utf-8", newline="") as f:
        text = f.read()
    lines = text.split("\n")
    first, document, ids = timed(lambda: tok.encode(text, add_special_tokens=False).ids, repeats)
    _, per_line, _ = timed(lambda: tok.encode_batch(lines, add_special_tokens=False), repeats)
    with open(ids_path, "wb") as f:
        array.array("i", ids).tofile(f)
    print(json.dumps({"document_first_s": first, "document_s": document, "lines_s": per_line,
                      "tokens": len(ids)}))


if __name__ == "__main__":
    if sys.argv[1] == "corpus":
        corpus(sys.argv[2])
    else:
        bench(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else 3)
