# Differential test: runs every scenario against Erlang/OTP (one escript
# invocation for all, in parallel) and against caflens, then compares.
#   cmake -DESCRIPT=escript -DDRIVER=otp_driver.escript -DRUNNER=<runner>
#         -DSCENARIO_DIR=<dir> -DOUT=<dir> -P run_differential.cmake
file(GLOB files "${SCENARIO_DIR}/*.scn")
list(SORT files)
list(LENGTH files count)
if(count EQUAL 0)
  message(FATAL_ERROR "no scenarios in ${SCENARIO_DIR}")
endif()
file(REMOVE_RECURSE "${OUT}")
file(MAKE_DIRECTORY "${OUT}")
execute_process(COMMAND "${ESCRIPT}" "${DRIVER}" "${OUT}" ${files}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "otp_driver.escript failed (${rc})")
endif()
execute_process(COMMAND "${RUNNER}" --expected "${OUT}" ${files}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "caflens and OTP traces differ")
endif()
