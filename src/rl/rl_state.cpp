// The RL run state and its checkpoint form; see rl_state.h.
#include "rl/rl_state.h"

#include "runtime/error.h"

namespace acerl::rl {

json::Value RlState::to_json() const {
  const bool mid_stage = stage_step > 0;
  json::Value state;
  state.set("phase", "rl");
  state.set("stage", static_cast<int64_t>(stage));
  state.set("stage_step", stage_step);
  state.set("epoch", mid_stage ? epoch : int64_t(0));
  state.set("cursor", mid_stage ? cursor : int64_t(0));
  state.set("stage_prompts", mid_stage ? stage_prompts : int64_t(0));
  state.set("temperature", temperature);
  state.set("controller_started", controller_started);
  json::Value easy_list = json::Array{}, solved_list = json::Array{};
  if (mid_stage) {
    for (const auto& id : easy) easy_list.push_back(id);
    for (const auto& id : solved) solved_list.push_back(id);
  }
  state.set("easy", easy_list);
  state.set("solved", solved_list);
  return state;
}

RlState RlState::from_json(const json::Value& s, int64_t global_step, const std::string& source) {
  auto need = [&](const char* key) -> const json::Value& {
    ACERL_USAGE_CHECK(s.find(key) != nullptr, "checkpoint ", source, ": its RL state has no '",
                      key, "'");
    return s.at(key);
  };
  RlState out;
  out.global_step = global_step;
  out.stage = static_cast<size_t>(need("stage").as_int());
  out.stage_step = need("stage_step").as_int();
  if (out.stage_step > 0) {
    out.epoch = need("epoch").as_int();
    out.cursor = need("cursor").as_int();
    out.stage_prompts = s.find("stage_prompts") ? s.at("stage_prompts").as_int() : 0;
    for (const auto& id : need("easy").as_array()) out.easy.insert(id.as_string());
    for (const auto& id : need("solved").as_array()) out.solved.insert(id.as_string());
  }
  out.temperature = need("temperature").as_number();
  out.controller_started = need("controller_started").as_bool();
  return out;
}

}  // namespace acerl::rl
