# Script mode: install BUILD_DIR into WORK_DIR/prefix, then build and run the
# consumer project in SOURCE_DIR against it.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
# The flags and the CAF of the build under test (both empty in a plain one).
set(consumer_args "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
                  "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}")
if(CAF_ROOT)
  list(APPEND consumer_args "-DCAF_ROOT=${CAF_ROOT}")
endif()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
if(NOT EXISTS ${prefix}/lib/cmake/caflens/caflensConfig.cmake)
  message(FATAL_ERROR "caflensConfig.cmake was not installed")
endif()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release
    ${consumer_args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
message(STATUS "consumer said: ${last_output}")
if(NOT last_output MATCHES "consumer: ok")
  message(FATAL_ERROR "consumer did not report ok")
endif()
run(${WORK_DIR}/build/instrumented)
if(NOT last_output MATCHES "instrumented: ok")
  message(FATAL_ERROR "the API-only program did not report ok")
endif()

# COMPONENTS: only the dependencies of what is asked for.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/../consumer_telemetry
    -B ${WORK_DIR}/build-telemetry -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release
    ${consumer_args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build-telemetry)
run(${WORK_DIR}/build-telemetry/instrumented)
if(NOT last_output MATCHES "instrumented: ok")
  message(FATAL_ERROR "the telemetry-only consumer did not report ok")
endif()

# An unknown component is refused by name.
file(MAKE_DIRECTORY ${WORK_DIR}/unknown)
file(WRITE ${WORK_DIR}/unknown/CMakeLists.txt
  "cmake_minimum_required(VERSION 3.22)\n"
  "project(unknown LANGUAGES CXX)\n"
  "find_package(caflens REQUIRED COMPONENTS telemetry dashboard_x)\n")
execute_process(COMMAND ${CMAKE_COMMAND} -S ${WORK_DIR}/unknown
                        -B ${WORK_DIR}/unknown/build
                        -DCMAKE_PREFIX_PATH=${prefix}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "has no component 'dashboard_x'")
  message(FATAL_ERROR "an unknown component was not refused by name:\n${err}")
endif()
