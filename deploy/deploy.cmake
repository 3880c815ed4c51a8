# deploy/deploy.cmake: systemd units and the example config. include() it from the top-level
# CMakeLists.txt after enable_testing() (its tests are registered only when testing is on):
#
#   include(deploy/deploy.cmake)
#
# Produces
#   ${CMAKE_BINARY_DIR}/deploy/clawgate.service       the unit to install (ExecStart in the install bindir)
#   ${CMAKE_BINARY_DIR}/deploy-test/clawgate.service  a copy whose ExecStart is the build's own binary,
#   ${CMAKE_BINARY_DIR}/deploy-test/clawgate.socket   so `systemd-analyze verify` can check it in the build
# and the CTest tests deploy.verify and deploy.security (tests/deploy/verify_units.sh).
# The binaries themselves are installed by the top-level install(TARGETS).
include_guard(GLOBAL)
include(GNUInstallDirs)

set(CLAWGATE_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "Where to install clawgate.service and clawgate.socket (relative to the prefix, or absolute)")

set(_clawgate_deploy_src "${CMAKE_CURRENT_LIST_DIR}")
cmake_path(GET _clawgate_deploy_src PARENT_PATH _clawgate_source_root)

# The unit that gets installed.
set(CLAWGATE_BINDIR "${CMAKE_INSTALL_FULL_BINDIR}")
set(CLAWGATE_EXAMPLE_CONFIG "${CMAKE_INSTALL_FULL_SYSCONFDIR}/clawgate/clawgate.json.example")
configure_file("${_clawgate_deploy_src}/clawgate.service.in"
               "${CMAKE_BINARY_DIR}/deploy/clawgate.service" @ONLY)

# The test copy: same unit, pointing at the binaries built in this tree.
set(CLAWGATE_BINDIR "${CMAKE_BINARY_DIR}/bin")
set(CLAWGATE_EXAMPLE_CONFIG "${_clawgate_deploy_src}/clawgate.json.example")
configure_file("${_clawgate_deploy_src}/clawgate.service.in"
               "${CMAKE_BINARY_DIR}/deploy-test/clawgate.service" @ONLY)
configure_file("${_clawgate_deploy_src}/clawgate.socket"
               "${CMAKE_BINARY_DIR}/deploy-test/clawgate.socket" COPYONLY)
unset(CLAWGATE_BINDIR)
unset(CLAWGATE_EXAMPLE_CONFIG)

install(FILES "${CMAKE_BINARY_DIR}/deploy/clawgate.service" "${_clawgate_deploy_src}/clawgate.socket"
        DESTINATION "${CLAWGATE_SYSTEMD_UNITDIR}")
# FULL_SYSCONFDIR: /etc for prefix /usr, <prefix>/etc otherwise (GNUInstallDirs' special cases).
install(FILES "${_clawgate_deploy_src}/clawgate.json.example"
        DESTINATION "${CMAKE_INSTALL_FULL_SYSCONFDIR}/clawgate")

# verify: `systemd-analyze verify` is silent (needs ${CMAKE_BINARY_DIR}/bin/clawgate to exist, i.e.
# a build). security: `systemd-analyze security --offline=yes` exposure <= 2.0. Exit 77 = skipped
# (no systemd-analyze on this machine); under CI=true that is a failure instead.
set(_clawgate_verify_units "${_clawgate_source_root}/tests/deploy/verify_units.sh")
add_test(NAME deploy.verify
         COMMAND "${_clawgate_verify_units}" "${CMAKE_BINARY_DIR}/deploy-test" verify)
add_test(NAME deploy.security
         COMMAND "${_clawgate_verify_units}" "${CMAKE_BINARY_DIR}/deploy-test" security)
set_tests_properties(deploy.verify deploy.security PROPERTIES
                     SKIP_RETURN_CODE 77 TIMEOUT 60 LABELS deploy)
