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

# The system users the units run as (packaging/sysusers/PACKAGE.conf; the
# packages' postinst runs systemd-sysusers on it): zdb with the zdb
# component, qsfs with the qsfs component.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/sysusers/qsfs-zdb.conf DESTINATION ${QSFS_SYSUSERSDIR} COMPONENT zdb)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/sysusers/qsfs.conf DESTINATION ${QSFS_SYSUSERSDIR} COMPONENT qsfs)

# The configurations that work as they are with the units (no secret in
# them): the staging zdb's and the qsfs mounts' default. In the package
# they are conffiles (cmake/packaging.cmake), so an operator's edits
# survive upgrades. Storage nodes get theirs from `zdb --write-config`,
# zstor its own from `zstor init`.
install(FILES ${PROJECT_SOURCE_DIR}/config/zdb-staging.toml DESTINATION ${QSFS_SYSCONFDIR}/zdb
        RENAME staging.toml COMPONENT qsfs)
install(FILES ${PROJECT_SOURCE_DIR}/config/qsfs.toml DESTINATION ${QSFS_SYSCONFDIR}/qsfs COMPONENT qsfs)
set(QS_QSFS_CONFFILES ${QSFS_SYSCONFDIR}/zdb/staging.toml ${QSFS_SYSCONFDIR}/qsfs/qsfs.toml)
