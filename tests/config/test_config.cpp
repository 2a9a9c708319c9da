// Config: INI syntax, typing through Boost.Program_options, precedence, every kind of error
// (each must name where, which key, which value and what would be valid), resolved round trip.
#include "support/catch.h"

#include "config/ini.h"
#include "config/rl_sections.h"
#include "config/schema.h"
#include "config/sections.h"
#include "runtime/error.h"

using namespace acerl::config;
using Catch::Matchers::Contains;

namespace {

struct Sample {
  int64_t steps = 100;
  int workers = 4;
  double lr = 1e-6;
  bool bf16 = true;
  std::string mode = "fast";
  std::string prompt = "think";
  std::string data;
  DoubleList temps{{0.6, 1.0}};
};

void describe(Schema& s, Sample& c) {
  s.section("train", "training");
  s.add("steps", &c.steps, "optimizer steps").min(1);
  s.add("workers", &c.workers, "workers").range(1, 64);
  s.add("lr", &c.lr, "learning rate").min(0, true);
  s.add("bf16", &c.bf16, "bf16 autocast");
  s.add("mode", &c.mode, "mode").choices({"fast", "exact"});
  s.section("data", "data");
  s.add("prompt", &c.prompt, "system prompt");
  s.add("path", &c.data, "JSONL file").required();
  s.add("temps", &c.temps, "temperatures");
}

std::string load_error(const std::string& ini, std::vector<ConfigEntry> overrides = {}) {
  Sample c;
  Schema s;
  describe(s, c);
  auto entries = overrides;
  auto file = parse_ini_text(ini, "run.ini");
  entries.insert(entries.end(), file.begin(), file.end());
  try {
    s.load(entries);
  } catch (const acerl::UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("INI syntax: sections, comments, quotes, escapes, origins", "[config]") {
  auto entries = parse_ini_text(
      "# comment\n"
      "[train]\n"
      "steps = 5   # inline comment\n"
      "; another comment\n"
      "[data]\n"
      "prompt = \"a # not a comment\\n second line\"\n"
      "path=x.jsonl\n"
      "[stage.math_8k]   # a comment after a header\n"
      "lr = 1e-6\n",
      "f.ini");
  REQUIRE(entries.size() == 4);
  CHECK(entries[0].key == "train.steps");
  CHECK(entries[0].value == "5");
  CHECK(entries[0].origin == "f.ini:3");
  CHECK(entries[1].value == "a # not a comment\n second line");
  CHECK(entries[2].key == "data.path");
  CHECK(entries[2].value == "x.jsonl");
  CHECK(entries[3].key == "stage.math_8k.lr");
  CHECK(entries[3].origin == "f.ini:9");
}

TEST_CASE("INI syntax errors name the file and line", "[config]") {
  CHECK_THROWS_WITH(parse_ini_text("[train]\nsteps 5\n", "f.ini"),
                    Contains("f.ini:2") && Contains("expected 'key = value'"));
  CHECK_THROWS_WITH(parse_ini_text("steps = 5\n", "f.ini"),
                    Contains("f.ini:1") && Contains("before any [section]"));
  CHECK_THROWS_WITH(parse_ini_text("[train\n", "f.ini"), Contains("f.ini:1") && Contains("']'"));
  CHECK_THROWS_WITH(parse_ini_text("[train] steps = 5\n", "f.ini"),
                    Contains("f.ini:1: unexpected 'steps = 5' after the section header"));
  CHECK_THROWS_WITH(parse_ini_text("[train]\nsteps = 1\n\nsteps = 2\n", "f.ini"),
                    Contains("f.ini:4") && Contains("already set on line 2"));
  CHECK_THROWS_WITH(parse_ini_text("[data]\nprompt = \"open\n", "f.ini"),
                    Contains("f.ini:2") && Contains("closing"));
  CHECK_THROWS_WITH(read_ini("/nonexistent/acerl.ini"), Contains("/nonexistent/acerl.ini"));
}

TEST_CASE("values are typed, defaults kept, command line beats the file", "[config]") {
  Sample c;
  Schema s;
  describe(s, c);
  auto entries = std::vector<ConfigEntry>{parse_override("--train.steps=7")};
  auto file = parse_ini_text(
      "[train]\nsteps = 3\nlr = 2.5e-5\nbf16 = off\nmode = exact\n"
      "[data]\npath = d.jsonl\ntemps = 0.6, 0.85,1.0\n",
      "f.ini");
  entries.insert(entries.end(), file.begin(), file.end());
  s.load(entries);
  CHECK(c.steps == 7);
  CHECK(s.origin("train.steps") == "command line");
  CHECK(c.lr == 2.5e-5);
  CHECK(s.origin("train.lr") == "f.ini:3");
  CHECK_FALSE(c.bf16);
  CHECK(c.mode == "exact");
  CHECK(c.workers == 4);
  CHECK(s.origin("train.workers") == "default");
  CHECK(c.temps.values == std::vector<double>{0.6, 0.85, 1.0});
}

TEST_CASE("an unknown key is an error with the nearest valid key", "[config]") {
  std::string e = load_error("[data]\npath = d\n[train]\nstpes = 3\n");
  CHECK_THAT(e, Contains("run.ini:4") && Contains("unknown key 'train.stpes'") &&
                    Contains("did you mean 'train.steps'"));
  // Right name in the wrong section.
  e = load_error("[data]\npath = d\nworkers = 3\n");
  CHECK_THAT(e, Contains("run.ini:3") && Contains("'data.workers'") && Contains("train.workers"));
  // Nothing close: point at --help.
  e = load_error("[data]\npath = d\n[zzz]\nqqqqqqqq = 1\n");
  CHECK_THAT(e, Contains("unknown key 'zzz.qqqqqqqq'") && Contains("--help"));
  // Overrides are checked too.
  e = load_error("[data]\npath = d\n", {parse_override("--train.step=4")});
  CHECK_THAT(e, Contains("command line") && Contains("did you mean 'train.steps'"));
}

TEST_CASE("a value of the wrong type names file, line, key, value and the type", "[config]") {
  CHECK_THAT(load_error("[data]\npath = d\n[train]\nsteps = ten\n"),
             Contains("run.ini:4") && Contains("train.steps = 'ten'") && Contains("an integer"));
  CHECK_THAT(load_error("[data]\npath = d\n[train]\nsteps = 1.5\n"), Contains("an integer"));
  CHECK_THAT(load_error("[data]\npath = d\n[train]\nlr = fast\n"),
             Contains("train.lr = 'fast'") && Contains("a number"));
  CHECK_THAT(load_error("[data]\npath = d\n[train]\nbf16 = maybe\n"), Contains("a boolean"));
  CHECK_THAT(load_error("[data]\npath = d\ntemps = 0.6, x\n"),
             Contains("run.ini:3") && Contains("comma-separated list of numbers"));
}

TEST_CASE("an out-of-range value names the key, the value and the valid range", "[config]") {
  CHECK_THAT(load_error("[data]\npath = d\n[train]\nsteps = 0\n"),
             Contains("run.ini:4") && Contains("train.steps = 0") && Contains(">= 1"));
  CHECK_THAT(load_error("[data]\npath = d\n[train]\nworkers = 65\n"), Contains("[1, 64]"));
  CHECK_THAT(load_error("[data]\npath = d\n[train]\nlr = 0\n"), Contains("> 0"));
  CHECK_THAT(load_error("[data]\npath = d\n[train]\nmode = slow\n"),
             Contains("train.mode = slow") && Contains("one of {fast, exact}"));
}

TEST_CASE("a missing required key is an error that says how to set it", "[config]") {
  CHECK_THAT(load_error("[train]\nsteps = 3\n"), Contains("missing required key 'data.path'") &&
                                                     Contains("[data]") &&
                                                     Contains("--data.path="));
}

TEST_CASE("custom rules report through the same path", "[config]") {
  Sample c;
  Schema s;
  describe(s, c);
  s.section("extra", "more");
  int64_t batch = 10;
  s.add("batch", &batch, "batch").check([&] {
    return batch % c.workers == 0
               ? std::string()
               : acerl::str("must be a multiple of train.workers (", c.workers, ")");
  });
  auto entries = parse_ini_text("[data]\npath = d\n[extra]\nbatch = 6\n", "r.ini");
  CHECK_THROWS_WITH(s.load(entries), Contains("r.ini:4") && Contains("extra.batch = 6") &&
                                         Contains("multiple of train.workers (4)"));
}

TEST_CASE("resolved text reads back to the same values", "[config]") {
  Sample a;
  Schema sa;
  describe(sa, a);
  auto entries = parse_ini_text(
      "[data]\npath = \"dir with space/x.jsonl\"\n"
      "prompt = \"say \\\"hi\\\" # then\\n\\tstop\"\ntemps = 0.1, 0.30000000000000004\n"
      "[train]\nlr = 3.3e-7\n",
      "a.ini");
  sa.load(entries);
  std::string text = sa.resolved();
  Sample b;
  Schema sb;
  describe(sb, b);
  sb.load(parse_ini_text(text, "resolved"));
  CHECK(b.data == a.data);
  CHECK(b.prompt == "say \"hi\" # then\n\tstop");
  CHECK(b.lr == a.lr);
  CHECK(b.temps.values == a.temps.values);
  CHECK(sb.resolved() == text);
}

TEST_CASE("help lists every key with default, doc and constraint", "[config]") {
  Sample c;
  Schema s;
  describe(s, c);
  std::string help = s.help();
  CHECK_THAT(help, Contains("[train]  training"));
  CHECK_THAT(help, Contains("steps = 100") && Contains("optimizer steps") && Contains(">= 1"));
  CHECK_THAT(help, Contains("workers = 4") && Contains("[1, 64]"));
  CHECK_THAT(help, Contains("mode = fast") && Contains("one of {fast, exact}"));
  CHECK_THAT(help, Contains("path = \"\"") && Contains("required"));
}

TEST_CASE("dynamic sections are handed back untouched", "[config]") {
  Sample c;
  Schema s;
  describe(s, c);
  s.allow_dynamic("stage", "RL stages");
  auto rest = s.load(
      parse_ini_text("[data]\npath = d\n[stage.a]\nlr = 1\n[stage.b]\nsteps = 2\n", "s.ini"));
  REQUIRE(rest.size() == 2);
  CHECK(rest[0].key == "stage.a.lr");
  CHECK(rest[1].origin == "s.ini:6");
}

TEST_CASE("override syntax errors are explained", "[config]") {
  CHECK_THROWS_WITH(parse_override("--train.steps"), Contains("needs '='"));
  CHECK_THROWS_WITH(parse_override("--steps=3"), Contains("not a dotted section.key"));
  CHECK(parse_override("--data.prompt=a # b").value == "a # b");
}

TEST_CASE("every numeric key must be finite; long bad values are cut in the message", "[config]") {
  CHECK_THAT(load_error("[data]\npath = d\n[train]\nlr = inf\n"),
             Contains("train.lr") && Contains("must be a finite number"));
  CHECK_THAT(load_error("[data]\npath = d\n[train]\nlr = nan\n"),
             Contains("must be a finite number"));
  CHECK_THAT(load_error("[data]\npath = d\n[train]\ntemps = 0.6, inf\n"), Contains("train.temps"));
  const std::string huge(1 << 20, '7');
  const std::string message = load_error("[data]\npath = d\n[train]\nmode = " + huge + "\n");
  CHECK_THAT(message, Contains("(1048576 bytes)"));
  CHECK(message.size() < 400);
}

TEST_CASE("rl: temperature_min above temperature_max and a non-finite temperature are refused",
          "[config]") {
  RlConfig rl;
  Schema s;
  describe_rl(s, rl);
  CHECK_THROWS_WITH(
      s.load(parse_ini_text("[rl]\ntemperature_min = 1.5\ntemperature_max = 1.0\n", "rl.ini")),
      Contains("rl.temperature_max") && Contains("must be >= rl.temperature_min (1.5)"));
  RlConfig rl2;
  Schema s2;
  describe_rl(s2, rl2);
  CHECK_THROWS_WITH(s2.load(parse_ini_text("[rl]\ntemperature = inf\n", "rl.ini")),
                    Contains("rl.temperature"));
}

TEST_CASE("a command-line override of a stage keeps the curriculum order of the file", "[config]") {
  RlConfig rl;
  // As the loader hands them over: the command line first and last-first (so the last
  // occurrence wins; here typed as --stage.b.steps=5 --stage.c.data=... --stage.d.data=...),
  // then the file's entries.
  std::vector<ConfigEntry> entries = {{"stage.d.data", "d.jsonl", "command line"},
                                      {"stage.c.data", "c.jsonl", "command line"},
                                      {"stage.b.steps", "5", "command line"}};
  for (const auto& e : parse_ini_text(
           "[stage.a]\ndata = a.jsonl\nsteps = 2\n[stage.b]\ndata = b.jsonl\nsteps = 3\n", "c.ini"))
    entries.push_back(e);
  auto stages = parse_stages(entries, rl, nullptr);
  REQUIRE(stages.size() == 4);
  CHECK(stages[0].name == "a");
  CHECK(stages[1].name == "b");
  CHECK(stages[1].steps == 5);  // the override's value
  CHECK(stages[2].name == "c");  // command-line-only stages follow, in the order typed
  CHECK(stages[3].name == "d");
}
