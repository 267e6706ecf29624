# Script mode: install BUILD_DIR into WORK_DIR/prefix, then build and run the
# consumer project in SOURCE_DIR against it.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

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
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
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
