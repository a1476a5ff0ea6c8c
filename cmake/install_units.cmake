# The units of systemd/, installed to QSFS_SYSTEMD_UNITDIR. They name the
# installed binaries and docs: /usr/local/bin/ and /usr/share/doc/qsfs-stack/
# in the sources become this install's directories (a package built with
# prefix /usr runs /usr/bin/zdb).
file(GLOB QS_UNITS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/systemd/*.service ${PROJECT_SOURCE_DIR}/systemd/*.target)
foreach(unit ${QS_UNITS})
  get_filename_component(name ${unit} NAME)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${unit})
  file(READ ${unit} text)
  string(REPLACE "/usr/local/bin/" "${CMAKE_INSTALL_FULL_BINDIR}/" text "${text}")
  string(REPLACE "/usr/share/doc/qsfs-stack/" "${CMAKE_INSTALL_FULL_DOCDIR}/" text "${text}")
  file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/systemd/${name} CONTENT "${text}" @ONLY)
  if(name STREQUAL "zdb@.service")
    set(component zdb)
  else()
    set(component qsfs)
  endif()
  install(FILES ${CMAKE_BINARY_DIR}/systemd/${name} DESTINATION ${QSFS_SYSTEMD_UNITDIR} COMPONENT ${component})
endforeach()
