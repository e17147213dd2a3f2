# cudasim_add_kernel_library(<target> OUTPUT_NAME <name> SOURCES <file.cu>...)
#
# A shared library = the simulator runtime + the given kernels compiled as C++ (-DSPECEE_CUDASIM).
# Each .cu goes through cudasim_translate.cmake first (dynamic shared memory, kernel registration).
set(CUDASIM_DIR "${CMAKE_CURRENT_LIST_DIR}/.." CACHE INTERNAL "")

function(cudasim_add_kernel_library target)
  cmake_parse_arguments(ARG "" "OUTPUT_NAME" "SOURCES" ${ARGN})
  set(generated_dir "${CMAKE_CURRENT_BINARY_DIR}/${target}_kernels")
  set(generated "")
  set(kernel_dirs "")
  foreach(cu IN LISTS ARG_SOURCES)
    get_filename_component(cu "${cu}" ABSOLUTE)
    file(RELATIVE_PATH rel "${PROJECT_SOURCE_DIR}" "${cu}")
    string(REGEX REPLACE "[/\\\\:]" "_" flat "${rel}")
    set(out "${generated_dir}/${flat}.cpp")
    add_custom_command(
      OUTPUT "${out}"
      COMMAND "${CMAKE_COMMAND}" -DIN=${cu} -DOUT=${out} -P "${CUDASIM_DIR}/cmake/cudasim_translate.cmake"
      DEPENDS "${cu}" "${CUDASIM_DIR}/cmake/cudasim_translate.cmake"
      COMMENT "cudasim: translating ${rel}"
      VERBATIM)
    list(APPEND generated "${out}")
    get_filename_component(dir "${cu}" DIRECTORY)
    list(APPEND kernel_dirs "${dir}")
  endforeach()
  list(REMOVE_DUPLICATES kernel_dirs)

  add_library(${target} SHARED $<TARGET_OBJECTS:specee_cudasim_runtime> ${generated})
  if(ARG_OUTPUT_NAME)
    set_target_properties(${target} PROPERTIES OUTPUT_NAME "${ARG_OUTPUT_NAME}")
  endif()
  set_target_properties(${target} PROPERTIES
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  # The simulator's specee_prelude.cuh must win over any file of that name next to the kernels.
  target_include_directories(${target} PRIVATE "${CUDASIM_DIR}" "${CUDASIM_DIR}/include" ${kernel_dirs})
  target_compile_definitions(${target} PRIVATE SPECEE_CUDASIM=1)
  set_source_files_properties(${generated} PROPERTIES
    COMPILE_OPTIONS "-include;${CUDASIM_DIR}/cudasim.h")
  target_link_libraries(${target} PRIVATE Threads::Threads)
  # Self-contained for P/Invoke: no dependency on the host's libstdc++ version; the version script keeps
  # the statically linked C++ runtime private.
  target_link_options(${target} PRIVATE "-Wl,--version-script=${CUDASIM_DIR}/cmake/exports.map"
                      -static-libstdc++ -static-libgcc -Wl,--no-undefined)
  set_target_properties(${target} PROPERTIES LINK_DEPENDS "${CUDASIM_DIR}/cmake/exports.map")
endfunction()
