# Where `cmake --install` puts what GNUInstallDirs does not cover.
#
# QSFS_SYSTEMD_UNITDIR: systemd's system unit directory as systemd.pc states
# it (/lib/systemd/system on Debian bookworm), else lib/systemd/system under
# the prefix. An absolute path stays absolute whatever the prefix: a package
# built with prefix /usr installs its units where systemd looks for them.
if(NOT DEFINED QSFS_SYSTEMD_UNITDIR)
  pkg_get_variable(QS_PC_SYSTEMD_UNITDIR systemd systemdsystemunitdir)
  if(QS_PC_SYSTEMD_UNITDIR)
    set(QS_DEFAULT_UNITDIR "${QS_PC_SYSTEMD_UNITDIR}")
  else()
    set(QS_DEFAULT_UNITDIR "lib/systemd/system")
  endif()
  set(QSFS_SYSTEMD_UNITDIR "${QS_DEFAULT_UNITDIR}" CACHE PATH "systemd system unit directory")
endif()
# QSFS_SYSUSERSDIR: where systemd-sysusers reads the packages' system users
# (systemd.pc's sysusersdir, /usr/lib/sysusers.d on bookworm).
if(NOT DEFINED QSFS_SYSUSERSDIR)
  pkg_get_variable(QS_PC_SYSUSERSDIR systemd sysusersdir)
  if(NOT QS_PC_SYSUSERSDIR)
    set(QS_PC_SYSUSERSDIR "${CMAKE_INSTALL_LIBDIR}/sysusers.d")
  endif()
  set(QSFS_SYSUSERSDIR "${QS_PC_SYSUSERSDIR}" CACHE PATH "systemd sysusers.d directory")
endif()
# QSFS_SYSCONFDIR: the configurations the units read (/etc/zdb/staging.toml,
# /etc/qsfs/qsfs.toml). The units name /etc, so it is /etc whatever the
# prefix (GNUInstallDirs would give /usr/local/etc under /usr/local).
set(QSFS_SYSCONFDIR "/etc" CACHE PATH "configuration directory the units read")
# Examples of every configuration file, next to the docs.
set(QSFS_EXAMPLES_DIR "${CMAKE_INSTALL_DOCDIR}/examples")

# Install components, one per Debian package (cmake/packaging.cmake):
#   zdb   the storage daemon, its unit, its man pages and the documentation
#   qsfs  what the machine that mounts runs: zstor, zstor-hook, qsfs, the
#         staging zdb's, zstor's and qsfs's units (and depends on zdb)
