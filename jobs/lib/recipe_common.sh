# Shared by jobs/slurm/recipe.sh and jobs/pbs/recipe.sh (sourced): reads a recipe file and says
# what each stage of the chain runs. See jobs/recipe.example.env for the keys.

recipe_die() { echo "recipe: $*" >&2; exit 2; }

# recipe_load FILE: sets RUN_DIR, the *_CONFIG / *_DATA keys, *_ARGS_ARRAY, RL_STAGES, CHAIN.
recipe_load() {
  local file="$1"
  [ -f "$file" ] || recipe_die "$file: no such recipe file (start from jobs/recipe.example.env)"
  RUN_DIR="" CONFIG="" SFT_CONFIG="" TUNE_CONFIG="" RL_CONFIG="" EVAL_CONFIG=""
  SFT_DATA="" TUNE_DATA="" RL_DATA="" EVAL_FILES="" RL_TEMPERATURE="tuned"
  SFT_ARGS="" TUNE_ARGS="" RL_ARGS="" EVAL_ARGS=""
  # shellcheck disable=SC1090
  . "$file" || recipe_die "$file: not valid shell syntax"
  [ -n "$RUN_DIR" ] || recipe_die "$file: RUN_DIR is not set (the directory every stage writes under)"
  : "${SFT_CONFIG:=$CONFIG}" "${TUNE_CONFIG:=$CONFIG}" "${RL_CONFIG:=$CONFIG}" "${EVAL_CONFIG:=$CONFIG}"
  local key
  for key in SFT_CONFIG TUNE_CONFIG RL_CONFIG EVAL_CONFIG; do
    [ -n "${!key}" ] || recipe_die "$file: $key is not set (nor CONFIG, its default)"
    [ -f "${!key}" ] || recipe_die "$file: $key = ${!key}: no such file"
  done
  case "$RL_TEMPERATURE" in tuned | config) ;;
    *) recipe_die "$file: RL_TEMPERATURE = $RL_TEMPERATURE (valid: tuned, config)" ;;
  esac
  # Extra acerl arguments, with shell quoting (they are the user's own).
  eval "SFT_ARGS_ARRAY=($SFT_ARGS)" && eval "TUNE_ARGS_ARRAY=($TUNE_ARGS)" &&
    eval "RL_ARGS_ARRAY=($RL_ARGS)" && eval "EVAL_ARGS_ARRAY=($EVAL_ARGS)" ||
    recipe_die "$file: *_ARGS must be shell words"
  mkdir -p "$RUN_DIR"
  RUN_DIR="$(cd "$RUN_DIR" && pwd)"
  CHAIN="$RUN_DIR/chain"
  mkdir -p "$CHAIN"
  # One job per [stage.NAME] section of the RL config, in file order; "main" when it has none.
  mapfile -t RL_STAGES < <(sed -n 's/^[[:space:]]*\[stage\.\([^]]*\)\][[:space:]]*\(#.*\)\{0,1\}$/\1/p' "$RL_CONFIG")
  [ ${#RL_STAGES[@]} -gt 0 ] || RL_STAGES=(main)
}

# recipe_stage_env STAGE: the ACERL_* variables the stage's job needs, as ",KEY=VALUE" pairs.
recipe_stage_env() {
  case "$1" in
    tune) echo ",ACERL_MODEL_FROM=$RUN_DIR/sft" ;;
    rl-*)
      local env=",ACERL_MODEL_FROM=$RUN_DIR/sft"
      [ "$RL_TEMPERATURE" = config ] || env+=",ACERL_TEMPERATURE_FROM=$RUN_DIR/tune/tune_temperature.json"
      echo "$env"
      ;;
    eval) echo ",ACERL_MODEL_FROM=$RUN_DIR/rl" ;;
    *) echo "" ;;
  esac
}
