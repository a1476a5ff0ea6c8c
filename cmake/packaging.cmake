# Debian packages with CPack (scripts/package.sh builds them). CPack packs
# exactly what the install rules install, one package per install component
# (cmake/install_dirs.cmake), and dpkg-shlibdeps computes the libraries'
# package dependencies from the binaries.
#
#   qsfs-zdb  zdb, zdb@.service, the system user zdb, the documentation
#             (storage nodes)
#   qsfs      zstor, zstor-hook, qsfs, the staging zdb's, zstor's and qsfs's
#             units, the system user qsfs, /etc/zdb/staging.toml and
#             /etc/qsfs/qsfs.toml (conffiles); depends on qsfs-zdb (the
#             staging zdb) and fuse3
set(QS_DEB_RELEASE 1)
set(QS_DEB_VERSION ${PROJECT_VERSION}-${QS_DEB_RELEASE})
set(QS_DEB_MAINTAINER "qsfs-stack developers <qsfs-stack@users.noreply.github.com>")

# /usr/share/doc/PACKAGE/{copyright,changelog.Debian.gz} in each package.
find_program(GZIP gzip)
set(QS_DEB_DOCS)
foreach(pair "zdb;qsfs-zdb" "qsfs;qsfs")
  list(GET pair 0 component)
  list(GET pair 1 QS_DEB_PACKAGE)
  set(dir ${CMAKE_BINARY_DIR}/packaging/${QS_DEB_PACKAGE})
  configure_file(${PROJECT_SOURCE_DIR}/packaging/changelog.in ${dir}/changelog.Debian @ONLY)
  if(GZIP)
    add_custom_command(OUTPUT ${dir}/changelog.Debian.gz
      COMMAND ${GZIP} -9nkf ${dir}/changelog.Debian
      DEPENDS ${dir}/changelog.Debian
      VERBATIM)
    list(APPEND QS_DEB_DOCS ${dir}/changelog.Debian.gz)
    install(FILES ${PROJECT_SOURCE_DIR}/packaging/copyright ${dir}/changelog.Debian.gz
            DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${QS_DEB_PACKAGE} COMPONENT ${component})
  endif()
endforeach()
add_custom_target(deb_docs ALL DEPENDS ${QS_DEB_DOCS})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME qsfs-stack)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${QS_DEB_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL zdb qsfs)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${QS_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_ZDB_PACKAGE_NAME qsfs-zdb)
set(CPACK_DEBIAN_ZDB_PACKAGE_SECTION database)
set(CPACK_DEBIAN_ZDB_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/postinst ${PROJECT_SOURCE_DIR}/packaging/postrm)
set(CPACK_COMPONENT_ZDB_DESCRIPTION "append-only RESP storage daemon (zdb) of qsfs-stack
zdb is a key-value store served over RESP (the Redis protocol),
command-compatible with ThreeFold's 0-db: namespaces with passwords and
size limits, user and sequential modes, checksummed append-only segments,
hooks, proof of storage and Prometheus metrics.

Install it on every storage node (one zdb@DISK.service per disk). The qsfs
package runs one more zdb as the local staging store. This package also
holds the documentation of the whole stack.")

set(CPACK_DEBIAN_QSFS_PACKAGE_NAME qsfs)
set(CPACK_DEBIAN_QSFS_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_QSFS_PACKAGE_DEPENDS "qsfs-zdb (= ${QS_DEB_VERSION}), fuse3")
# dpkg keeps an operator's edits of a conffile across upgrades; CPack marks
# none by itself.
list(JOIN QS_QSFS_CONFFILES "\n" QS_QSFS_CONFFILES_TEXT)
file(WRITE ${CMAKE_BINARY_DIR}/packaging/qsfs/conffiles "${QS_QSFS_CONFFILES_TEXT}\n")
set(CPACK_DEBIAN_QSFS_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/postinst ${PROJECT_SOURCE_DIR}/packaging/postrm
    ${CMAKE_BINARY_DIR}/packaging/qsfs/conffiles)
set(CPACK_COMPONENT_QSFS_DESCRIPTION "dispersed, self-healing FUSE filesystem (qsfs, zstor)
qsfs mounts a POSIX filesystem whose data a local staging zdb keeps;
zstor compresses (zstd), encrypts (AES-256-GCM) and erasure-codes
(Reed-Solomon 16+4) each closed segment over many zdb storage nodes,
watches them, repairs and scrubs.

Install it on the machine that mounts: it brings zstor, zstor-hook, qsfs,
the units of the staging zdb, zstor and the qsfs mounts, and their
configurations /etc/zdb/staging.toml and /etc/qsfs/qsfs.toml.")

include(CPack)
