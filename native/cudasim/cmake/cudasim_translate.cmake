# Turns one kernel .cu into the C++ translation unit the simulator compiles (cmake -P script).
#   cmake -DIN=<file.cu> -DOUT=<file.cu.cpp> -P cudasim_translate.cmake
#
# The whole file is wrapped in `namespace cudasim_module_<name> { ... }`: NVRTC compiles every .cu as its
# own module, so two files may both define a `__device__` helper `warp_sum` (possibly differently). In one
# shared library that would be a link error or, for inline functions, a silent ODR violation. extern "C"
# kernels keep their plain names inside the namespace.
#
# Two source-level rewrites, both line-preserving so diagnostics point at the right line of the .cu
# (the source starts after `#line 1 "<IN>"`):
#   1. `extern __shared__ [__align__(n)] T name[];` → `SPECEE_CUDASIM_DYNAMIC_SHARED(T, name);`
#      C++ has no spelling for "an array whose storage is chosen at launch", so the declaration becomes a
#      pointer to the running block's dynamic shared memory.
#   2. Every `extern "C" __global__ [__launch_bounds__(..)] void name(` gets a
#      `SPECEE_CUDASIM_REGISTER_KERNEL(name)` line appended (…_BOUNDED(name, bounds) with launch bounds, which
#      the launch then enforces), so kernels need no simulator boilerplate.
cmake_minimum_required(VERSION 3.20)

file(READ "${IN}" source)

set(ws "[ \t\r\n]")
set(ident "[A-Za-z_][A-Za-z0-9_]*")

# 1. dynamic shared memory declarations
# Matches stop before the `;` (list separator in CMake); the original `;` stays after the replacement.
string(REGEX MATCHALL "extern[ \t]+__shared__[ \t]+[^;{}=\\[]+\\[[ \t]*\\]" shared_decls "${source}")
foreach(decl IN LISTS shared_decls)
  string(REGEX REPLACE "^extern[ \t]+__shared__[ \t]+([^\\[]+)\\[.*$" "\\1" type_and_name "${decl}")
  string(REGEX REPLACE "__align__[ \t]*\\([^)]*\\)" "" type_and_name "${type_and_name}")
  string(STRIP "${type_and_name}" type_and_name)
  string(REGEX MATCH "${ident}$" name "${type_and_name}")
  string(REGEX REPLACE "${ident}$" "" type "${type_and_name}")
  string(STRIP "${type}" type)
  if(name STREQUAL "" OR type STREQUAL "")
    message(FATAL_ERROR "${IN}: cannot parse dynamic shared memory declaration '${decl}'")
  endif()
  string(REPLACE "${decl}" "SPECEE_CUDASIM_DYNAMIC_SHARED(${type}, ${name})" source "${source}")
endforeach()

# 2. kernels to register
set(bounds "(__launch_bounds__${ws}*\\([^)]*\\)${ws}+)?")
string(REGEX MATCHALL "extern${ws}+\"C\"${ws}+__global__${ws}+${bounds}void${ws}+${bounds}${ident}${ws}*\\("
       kernel_decls "${source}")
set(registrations "")
foreach(decl IN LISTS kernel_decls)
  string(REGEX REPLACE ".*${ws}(${ident})${ws}*\\($" "\\1" kernel "${decl}")
  if(decl MATCHES "__launch_bounds__${ws}*\\(([^)]*)\\)")
    string(APPEND registrations "SPECEE_CUDASIM_REGISTER_KERNEL_BOUNDED(${kernel}, ${CMAKE_MATCH_1});\n")
  else()
    string(APPEND registrations "SPECEE_CUDASIM_REGISTER_KERNEL(${kernel});\n")
  endif()
endforeach()

get_filename_component(module_name "${IN}" NAME)
string(MAKE_C_IDENTIFIER "${module_name}" module_id)
set(content "namespace cudasim_module_${module_id} {\n#line 1 \"${IN}\"\n${source}")
if(NOT content MATCHES "\n$")
  string(APPEND content "\n")
endif()
string(APPEND content "// ---- appended by cudasim_translate.cmake ----\n${registrations}}  // namespace\n")

# Always written: an output left older than its inputs would make the build rerun this step every time.
file(WRITE "${OUT}" "${content}")
