# Warnings and sanitizer flags shared by every acerl target.
function(acerl_target_defaults target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra>)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  # The torch wheel's libtorch.so exports its own copies of std::filesystem (built by a newer
  # GCC). The dynamic linker binds to the first definition in load order, so libstdc++ must be
  # the first DT_NEEDED entry, ahead of libtorch; otherwise std::filesystem calls crash.
  target_link_options(${target} PRIVATE "LINKER:--push-state,--no-as-needed,-lstdc++,--pop-state")
  if(ACERL_SANITIZE)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize=vptr>)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
