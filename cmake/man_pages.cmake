# Man pages, made at build time into BUILD_DIR/man and installed.
if(NOT QSFS_MAN_PAGES)
  return()
endif()
find_program(HELP2MAN help2man)
find_program(GZIP gzip)
if(NOT HELP2MAN OR NOT GZIP)
  message(WARNING "help2man or gzip not found: no man pages (scripts/install-deps.sh installs them)")
  return()
endif()

# Section 8, one per daemon: help2man turns the binary's own --help (and its
# --version) into the page, so the page cannot drift from --help. The text
# help2man cannot know (description, files, see also) is in
# packaging/man/NAME.h2m.
set(QS_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(QS_MAN_PAGES)
function(qs_daemon_man_page target name summary component)
  set(page ${QS_MAN_DIR}/${name}.8)
  set(include ${PROJECT_SOURCE_DIR}/packaging/man/${name}.h2m)
  add_custom_command(OUTPUT ${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${QS_MAN_DIR}
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0
            ${HELP2MAN} --no-info --section=8 --name=${summary} --include=${include}
            --version-string=${PROJECT_VERSION} --output=${page} $<TARGET_FILE:${target}>
    COMMAND ${GZIP} -9nf ${page}
    DEPENDS ${target} ${include}
    COMMENT "Man page ${name}(8)"
    VERBATIM)
  set(QS_MAN_PAGES ${QS_MAN_PAGES} ${page}.gz PARENT_SCOPE)
  install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT ${component})
endfunction()
qs_daemon_man_page(zdb zdb "append-only RESP storage server, compatible with 0-db" zdb)
qs_daemon_man_page(zstor zstor "dispersed, encrypted object storage over zdb backends" qsfs)
qs_daemon_man_page(qsfs qsfs "FUSE filesystem on a zdb" qsfs)

# Section 5, one per configuration file: the commented example in config/
# is the reference (every key, its meaning, its default), set in a page.
function(qs_config_man_page name example summary daemon component)
  set(page ${QS_MAN_DIR}/${name}.5)
  add_custom_command(OUTPUT ${page}.gz
    COMMAND ${CMAKE_COMMAND} -DINPUT=${PROJECT_SOURCE_DIR}/config/${example} -DOUTPUT=${page}
            -DNAME=${name} -DSUMMARY=${summary} -DDAEMON=${daemon} -DVERSION=${PROJECT_VERSION}
            -DEXAMPLES=${CMAKE_INSTALL_FULL_DOCDIR}/examples
            -P ${PROJECT_SOURCE_DIR}/cmake/config_man_page.cmake
    COMMAND ${GZIP} -9nf ${page}
    DEPENDS ${PROJECT_SOURCE_DIR}/config/${example} ${PROJECT_SOURCE_DIR}/cmake/config_man_page.cmake
    COMMENT "Man page ${name}(5)"
    VERBATIM)
  set(QS_MAN_PAGES ${QS_MAN_PAGES} ${page}.gz PARENT_SCOPE)
  install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5 COMPONENT ${component})
endfunction()
qs_config_man_page(zdb.toml zdb.toml "zdb configuration file" zdb zdb)
qs_config_man_page(zstor.toml zstor.toml "zstor configuration file" zstor qsfs)
qs_config_man_page(qsfs.toml qsfs.toml "qsfs configuration file" qsfs qsfs)

# zstor-hook is zstor under another name: its page is zstor's.
file(WRITE ${QS_MAN_DIR}/zstor-hook.8 ".so man8/zstor.8\n")
add_custom_command(OUTPUT ${QS_MAN_DIR}/zstor-hook.8.gz
  COMMAND ${GZIP} -9nkf ${QS_MAN_DIR}/zstor-hook.8
  DEPENDS ${QS_MAN_DIR}/zstor-hook.8
  VERBATIM)
list(APPEND QS_MAN_PAGES ${QS_MAN_DIR}/zstor-hook.8.gz)
install(FILES ${QS_MAN_DIR}/zstor-hook.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT qsfs)

add_custom_target(man_pages ALL DEPENDS ${QS_MAN_PAGES})
