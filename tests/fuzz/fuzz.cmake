# libFuzzer targets for the HTTP/1 parsers and the HTTP/2 session layer, included from the root CMakeLists.txt.
#
# The main build is g++; libFuzzer needs clang. So the fuzz targets are a separate small CMake project
# (tests/fuzz/CMakeLists.txt) configured with clang++ through ExternalProject, and the main build only
# registers CTest tests that run them: fuzz.<target> replays the checked-in corpus, then fuzzes for a
# bounded time on a scratch copy of it (the source tree is never written; scripts/fuzz.sh is the tool
# that grows the corpus).

find_program(MG_FUZZ_CLANGXX NAMES clang++ clang++-16 clang++-15 clang++-14)
if(NOT MG_FUZZ_CLANGXX)
  message(STATUS "fuzz: clang++ not found, libFuzzer targets skipped (scripts/deps.sh installs clang)")
  return()
endif()

include(ExternalProject)
set(MG_FUZZ_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR})
set(MG_FUZZ_BINARY_DIR ${CMAKE_BINARY_DIR}/fuzz)
set(MG_FUZZ_TARGETS request_parser_fuzz response_parser_fuzz chunked_decoder_fuzz http2_session_fuzz
    websocket_frame_fuzz h2_client_codec_fuzz trace_context_fuzz client_hello_fuzz)
set(MG_FUZZ_SECONDS 15 CACHE STRING "Seconds each fuzz.<target> CTest test fuzzes after the replay")

ExternalProject_Add(mirrorgate_fuzz
  SOURCE_DIR ${MG_FUZZ_SOURCE_DIR}
  BINARY_DIR ${MG_FUZZ_BINARY_DIR}
  CMAKE_ARGS -DCMAKE_CXX_COMPILER=${MG_FUZZ_CLANGXX} -DCMAKE_BUILD_TYPE=RelWithDebInfo
  BUILD_ALWAYS TRUE  # the parser sources live outside the sub-project: let its own build decide
  INSTALL_COMMAND ""
  BUILD_BYPRODUCTS ${MG_FUZZ_BINARY_DIR}/request_parser_fuzz ${MG_FUZZ_BINARY_DIR}/response_parser_fuzz
                   ${MG_FUZZ_BINARY_DIR}/chunked_decoder_fuzz ${MG_FUZZ_BINARY_DIR}/http2_session_fuzz
                   ${MG_FUZZ_BINARY_DIR}/websocket_frame_fuzz ${MG_FUZZ_BINARY_DIR}/h2_client_codec_fuzz
                   ${MG_FUZZ_BINARY_DIR}/trace_context_fuzz ${MG_FUZZ_BINARY_DIR}/client_hello_fuzz)

foreach(target ${MG_FUZZ_TARGETS})
  set(corpus ${MG_FUZZ_SOURCE_DIR}/corpus/${target})
  set(scratch ${MG_FUZZ_BINARY_DIR}/scratch/${target})
  # Replay every seed, then fuzz on a scratch copy so new entries never land in the source tree.
  add_test(NAME fuzz.${target}
    COMMAND sh -c "set -e; \"$0\" -dict=\"$1\" \"$2\"/*; rm -rf \"$3\"; mkdir -p \"$3\"; cp \"$2\"/* \"$3\"/; \
exec \"$0\" -dict=\"$1\" -max_total_time=${MG_FUZZ_SECONDS} -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
-artifact_prefix=\"$3\"/../ \"$3\""
            ${MG_FUZZ_BINARY_DIR}/${target} ${MG_FUZZ_SOURCE_DIR}/http.dict ${corpus} ${scratch})
  set_tests_properties(fuzz.${target} PROPERTIES LABELS "fuzz" TIMEOUT 120)
endforeach()
