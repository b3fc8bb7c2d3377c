# Writes OUTPUT, a header defining MG_COMMIT: the commit the source tree is at when the build runs (with
# -dirty for local changes), for --version. Run by the build every time (`cmake -DSOURCE_DIR=...
# -DOUTPUT=... -P build_commit.cmake`); the file is rewritten only when the commit changed, so only
# common/version.cpp recompiles, and only then.
execute_process(COMMAND git -C ${SOURCE_DIR} describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT commit)
  set(commit unknown)
endif()
set(text "#define MG_COMMIT \"${commit}\"\n")
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} old)
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUTPUT} "${text}")
endif()
