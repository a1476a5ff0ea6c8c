# Writes the version header: cmake -DSOURCE_DIR= -DINPUT= -DOUTPUT= -DVERSION=
# -P version_header.cmake. Run at every build; the header is rewritten only
# when the revision changed, so an unchanged tree rebuilds nothing.
set(QS_VERSION "${VERSION}")
set(QS_GIT_REVISION "unknown")
find_program(GIT_EXECUTABLE git)
if(GIT_EXECUTABLE AND EXISTS "${SOURCE_DIR}/.git")
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                  OUTPUT_VARIABLE rev RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(rc EQUAL 0 AND rev)
    set(QS_GIT_REVISION "${rev}")
    # GIT_OPTIONAL_LOCKS=0: a build never writes to the repository's index.
    set(ENV{GIT_OPTIONAL_LOCKS} 0)
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" status --porcelain --untracked-files=no
                    OUTPUT_VARIABLE changes RESULT_VARIABLE rc ERROR_QUIET)
    if(rc EQUAL 0 AND NOT changes STREQUAL "")
      string(APPEND QS_GIT_REVISION "-dirty")
    endif()
  endif()
endif()
configure_file("${INPUT}" "${OUTPUT}" @ONLY)
