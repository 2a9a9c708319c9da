// `acerl data tokenize`; see data_tokenize.h.
//   text -> ids:  the whole input is one text (one JSON array out), or with --lines every line
//                 (without its "\n") is one text (one array per line).
//   --decode:     the input is one JSON array of ids (the text is written as is), or with --lines
//                 one array per line (each text followed by "\n"): the inverse of the above.
#include "cli/data_tokenize.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "io/json.h"
#include "runtime/error.h"
#include "tokenizer/tokenizer.h"

namespace po = boost::program_options;

namespace acerl::cli {
namespace {

std::string read_input(const po::variables_map& flags, std::string& name) {
  std::ostringstream text;
  if (flags.count("input")) {
    name = flags["input"].as<std::string>();
    std::ifstream in(name, std::ios::binary);
    ACERL_USAGE_CHECK(in, "acerl data tokenize: cannot open --input ", name);
    text << in.rdbuf();
  } else {
    name = "<stdin>";
    text << std::cin.rdbuf();
  }
  return text.str();
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string ids_json(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(ids[i]);
  }
  return out + "]";
}

std::vector<int32_t> parse_ids(std::string_view text, const std::string& where) {
  const json::Value v = json::parse(text, where);
  ACERL_USAGE_CHECK(v.is_array(), where, ": expected a JSON array of token ids, found ",
                    json::Value::type_name(v.type()));
  std::vector<int32_t> ids;
  for (const auto& id : v.as_array()) {
    ACERL_USAGE_CHECK(id.is_int(), where, ": token ids must be integers, found ", json::dump(id));
    ids.push_back(static_cast<int32_t>(id.as_int()));
  }
  return ids;
}

std::string tokenizer_path(const Invocation& inv) {
  if (inv.flags.count("tokenizer")) return inv.flags["tokenizer"].as<std::string>();
  ACERL_USAGE_CHECK(!inv.config.tokenizer.path.empty(),
                    "acerl data tokenize: --tokenizer FILE (a tokenizer.json) is required");
  return inv.config.tokenizer.path;
}

std::string transform(const tokenizer::Tokenizer& tok, const std::string& input,
                      const std::string& name, bool lines, bool decode) {
  std::string out;
  if (!lines) {
    return decode ? tok.decode(parse_ids(input, name)) : ids_json(tok.encode(input)) + "\n";
  }
  const auto all = split_lines(input);
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string where = str(name, ":", i + 1);
    if (!decode) {
      out += ids_json(tok.encode(all[i])) + "\n";
    } else if (!all[i].empty()) {
      out += tok.decode(parse_ids(all[i], where)) + "\n";
    }
  }
  return out;
}

}  // namespace

void add_tokenize_flags(po::options_description& flags) {
  flags.add_options()("tokenizer", po::value<std::string>(),
                      "tokenize: the tokenizer.json (default: [tokenizer] path)")(
      "lines", po::bool_switch(), "tokenize: one text (or id array) per input line")(
      "decode", po::bool_switch(), "tokenize: read JSON arrays of ids, write text");
}

int run_tokenize(MpiRuntime& runtime, Invocation& inv) {
  if (runtime.rank() != 0) return 0;  // a single-process tool
  const auto tok = tokenizer::Tokenizer::from_file(tokenizer_path(inv));
  std::string name;
  const std::string input = read_input(inv.flags, name);
  const std::string output =
      transform(tok, input, name, inv.flags["lines"].as<bool>(), inv.flags["decode"].as<bool>());
  if (inv.flags.count("output")) {
    const std::string path = inv.flags["output"].as<std::string>();
    std::ofstream out(path, std::ios::binary);
    ACERL_USAGE_CHECK(out, "acerl data tokenize: cannot write --output ", path);
    out << output;
  } else {
    std::cout << output << std::flush;
  }
  return 0;
}

}  // namespace acerl::cli
