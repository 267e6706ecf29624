# FindCAF: the C++ Actor Framework as Debian's libcaf-dev 0.17.6 ships it
# (headers and libraries, no CMake config and no pkg-config file).
#
# Components: core (always), io, openssl. Imported targets use the names that
# CAF 0.18+ exports itself, so an upgrade changes nothing for users:
#   CAF::core  CAF::io  CAF::openssl
# Result variables: CAF_FOUND, CAF_VERSION, CAF_INCLUDE_DIR.
include(FindPackageHandleStandardArgs)
find_package(Threads REQUIRED)

find_path(CAF_INCLUDE_DIR NAMES caf/all.hpp HINTS ${CAF_ROOT}/include)
if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" caf_version_line
       REGEX "^#define CAF_VERSION [0-9]+")
  string(REGEX REPLACE "^#define CAF_VERSION ([0-9]+).*" "\\1" caf_v
         "${caf_version_line}")
  if(caf_v)
    math(EXPR caf_major "${caf_v} / 10000")
    math(EXPR caf_minor "(${caf_v} / 100) % 100")
    math(EXPR caf_patch "${caf_v} % 100")
    set(CAF_VERSION "${caf_major}.${caf_minor}.${caf_patch}")
  endif()
endif()

set(caf_required_vars CAF_INCLUDE_DIR)
set(caf_all_components core ${CAF_FIND_COMPONENTS})
list(REMOVE_DUPLICATES caf_all_components)
foreach(comp IN LISTS caf_all_components)
  find_library(CAF_${comp}_LIBRARY NAMES caf_${comp} HINTS ${CAF_ROOT}/lib)
  if(CAF_${comp}_LIBRARY)
    set(CAF_${comp}_FOUND TRUE)
  endif()
  if(CAF_FIND_REQUIRED_${comp} OR comp STREQUAL "core")
    list(APPEND caf_required_vars CAF_${comp}_LIBRARY)
  endif()
endforeach()

find_package_handle_standard_args(CAF
  REQUIRED_VARS ${caf_required_vars}
  VERSION_VAR CAF_VERSION
  HANDLE_COMPONENTS)

if(CAF_FOUND)
  foreach(comp IN LISTS caf_all_components)
    if(CAF_${comp}_FOUND AND NOT TARGET CAF::${comp})
      add_library(CAF::${comp} UNKNOWN IMPORTED)
      set_target_properties(CAF::${comp} PROPERTIES
        IMPORTED_LOCATION "${CAF_${comp}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}")
      if(comp STREQUAL "core")
        target_link_libraries(CAF::core INTERFACE Threads::Threads)
      else()
        target_link_libraries(CAF::${comp} INTERFACE CAF::core)
      endif()
    endif()
  endforeach()
  if(TARGET CAF::openssl AND TARGET CAF::io)
    target_link_libraries(CAF::openssl INTERFACE CAF::io)
  endif()
endif()
mark_as_advanced(CAF_INCLUDE_DIR)
